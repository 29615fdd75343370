"""One deterministic synthetic company that every simulator serves a view of.

Everything derives from `(seed, index)`: a record's content through its own random stream
(`rng`), and the few numbers a simulator indexes on (when it was made, edited, by whom) from
draws made for every record of a kind at once (`bulk`), kept as compact arrays. So any person or
record can be regenerated alone, a million customers fit in a few hundred megabytes, and a test
can compute the expected KPIs from the same generator the simulators serve.
The same people appear in several sources, spelled the way each tool would hold them: emails
differing in case and surrounding whitespace, phone numbers in different formats.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cached_property
from itertools import accumulate

import numpy as np

FIRST_NAMES = {
    "en": ["Olivia", "James", "Emma", "Noah", "Ava", "Liam", "Grace", "Henry"],
    "pl": ["Anna", "Piotr", "Zofia", "Jakub", "Maja", "Kacper", "Łucja", "Michał"],
    "fr": ["Camille", "Louis", "Chloé", "Hugo", "Léa", "Jules", "Inès", "Théo"],
    "fa": ["Sara", "Reza", "Maryam", "Ali", "Niloufar", "Arash", "Shirin", "Dariush"],
    "zh": ["Wei", "Fang", "Jing", "Lei", "Min", "Tao", "Yan", "Hui"],
}
LAST_NAMES = {
    "en": ["Smith", "Taylor", "Brown", "Wilson", "Evans", "Walker"],
    "pl": ["Kowalska", "Nowak", "Wiśniewski", "Wójcik", "Kamińska", "Lewandowski"],
    "fr": ["Martin", "Bernard", "Dubois", "Lefèvre", "Moreau", "Laurent"],
    "fa": ["Ahmadi", "Hosseini", "Karimi", "Rahimi", "Moradi", "Jafari"],
    "zh": ["Wang", "Li", "Zhang", "Liu", "Chen", "Yang"],
}
COUNTRY = {"en": "GB", "pl": "PL", "fr": "FR", "fa": "IR", "zh": "CN"}
DIAL = {"GB": "44", "PL": "48", "FR": "33", "IR": "98", "CN": "86"}
# Numbers people share, as in a real customer base: every HOUSEHOLD_EVERY-th person lives with the
# one before (one landline, two people, two emails); every SWITCHBOARD_EVERY-th calls from one
# company switchboard, shared by more records than identity resolution's cap (50 by default).
HOUSEHOLD_EVERY = 40
SWITCHBOARD_EVERY = 25
SWITCHBOARD_PHONE = "+442079460000"
LANGUAGE_WEIGHTS = {"en": 50, "pl": 15, "fr": 15, "fa": 10, "zh": 10}
_LANGUAGES = list(LANGUAGE_WEIGHTS)
_LANGUAGE_CUMULATIVE = list(accumulate(LANGUAGE_WEIGHTS.values()))
_ASCII = str.maketrans("łŁéèçÉôöü", "lLeecEoou")
VERBATIMS = {
    "en": {"pos": "Great product, the team solved everything quickly.",
           "neu": "It works, but setup took longer than expected.",
           "neg": "Support never answered and the invoice was wrong."},
    "pl": {"pos": "Świetny produkt, zespół szybko wszystko rozwiązał.",
           "neu": "Działa, ale konfiguracja trwała dłużej niż zakładałem.",
           "neg": "Wsparcie nie odpowiedziało, a faktura była błędna."},
    "fr": {"pos": "Excellent produit, l'équipe a tout résolu rapidement.",
           "neu": "Ça marche, mais la mise en place a pris du temps.",
           "neg": "Le support n'a jamais répondu et la facture était fausse."},
    "fa": {"pos": "محصول عالی است و تیم همه چیز را سریع حل کرد.",
           "neu": "کار می‌کند، اما راه‌اندازی طولانی‌تر از انتظار بود.",
           "neg": "پشتیبانی هرگز پاسخ نداد و فاکتور اشتباه بود."},
    "zh": {"pos": "产品很好，团队很快解决了所有问题。",
           "neu": "可以用，但是配置花的时间比预期长。",
           "neg": "客服从来没有回复，而且发票是错的。"},
}
# Score distributions shaped like real CX programmes: NPS skews high with a detractor tail.
NPS_WEIGHTS = [3, 1, 1, 2, 2, 4, 6, 10, 15, 24, 32]
CSAT_WEIGHTS = [5, 6, 12, 35, 42]
CES_WEIGHTS = [3, 4, 6, 10, 17, 30, 30]

NPS_FORM = "rNPS2026"
SUPPORT_FORM = "sCSAT2026"
FORMS = (NPS_FORM, SUPPORT_FORM)
RESPONSES_PER_PERSON = [0, 1, 1, 2, 2, 3]
# About one person in six also opens a form and leaves without submitting it; of those forms, most
# hold an answer or two (partial), the rest none (started).
UNFINISHED_PER_PERSON = [0, 0, 0, 0, 0, 1]
PARTIAL_SHARE = 0.7
# About one completed response in a hundred is deleted by the form's owner, between an hour and a
# month after its submission.
TYPEFORM_DELETED_SHARE = 0.01
TYPEFORM_DELETE_GAP_SECONDS = (3600, 30 * 86400)
NEVER_DELETED = np.iinfo(np.int64).max
# What Typeform writes for `submitted_at` on a response never submitted (its documented example).
NEVER = "0001-01-01T00:00:00Z"


@dataclass(frozen=True)
class Person:
    index: int
    first_name: str
    last_name: str
    email: str  # canonical: lower case, no spaces
    phone_e164: str
    country: str
    language: str


def _ascii(name: str) -> str:
    return name.translate(_ASCII).encode("ascii", "ignore").decode() or "user"


@dataclass(frozen=True)
class Company:
    seed: int = 7
    customers: int = 100
    end: datetime = datetime(2026, 3, 10, tzinfo=UTC)
    days: int = 60

    @property
    def start(self) -> datetime:
        return self.end - timedelta(days=self.days)

    @property
    def start_epoch(self) -> int:
        return int(self.start.timestamp())

    @property
    def end_epoch(self) -> int:
        return int(self.end.timestamp())

    def rng(self, *parts: object) -> random.Random:
        """An independent, reproducible random stream for one thing, e.g. `rng("zendesk", 42)`."""
        return random.Random(":".join(str(p) for p in (self.seed, *parts)))

    _rng = rng

    def _variant(self, *parts: object) -> int:
        """One of four spellings, from a hash: these are asked for every record served, and seeding
        a `random.Random` would cost several times what the rest of the record does."""
        digest = hashlib.blake2b(":".join(str(p) for p in (self.seed, *parts)).encode(), digest_size=1).digest()
        return digest[0] % 4

    def bulk(self, *parts: object) -> np.random.Generator:
        """A reproducible generator drawing one attribute for every record of a kind at once.

        Element `i` of each draw belongs to record `i`, so a record still derives from the seed and
        its index; drawing in bulk makes a compact index over millions of records cost seconds
        where one `rng()` per record would cost minutes.
        """
        digest = hashlib.sha256(":".join(str(p) for p in (self.seed, "bulk", *parts)).encode()).digest()
        return np.random.default_rng(int.from_bytes(digest[:16], "big"))

    # -- identities shared across sources ------------------------------------------------------
    # Each tool holds the same person under its own id; these tie them together, so that
    # e.g. a Zendesk user's external_id can carry the person's HubSpot contact id.

    @property
    def organisations(self) -> int:
        """Customer companies (accounts); about five people each."""
        return max(1, self.customers // 5)

    def organisation_of(self, person: Person) -> int:
        return int(self.organisation_by_person[person.index])

    def members(self, org: int) -> np.ndarray:
        """Indices of the people working at `org`, ascending (empty for an organisation nobody joined)."""
        order, bounds = self.membership
        return order[bounds[org]:bounds[org + 1]]

    @cached_property
    def organisation_by_person(self) -> np.ndarray:
        """Each person's organisation, by person index."""
        return self.bulk("org").integers(0, self.organisations, size=self.customers).astype(np.int32)

    @cached_property
    def membership(self) -> tuple[np.ndarray, np.ndarray]:
        """People ordered by organisation, and where each organisation's run starts (one more at the end)."""
        orgs = self.organisation_by_person
        order = np.argsort(orgs, kind="stable").astype(np.int32)
        bounds = np.searchsorted(orgs[order], np.arange(self.organisations + 1))
        return order, bounds

    def organisation_name(self, org: int) -> str:
        rng = self.rng("org-name", org)
        stem = rng.choice(["Nord", "Vista", "Kora", "Blue", "Atlas", "Lumen", "Pol", "Sino", "Pars", "Gallo"])
        tail = rng.choice(["Logistics", "Retail", "Health", "Foods", "Labs", "Energy", "Travel", "Media"])
        return f"{stem}{tail} {org}"

    def organisation_domain(self, org: int) -> str:
        return f"example-{org}.com"

    @staticmethod
    def hubspot_contact_id(person: Person) -> str:
        return str(1001 + person.index)

    @staticmethod
    def hubspot_company_id(org: int) -> str:
        return str(900001 + org)

    @staticmethod
    def zendesk_user_id(person: Person) -> int:
        return 7_000_000 + person.index

    def moment(self, rng: random.Random) -> datetime:
        """A uniformly random second inside [start, end)."""
        return self._moment(rng)

    def spelled_phone(self, person: Person, source: str) -> str:
        """The person's phone as `source` holds it: E.164, spaced, dashed or national."""
        dial = next(code for code in DIAL.values() if person.phone_e164.startswith("+" + code))
        digits = person.phone_e164[1 + len(dial):]
        variant = self._variant("phone", source, person.index)
        return [person.phone_e164, f"+{dial} {digits[:3]} {digits[3:6]} {digits[6:]}",
                f"00{dial}-{digits[:3]}-{digits[3:]}", f"({dial}) {digits}"][variant]

    def person(self, index: int) -> Person:
        rng = self._rng("person", index)
        language = rng.choices(_LANGUAGES, cum_weights=_LANGUAGE_CUMULATIVE)[0]
        first, last = rng.choice(FIRST_NAMES[language]), rng.choice(LAST_NAMES[language])
        country = COUNTRY[language]
        email = f"{_ascii(first).lower()}.{_ascii(last).lower()}{index}@example-{index % 97}.com"
        phone = f"+{DIAL[country]}{rng.randrange(10**8, 10**9)}"
        if index % SWITCHBOARD_EVERY == SWITCHBOARD_EVERY - 1:
            phone = SWITCHBOARD_PHONE
        elif index % HOUSEHOLD_EVERY == 1:
            partner = self.person(index - 1)
            phone, country = partner.phone_e164, partner.country
        return Person(index, first, last, email, phone, country, language)

    def people(self) -> Iterator[Person]:
        for index in range(self.customers):
            yield self.person(index)

    def spelled_email(self, person: Person, source: str) -> str:
        """The person's email as `source` holds it: case and whitespace vary by tool."""
        variant = self._variant("email", source, person.index)
        return [person.email, person.email.upper(), f"  {person.email.title()} ", f"{person.email} "][variant]

    def _moment(self, rng: random.Random) -> datetime:
        seconds = rng.randrange(self.days * 86400)
        return self.start + timedelta(seconds=seconds)

    # -- Typeform ---------------------------------------------------------------------------

    @cached_property
    def typeform_plan(self) -> TypeformPlan:
        """Who answered which form when, under which token: the index the Typeform simulator pages."""
        draw = self.bulk("typeform")
        counts = draw.choice(RESPONSES_PER_PERSON, size=self.customers)
        total = int(counts.sum())
        firsts = np.cumsum(counts) - counts
        return TypeformPlan(
            person=np.repeat(np.arange(self.customers, dtype=np.int32), counts),
            number=(np.arange(total) - np.repeat(firsts, counts)).astype(np.int8),
            form=draw.integers(0, len(FORMS), size=total).astype(np.int8),
            submitted=self.start_epoch + draw.integers(0, self.days * 86400, size=total),
            token_hi=draw.integers(0, 2**64 - 1, size=total, dtype=np.uint64, endpoint=True),
            token_lo=draw.integers(0, 2**64 - 1, size=total, dtype=np.uint64, endpoint=True),
        )

    @cached_property
    def typeform_deleted(self) -> np.ndarray:
        """When each completed response is deleted (epoch seconds), NEVER_DELETED for most.

        A stream of its own, so the responses themselves are the same with or without deletions.
        """
        submitted = self.typeform_plan.submitted
        draw = self.bulk("typeform", "deleted")
        chosen = draw.random(len(submitted)) < TYPEFORM_DELETED_SHARE
        low, high = (np.log(g) for g in TYPEFORM_DELETE_GAP_SECONDS)
        at = submitted + np.exp(draw.uniform(low, high, size=len(submitted))).astype(np.int64)
        return np.where(chosen & (at < self.end_epoch), at, NEVER_DELETED).astype(np.int64)

    def typeform_responses(self) -> Iterator[dict]:
        """Every completed response the Responses API serves at `end` (deleted ones left out), plus `_form_id`."""
        deleted = self.typeform_deleted
        for ordinal in range(len(self.typeform_plan.person)):
            if deleted[ordinal] == NEVER_DELETED:
                yield self.typeform_response(ordinal)

    def typeform_response(self, ordinal: int) -> dict:
        """Response number `ordinal` of the plan, with `_form_id`, regenerated from its person and number."""
        plan = self.typeform_plan
        person = self.person(int(plan.person[ordinal]))
        rng = self._rng("typeform", person.index, int(plan.number[ordinal]))
        submitted = datetime.fromtimestamp(int(plan.submitted[ordinal]), tz=UTC)
        response = self._typeform_response(rng, person, FORMS[plan.form[ordinal]], submitted, plan.token(ordinal))
        return {**response, "_form_id": FORMS[plan.form[ordinal]]}

    @cached_property
    def typeform_unfinished_plan(self) -> UnfinishedPlan:
        """Forms opened and left without submitting: who, which form, when, under which token.

        Drawn from a stream of its own, so the completed responses (and every KPI over them) are
        the same with or without these.
        """
        draw = self.bulk("typeform", "unfinished")
        counts = draw.choice(UNFINISHED_PER_PERSON, size=self.customers)
        total = int(counts.sum())
        firsts = np.cumsum(counts) - counts
        landed = self.start_epoch + draw.integers(0, self.days * 86400, size=total)
        partial = draw.random(total) < PARTIAL_SHARE
        # The last answer is staged a little after landing; a started response stages none (0).
        staged = np.where(partial, landed + draw.integers(20, 900, size=total), 0)
        return UnfinishedPlan(
            person=np.repeat(np.arange(self.customers, dtype=np.int32), counts),
            number=(np.arange(total) - np.repeat(firsts, counts)).astype(np.int8),
            form=draw.integers(0, len(FORMS), size=total).astype(np.int8),
            landed=landed,
            staged=staged,
            token_hi=draw.integers(0, 2**64 - 1, size=total, dtype=np.uint64, endpoint=True),
            token_lo=draw.integers(0, 2**64 - 1, size=total, dtype=np.uint64, endpoint=True),
        )

    def typeform_unfinished_response(self, ordinal: int) -> dict:
        """Unfinished response number `ordinal` as the Responses API returns it, plus `_form_id`."""
        plan = self.typeform_unfinished_plan
        person = self.person(int(plan.person[ordinal]))
        form = FORMS[plan.form[ordinal]]
        rng = self._rng("typeform", "unfinished", person.index, int(plan.number[ordinal]))
        token = plan.token(ordinal)
        answers: list[dict] = []
        staged = int(plan.staged[ordinal])
        if staged:
            # The questions come in the form's order: an abandoned form holds a prefix of them.
            answers = self._typeform_answers(rng, form)[0][:1 if form == NPS_FORM else rng.choice([1, 2])]
        response = {
            "landing_id": token,
            "token": token,
            "response_id": token,
            "response_type": "partial" if staged else "started",
            "landed_at": _iso(datetime.fromtimestamp(int(plan.landed[ordinal]), tz=UTC)),
            "submitted_at": NEVER,
            "metadata": {"user_agent": "Mozilla/5.0", "platform": rng.choice(["other", "mobile"]),
                         "referer": f"https://cxloop.typeform.com/to/{form}", "network_id": f"n{person.index}",
                         "browser": "default"},
            "hidden": {"locale": person.language},
            "calculated": {"score": 0},
            "answers": answers,
        }
        if staged:
            response["staged_at"] = _iso(datetime.fromtimestamp(staged, tz=UTC))
        return {**response, "_form_id": form}

    @staticmethod
    def _typeform_answers(rng: random.Random, form: str) -> tuple[list[dict], str]:
        """The form's scored answers in question order, and the mood they express."""
        if form == NPS_FORM:
            score = rng.choices(range(11), weights=NPS_WEIGHTS)[0]
            return [_answer("nps", "nps", "number", score)], "pos" if score >= 9 else "neu" if score >= 7 else "neg"
        csat = rng.choices(range(1, 6), weights=CSAT_WEIGHTS)[0]
        ces = rng.choices(range(1, 8), weights=CES_WEIGHTS)[0]
        return ([_answer("rating", "csat", "number", csat), _answer("opinion_scale", "ces", "number", ces)],
                "pos" if csat >= 4 else "neu" if csat == 3 else "neg")

    def _typeform_response(self, rng: random.Random, person: Person, form: str, submitted: datetime,
                           token: str) -> dict:
        answers, mood = self._typeform_answers(rng, form)
        if rng.random() < 0.6:
            answers.append(_answer("long_text", "comment", "text", VERBATIMS[person.language][mood]))
        if rng.random() < 0.8:
            answers.append(_answer("email", "email", "email", self.spelled_email(person, "typeform")))
        landed = submitted - timedelta(seconds=rng.randrange(30, 900))
        return {
            "landing_id": token,
            "token": token,
            "response_id": token,
            "response_type": "completed",
            "landed_at": _iso(landed),
            "submitted_at": _iso(submitted),
            "metadata": {"user_agent": "Mozilla/5.0", "platform": rng.choice(["other", "mobile"]),
                         "referer": f"https://cxloop.typeform.com/to/{form}", "network_id": f"n{person.index}",
                         "browser": "default"},
            "hidden": {"locale": person.language},
            "calculated": {"score": 0},
            "answers": answers,
        }


