"""Closing the loop: a follow-up, where the team works, for every alert that needs one.

The room reads the marts (marts.cx_alerts and the customer's identities) after the nightly
build, and writes two places: the help desk (a ticket per alert) and its own outbox
(`followups.outbox`, migration 0008), which dbt reads back as a source. It is an outbox, so a
rerun, a retry or a backfill never creates a follow-up twice: the intent is recorded first, each
creation is preceded by a lookup of the follow-up's external id, and the created id is recorded
in the same transaction as the intent's state.
"""
