-- The closed loop's outbox (issue #18): one row per alert that should get a follow-up where the
-- team works (a help-desk ticket). The follow-up step decides the rows from marts.cx_alerts,
-- then creates each follow-up once, looked up by its external id first, and records the
-- created id here in the same transaction as the row's state. A rerun or a backfill finds the
-- row done and creates nothing.
create schema if not exists followups;
create table if not exists followups.outbox (
    alert_id        text        primary key,
    customer_id     text        not null,
    reason          text        not null,
    target          text        not null check (target in ('zendesk_ticket')),
    external_id     text        not null unique,
    state           text        not null check (state in ('pending', 'created', 'dry_run', 'failed')),
    subject         text        not null,
    body            text        not null,
    requester_id    bigint,
    requester_email text,
    requester_name  text,
    -- The follow-up SLA the intent was decided under: business minutes from the alert to the
    -- follow-up's solve, counted in this help-desk schedule (null: the account's first schedule).
    sla_business_minutes integer  not null check (sla_business_minutes > 0),
    schedule_id     bigint,
    remote_id       text,
    decided_at      timestamptz not null default now(),
    created_at      timestamptz,
    attempts        integer     not null default 0,
    last_error      text,
    updated_at      timestamptz not null default now()
);
create index if not exists outbox__state on followups.outbox (state) where state in ('pending', 'failed');
