"""docker-compose.yml is checked by parsing it: there is no Docker engine where tests run."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES = COMPOSE["services"]
AIRFLOW_SERVICES = {"airflow-init", "airflow-apiserver", "airflow-scheduler", "airflow-dag-processor",
                    "airflow-triggerer"}


def test_the_default_stack_is_postgres_airflow_and_metabase():
    default = {name for name, svc in SERVICES.items() if "profiles" not in svc}
    assert default == {"postgres", "metabase", "metabase-setup"} | AIRFLOW_SERVICES


def test_celery_and_demo_are_opt_in_profiles():
    profiles = {name: svc.get("profiles") for name, svc in SERVICES.items() if "profiles" in svc}
    assert profiles == {"redis": ["celery"], "airflow-worker": ["celery"], "flower": ["celery"],
                        "simulators": ["demo"]}
    assert SERVICES["airflow-worker"]["environment"]["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
    default_executor = SERVICES["airflow-scheduler"]["environment"]["AIRFLOW__CORE__EXECUTOR"]
    assert default_executor == "${AIRFLOW_EXECUTOR:-LocalExecutor}"


one_shot = {name for name, svc in SERVICES.items() if svc.get("restart") == "no"}


def test_the_one_shot_services_are_the_airflow_and_metabase_setups():
    assert one_shot == {"airflow-init", "metabase-setup"}


@pytest.mark.parametrize("name", sorted(set(SERVICES) - one_shot))
def test_every_long_running_service_has_a_healthcheck(name):
    assert SERVICES[name]["healthcheck"]["test"]


@pytest.mark.parametrize("name", sorted(AIRFLOW_SERVICES | {"metabase"}))
def test_services_wait_for_a_healthy_postgres(name):
    assert SERVICES[name]["depends_on"]["postgres"]["condition"] == "service_healthy"


def test_airflow_components_start_after_the_database_is_migrated():
    for name in AIRFLOW_SERVICES - {"airflow-init"}:
        assert SERVICES[name]["depends_on"]["airflow-init"]["condition"] == "service_completed_successfully"


def test_named_volumes_are_declared_and_mounted_files_exist():
    declared = set(COMPOSE["volumes"])
    for name, svc in SERVICES.items():
        for volume in svc.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("."):
                assert (ROOT / source).exists(), f"{name} mounts missing {source}"
            else:
                assert source in declared, f"{name} uses undeclared volume {source}"
    assert (ROOT / "Dockerfile").exists()


def test_every_required_secret_is_in_env_example():
    required = set(re.findall(r"\$\{(\w+):\?", (ROOT / "docker-compose.yml").read_text()))
    example = {line.split("=")[0] for line in (ROOT / ".env.example").read_text().splitlines()
               if line and not line.startswith("#")}
    assert required and required <= example
    assert not (ROOT / ".env").exists() or ".env" in (ROOT / ".gitignore").read_text().split()


def test_the_metadata_db_and_the_warehouse_are_separate_databases():
    airflow_db = SERVICES["airflow-scheduler"]["environment"]["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]
    assert airflow_db.endswith("@postgres:5432/airflow")
    init = (ROOT / "docker" / "postgres-init.sh").read_text()
    assert "create database airflow" in init and "create database cxloop" in init
    assert "create role cxloop_bi" in init


def test_airflow_init_migrates_imports_the_pools_and_sets_the_admin_password():
    init = SERVICES["airflow-init"]
    script = next(v.split(":")[0] for v in init["volumes"] if v.endswith("airflow-init.sh:ro"))
    text = (ROOT / script).read_text()
    assert "airflow db migrate" in text
    assert "airflow pools import /opt/cxloop/dags/pools.json" in text
    assert (ROOT / "dags" / "pools.json").exists()  # baked into the image with dags/
    passwords = init["environment"]["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE"]
    assert passwords.startswith("/opt/airflow/auth/")
    assert "airflow-auth:/opt/airflow/auth" in SERVICES["airflow-apiserver"]["volumes"]


def test_the_scheduler_healthcheck_port_is_switched_on():
    scheduler = SERVICES["airflow-scheduler"]
    assert scheduler["environment"]["AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK"] == "True"
    assert "8974/health" in " ".join(scheduler["healthcheck"]["test"])


def test_metabase_is_set_up_to_read_the_warehouse_as_cxloop_bi_after_it_is_healthy():
    setup = SERVICES["metabase-setup"]
    assert setup["depends_on"]["metabase"]["condition"] == "service_healthy"
    script = (ROOT / "docker" / "metabase_setup.py").read_text()
    assert '"user": "cxloop_bi"' in script and '"dbname": "cxloop"' in script
    assert "CXLOOP_BI_PASSWORD" in setup["environment"]


def test_the_simulators_are_a_separate_image_and_stay_out_of_the_production_one():
    dockerfile = (ROOT / "Dockerfile").read_text()
    stages = re.findall(r"^FROM (\S+) AS (\S+)$", dockerfile, flags=re.MULTILINE)
    assert [name for _, name in stages] == ["cxloop", "simulators", "production"]
    copies = {stage: re.findall(r"^COPY .*$", body, flags=re.MULTILINE)
              for stage, body in zip(["cxloop", "simulators", "production"],
                                     re.split(r"^FROM .*$", dockerfile, flags=re.MULTILINE)[1:], strict=True)}
    assert not any("simulators" in line for line in copies["cxloop"]) and copies["production"] == []
    assert copies["simulators"] == ["COPY --chown=airflow:root simulators /opt/cxloop/simulators"]
    assert SERVICES["simulators"]["build"] == {"context": ".", "target": "simulators"}