@dataclass(frozen=True)
class TypeformPlan:
    """One row per response, person by person; a few bytes each, never the responses themselves."""

    person: np.ndarray
    number: np.ndarray  # the response's place among its person's responses
    form: np.ndarray  # index into FORMS
    submitted: np.ndarray  # epoch seconds
    token_hi: np.ndarray  # the token's 128 bits, as two unsigned 64-bit halves
    token_lo: np.ndarray

    def token(self, ordinal: int) -> str:
        return f"{int(self.token_hi[ordinal]):016x}{int(self.token_lo[ordinal]):016x}"


@dataclass(frozen=True)
class UnfinishedPlan:
    """One row per form opened and not submitted; `staged` is 0 where no answer was given (started)."""

    person: np.ndarray
    number: np.ndarray  # the response's place among its person's unfinished responses
    form: np.ndarray  # index into FORMS
    landed: np.ndarray  # epoch seconds
    staged: np.ndarray  # epoch seconds of the last answer staged, or 0
    token_hi: np.ndarray
    token_lo: np.ndarray

    def token(self, ordinal: int) -> str:
        return f"{int(self.token_hi[ordinal]):016x}{int(self.token_lo[ordinal]):016x}"


def _answer(field_type: str, ref: str, value_type: str, value: object) -> dict:
    return {"field": {"id": f"f_{ref}", "type": field_type, "ref": ref}, "type": value_type, value_type: value}


def iso(moment: datetime) -> str:
    """UTC ISO 8601 to the second with a Z, the way most of these APIs write timestamps."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
