#!/usr/bin/env bash
# One-shot, before any Airflow component starts: migrate the metadata DB, create the per-source
# pools (the DAG's extract tasks wait on them) and give the UI's admin the password from .env.
set -euo pipefail
airflow db migrate
airflow pools import /opt/cxloop/dags/pools.json
# The simple auth manager reads {user: password} from this file; without it, it would invent a
# password and print it only in the api-server's log.
python - <<'PY'
import json, os
path = os.environ["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE"]
with open(path, "w") as out:
    json.dump({"admin": os.environ["AIRFLOW_ADMIN_PASSWORD"]}, out)
PY
