"""What a night with 1% new text costs the verbatims' part of the nightly (issue #17).

The simulators write a few dozen distinct texts, so `make bench-scale` analyses nothing on its
second night and says nothing about this cost. Here a company of `--customers` customers lands
its verbatims directly in `raw` (no APIs, no Airflow, no quality gate), sized like the
simulated company of bench-scale: per customer 1.5 help-desk tickets (a description each, no
rating), 0.4 reviews (a title and a text, rated by their stars) and 0.65 surveys (an NPS score, a
"why" answer it rates and a "what could be better" answer it does not), in the five languages of
the phrase bank (simulators/phrases.py). Each text joins two phrases of one language and
sentiment and a reference number, so no two texts are the same and every one must be analysed.

Night 1 lands all of it and runs what the DAG runs: `dbt build` of staging and intermediate,
`analyse_pending` (which also trains the sentiment model), `dbt build` of the rest. Night 2 lands
new records carrying exactly 1% as many new texts as night 1 had, plus tickets that changed
without their text changing, and runs the same three steps. What is reported per night: the
seconds of `analyse_pending` (wall and the process's CPU), of the fct_verbatims model (dbt's
run_results.json), their sum against the 10 s budget, the texts analysed, and the load average
sampled through the night: the machine is shared, and its neighbours show in wall time.

Each size runs in a process of its own on a throwaway embedded warehouse (deleted afterwards).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from random import Random

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from simulators.phrases import LANGUAGES, TOPICS, customer_phrase  # noqa: E402

# The budget for what 1% new text adds to a night: analyse_pending + fct_verbatims.
BUDGET_SECONDS = 10.0
NEW_TEXT_SHARE = 0.01
# Records per customer, as the simulated company of bench-scale has them at 100k customers
# (about 360k verbatims in fct_verbatims).
TICKETS_PER_CUSTOMER = 1.5
REVIEWS_PER_CUSTOMER = 0.4
SURVEYS_PER_CUSTOMER = 0.65
# Tickets whose status changes on night 2 without their text changing, per ticket.
CHANGED_TICKET_SHARE = 0.005
PAGE = 5_000
NIGHT_1 = datetime(2026, 3, 1, tzinfo=UTC)
LANDING_WINDOW_END = datetime(2027, 1, 1, tzinfo=UTC)
# How each language marks the reference number that makes a text distinct.
REFERENCE = {"en": "Ref. {n}", "pl": "Nr {n}", "fr": "Réf. {n}", "fa": "کد {n}", "zh": "编号{n}"}
# A rating's sentiment, so rated text carries the band its phrases were written in.
STARS = {"negative": (1, 2), "positive": (4, 5)}
NPS = {"negative": (0, 6), "positive": (9, 10)}


@dataclass
class Landing:
    """One night's records per (source, stream), and the distinct texts they carry."""

    records: dict[tuple[str, str], list[dict]] = field(default_factory=dict)
    texts: list[str] = field(default_factory=list)
    languages: list[str] = field(default_factory=list)
    rated: int = 0  # texts a rating labels (the reviews' and the surveys' first answers)
    changed: int = 0  # records landed again with their text unchanged

    def add(self, source: str, stream: str, record: dict) -> None:
        self.records.setdefault((source, stream), []).append(record)


class _Texts:
    """Distinct texts: two phrases of one language and sentiment, then a serial reference."""

    def __init__(self, rng: Random, landing: Landing, first_serial: int) -> None:
        self.rng, self.landing, self.serial = rng, landing, first_serial

    def __call__(self, language: str, sentiment: str, *, rated: bool) -> str:
        first, second = self.rng.sample(TOPICS, 2)
        text = " ".join((customer_phrase(self.rng, language, sentiment, first).text,
                         customer_phrase(self.rng, language, sentiment, second).text,
                         REFERENCE[language].format(n=self.serial)))
        self.serial += 1
        self.landing.texts.append(text)
        self.landing.languages.append(language)
        self.landing.rated += rated
        return text


