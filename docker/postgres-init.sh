#!/usr/bin/env bash
# First start of the postgres service: separate databases for Airflow's metadata and the
# warehouse, and the read-only role BI tools use. Passwords come from .env.
set -euo pipefail
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres <<SQL
create role airflow login password '${AIRFLOW_DB_PASSWORD}';
create database airflow owner airflow;
create role cxloop login password '${CXLOOP_DB_PASSWORD}';
create database cxloop owner cxloop;
create role cxloop_bi login password '${CXLOOP_BI_PASSWORD}';
grant connect on database cxloop to cxloop_bi;
SQL
