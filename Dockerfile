# cxloop on the official Airflow image: the DAGs, connectors, suites and dbt project baked in.
FROM apache/airflow:3.3.2-python3.11 AS cxloop
COPY --chown=airflow:root pyproject.toml constraints.txt README.md /opt/cxloop/
COPY --chown=airflow:root ingest /opt/cxloop/ingest
COPY --chown=airflow:root expectations /opt/cxloop/expectations
COPY --chown=airflow:root dbt_project /opt/cxloop/dbt_project
COPY --chown=airflow:root dags /opt/cxloop/dags
COPY --chown=airflow:root scripts /opt/cxloop/scripts
RUN pip install --no-cache-dir -c /opt/cxloop/constraints.txt -e /opt/cxloop
ENV AIRFLOW__CORE__DAGS_FOLDER=/opt/cxloop/dags
# Owned by airflow here, so the named volume mounted on it is writable by airflow-init.
RUN mkdir -p /opt/airflow/auth

# The API simulators are test doubles: they stay out of the production image and get their own
# (`docker compose --profile demo`), built on it so the connectors' versions match.
FROM cxloop AS simulators
COPY --chown=airflow:root simulators /opt/cxloop/simulators
WORKDIR /opt/cxloop

# The default target, last so that a plain `docker build .` gives the production image.
FROM cxloop AS production