def _stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _email(customer: int) -> str:
    return f"customer{customer}@example.com"


def _ticket(ticket_id: int, customer: int, created: datetime, description: str, status: str = "open") -> dict:
    return {"id": ticket_id, "requester_id": customer, "via": {"channel": "email"}, "status": status,
            "subject": f"Ticket {ticket_id}", "description": description, "created_at": _stamp(created),
            "updated_at": _stamp(created)}


def _review(review_id: int, customer: int, created: datetime, language: str, sentiment: str, texts: _Texts,
            rng: Random) -> dict:
    return {"id": f"r{review_id}", "stars": rng.choice(STARS[sentiment]), "language": language,
            "consumer": {"id": f"c{customer}", "displayName": f"C{customer}", "displayLocation": "Leeds, GB"},
            "title": texts(language, sentiment, rated=True), "text": texts(language, sentiment, rated=True),
            "createdAt": _stamp(created), "updatedAt": None, "referralEmail": _email(customer),
            "companyReply": None}


def _answer(field_type: str, ref: str, value_type: str, value: object) -> dict:
    return {"field": {"id": f"f_{ref}", "type": field_type, "ref": ref}, "type": value_type, value_type: value}


def _survey(token: str, customer: int, submitted: datetime, language: str, sentiment: str, texts: _Texts,
            rng: Random) -> dict:
    score = rng.choice(NPS[sentiment])
    why = texts(language, sentiment, rated=True)
    # What could be better: the survey's second answer, read by its text alone.
    better = texts(language, rng.choice(("negative", "positive")), rated=False)
    return {"token": token, "response_id": token, "submitted_at": _stamp(submitted), "landed_at": _stamp(submitted),
            "hidden": {"locale": language}, "metadata": {"platform": "other"}, "_form_id": "rNPS2026",
            "answers": [_answer("nps", "nps", "number", score), _answer("long_text", "why", "text", why),
                        _answer("short_text", "better", "text", better)],
            "_metrics": {"nps": score, "email": _email(customer), "verbatim": why}}


def _sentiment(rng: Random) -> str:
    return rng.choice(("negative", "positive"))


def first_night(customers: int, seed: int = 17) -> Landing:
    """Night 1: `customers` help-desk users and their tickets, reviews and surveys, every text distinct."""
    rng, landing = Random(seed), Landing()
    texts = _Texts(rng, landing, 0)
    for customer in range(customers):
        landing.add("zendesk", "users", {
            "id": customer, "name": f"User {customer}", "email": _email(customer), "phone": None,
            "external_id": None, "role": "end-user", "locale": LANGUAGES[customer % len(LANGUAGES)],
            "created_at": _stamp(NIGHT_1 - timedelta(days=90)), "updated_at": _stamp(NIGHT_1 - timedelta(days=90))})
    for kind, per_customer in (("ticket", TICKETS_PER_CUSTOMER), ("review", REVIEWS_PER_CUSTOMER),
                               ("survey", SURVEYS_PER_CUSTOMER)):
        for n in range(round(customers * per_customer)):
            _add(landing, kind, n, rng.randrange(customers), NIGHT_1 - timedelta(seconds=rng.randrange(90 * 86400)),
                 texts, rng)
    return landing


def _add(landing: Landing, kind: str, n: int, customer: int, at: datetime, texts: _Texts, rng: Random) -> None:
    language, sentiment = LANGUAGES[customer % len(LANGUAGES)], _sentiment(rng)
    if kind == "ticket":
        landing.add("zendesk", "tickets", _ticket(n, customer, at, texts(language, "negative", rated=False)))
    elif kind == "review":
        landing.add("trustpilot", "reviews", _review(n, customer, at, language, sentiment, texts, rng))
    else:
        landing.add("typeform", "responses", _survey(f"s{n:012d}", customer, at, language, sentiment, texts, rng))


