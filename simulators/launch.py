"""Start the bundled API simulators on loopback and describe them as Airflow connections."""

from __future__ import annotations

import json
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

from simulators import files, trustpilot
from simulators.company import FORMS, Company
from simulators.hubspot import HubSpotApi
from simulators.server import Simulator
from simulators.typeform import TypeformApi
from simulators.zendesk import ZendeskApi


@dataclass
class Simulators:
    """Running simulators by source name, and the `AIRFLOW_CONN_*` variables that reach them."""

    company: Company
    servers: dict[str, Simulator] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)
    _stack: ExitStack = field(default_factory=ExitStack)

    def __enter__(self) -> Simulators:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._stack.close()


# Fixed ports for `python -m simulators` (docker compose's demo profile); tests use any free port.
PORTS = {"hubspot": 8101, "zendesk": 8102, "trustpilot": 8103, "typeform": 8104}


def start(company: Company, *, retry: dict | None = None, host: str = "127.0.0.1",
          ports: dict[str, int] | None = None, drop_folder: Path | None = None,
          zendesk_extra: dict | None = None) -> Simulators:
    """Start one simulator per source over `company`; with `drop_folder`, write a sample file drop.

    `retry` goes into each connection's extra (see ingest/http.py), so tests can make a
    connector give up quickly on a simulator that keeps failing. `zendesk_extra` adds to the help
    desk connection's extra (e.g. the `followups` settings of the closed loop).
    """
    ports = ports or {}
    sims = Simulators(company)
    retry_extra = {"retry": retry} if retry else {}

    def serve(name: str, api: object, **connection: object) -> None:
        server = sims._stack.enter_context(Simulator(api, host=host, port=ports.get(name, 0)))
        sims.servers[name] = server
        extra = {**connection.pop("extra", {}), **retry_extra}
        sims.env[f"AIRFLOW_CONN_CXLOOP_{name.upper()}"] = json.dumps(
            {"conn_type": "http", "host": server.base_url, **connection, "extra": extra})

    serve("hubspot", HubSpotApi(company, token="hs-demo-token"), password="hs-demo-token")
    serve("zendesk", ZendeskApi(company, email="agent@cxloop.example", token="zd-demo-token"),
          login="agent@cxloop.example", password="zd-demo-token", extra=dict(zendesk_extra or {}))
    # The password grant's four credentials: API key and secret, and the business user's sign-in.
    serve("trustpilot", trustpilot.TrustpilotApi(company), password=trustpilot.DEFAULT_API_KEY,
          login=trustpilot.DEFAULT_USERNAME,
          extra={"business_unit_id": trustpilot.DEFAULT_BUSINESS_UNIT_ID, "api_secret": trustpilot.DEFAULT_API_SECRET,
                 "business_user_password": trustpilot.DEFAULT_PASSWORD})
    serve("typeform", TypeformApi(company, token="tf-demo-token"), password="tf-demo-token",
          extra={"form_ids": list(FORMS), "metrics": {"nps": "nps", "csat": "csat", "ces": "ces"}})
    if drop_folder is not None:
        files.write_drop(company, drop_folder)
        sims.env["AIRFLOW_CONN_CXLOOP_FILES"] = json.dumps({
            "conn_type": "fs", "extra": {"path": str(drop_folder), "datasets": files.DATASETS}})
    return sims