def second_night(customers: int, first: Landing, seed: int = 18) -> Landing:
    """Night 2: new tickets, reviews and surveys carrying exactly 1% as many new texts as night 1
    had (in night 1's mix), and tickets whose status changed while their description did not."""
    rng, landing = Random(seed), Landing()
    texts = _Texts(rng, landing, len(first.texts))
    wanted = round(len(first.texts) * NEW_TEXT_SHARE)
    counts = {kind: len(first.records.get(key, [])) for kind, key in
              (("ticket", ("zendesk", "tickets")), ("review", ("trustpilot", "reviews")),
               ("survey", ("typeform", "responses")))}
    at = NIGHT_1 + timedelta(hours=12)
    # Reviews and surveys carry two texts each: as many as night 1's share of texts gives them,
    # then tickets (one text each) make up the rest, so the count is exact.
    for kind in ("review", "survey"):
        for _ in range(round(wanted * counts[kind] * 2 / max(len(first.texts), 1) / 2)):
            if len(landing.texts) + 2 > wanted:
                break
            _add(landing, kind, counts[kind], rng.randrange(customers), at, texts, rng)
            counts[kind] += 1
    while len(landing.texts) < wanted:
        _add(landing, "ticket", counts["ticket"], rng.randrange(customers), at, texts, rng)
        counts["ticket"] += 1
    tickets = first.records.get(("zendesk", "tickets"), [])
    for ticket in rng.sample(tickets, round(len(tickets) * CHANGED_TICKET_SHARE)):
        landing.add("zendesk", "tickets", {**ticket, "status": "solved", "updated_at": _stamp(at)})
        landing.changed += 1
    return landing


def _pages(records: list[dict]) -> Iterator[list[dict]]:
    for start in range(0, len(records), PAGE):
        yield records[start:start + PAGE]


def land(landing: Landing) -> float:
    """Land every stream of `landing` through the loader, one batch per stream; the seconds it took."""
    from ingest import loader, runner, warehouse
    from ingest.streams import Window

    started = time.perf_counter()
    for (source, name), records in landing.records.items():
        stream = next(s for s in runner.streams_of(source) if s.name == name)
        with warehouse.connect() as conn, conn.transaction():
            loader.land(conn, stream, str(uuid.uuid4()), Window(None, LANDING_WINDOW_END), _pages(records))
    return time.perf_counter() - started


class LoadSampler:
    """The 1-minute load average, every few seconds while a night runs."""

    def __init__(self, every: float = 5.0) -> None:
        self.every, self.samples = every, [os.getloadavg()[0]]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            self.samples.append(os.getloadavg()[0])

    def __enter__(self) -> LoadSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.samples.append(os.getloadavg()[0])


def model_result(run_results: dict, model: str) -> dict:
    """The run_results.json entry of `model` (a model, not one of its tests)."""
    return next(result for result in run_results["results"]
                if result["unique_id"].startswith("model.") and result["unique_id"].endswith(f".{model}"))


def night(landing: Landing) -> dict:
    """Land `landing`, then run the night's dbt builds around `analyse_pending`; what each took."""
    from dags.cxloop_nightly import BUILD_AFTER_ENRICHMENT, BUILD_BEFORE_ENRICHMENT
    from enrichment import analyse
    from ingest import runner, warehouse

    with LoadSampler() as load:
        landed_seconds = land(landing)
        runner.prepare_warehouse()
        runner.run_dbt_build(BUILD_BEFORE_ENRICHMENT, "dbt_build_intermediate")
        with warehouse.connect() as conn:
            wall, cpu = time.perf_counter(), time.process_time()
            run = analyse.analyse_pending(conn)
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        runner.run_dbt_build(BUILD_AFTER_ENRICHMENT, "dbt_build")
        results = json.loads((runner.dbt_target_path() / runner.BUILD_RESULTS.format(build="dbt_build")).read_text())
        fct = model_result(results, "fct_verbatims")
        with warehouse.connect() as conn:
            verbatims = conn.execute("select count(*) from marts.fct_verbatims").fetchone()[0]
    return {
        "records_landed": sum(len(records) for records in landing.records.values()),
        "new_texts": len(landing.texts), "changed_records": landing.changed, "landing_seconds": landed_seconds,
        "analysed": run.analysed, "model_trained": run.trained, "analyse_seconds": wall, "analyse_cpu_seconds": cpu,
        "fct_verbatims_seconds": fct["execution_time"],
        "fct_verbatims_rows": (fct.get("adapter_response") or {}).get("rows_affected"),
        "fct_verbatims_total": verbatims, "added_seconds": wall + fct["execution_time"],
        "load_min": min(load.samples), "load_max": max(load.samples),
        "load_mean": sum(load.samples) / len(load.samples),
    }


def measure(customers: int, seed: int = 17) -> dict:
    """Both nights at `customers` customers on the resolved warehouse, which must be empty."""
    first = first_night(customers, seed)
    second = second_night(customers, first, seed + 1)
    nights = [night(first), night(second)]
    return {"customers": customers, "cpus": os.cpu_count(), "budget_seconds": BUDGET_SECONDS,
            "nights": nights, "within_budget": nights[1]["added_seconds"] <= BUDGET_SECONDS}


HEADER = (f"{'customers':>9} {'night':>5} {'texts landed':>12} {'analysed':>9} {'analyse s':>9} {'CPU s':>6} "
          f"{'fct_verbatims s':>15} {'sum s':>6} {'budget':>7} {'load min-max':>13}")


def report_lines(measured: dict) -> list[str]:
    """The console table of one size: a line per night, the budget judged on night 2 only."""
    lines = []
    for number, n in enumerate(measured["nights"], start=1):
        verdict = ("met" if measured["within_budget"] else "missed") if number == 2 else "-"
        lines.append(f"{measured['customers']:>9,} {number:>5} {n['new_texts']:>12,} {n['analysed']:>9,} "
                     f"{n['analyse_seconds']:>9.1f} {n['analyse_cpu_seconds']:>6.1f} "
                     f"{n['fct_verbatims_seconds']:>15.1f} {n['added_seconds']:>6.1f} {verdict:>7} "
                     f"{n['load_min']:>6.1f}-{n['load_max']:<6.1f}")
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--customers", type=int, nargs="+", default=[100_000])
    parser.add_argument("--seed", type=int, default=17)
    parser.add_argument("--json", type=Path, help="also write every size's figures here")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        # dbt writes its log to stdout: send it to stderr, so stdout carries the figures alone.
        figures = os.dup(1)
        os.dup2(2, 1)
        os.write(figures, (json.dumps(measure(args.customers[0], args.seed)) + "\n").encode())
        return 0
    print(HEADER, flush=True)
    measured = []
    for customers in args.customers:
        home = Path(tempfile.mkdtemp(prefix="cxloop-bench-verbatims-"))
        env = {**os.environ, "CXLOOP_HOME": str(home), "AIRFLOW_HOME": str(home / "airflow"),
               "CXLOOP_EMBEDDED_PORT": "0", "DBT_TARGET_PATH": str(home / "dbt_target"),
               "DBT_LOG_PATH": str(home / "dbt_logs")}
        env.pop("AIRFLOW_CONN_CXLOOP_WAREHOUSE", None)
        try:
            proc = subprocess.run([sys.executable, __file__, "--child", "--customers", str(customers),
                                   "--seed", str(args.seed)], env=env, stdout=subprocess.PIPE, text=True, check=True)
        finally:
            subprocess.run([sys.executable, "-c", "from ingest import warehouse; warehouse.stop_embedded()"],
                           env=env, cwd=REPO_ROOT, check=False)
            shutil.rmtree(home, ignore_errors=True)
        measured.append(json.loads(proc.stdout.strip().splitlines()[-1]))
        print("\n".join(report_lines(measured[-1])), flush=True)
    if args.json:
        args.json.write_text(json.dumps(measured, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
