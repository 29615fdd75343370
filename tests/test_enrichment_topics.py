"""Every verbatim gets the topics of the taxonomy its users own, with the words that found them.

The taxonomy is the dbt seed dbt_project/seeds/topic_taxonomy.csv. It is validated when loaded,
versioned by content (an edit re-matches) and matched in the verbatim's own language. The
floors at the end are regression guards: the precision and recall measured on the development
and the held-out set (docs/verbatims.md, "Topics"), rounded down to a whole percent.
"""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from enrichment import HELDOUT_CSV, STARTER_TOPICS
from enrichment.language import LANGUAGES
from enrichment.topics import TAXONOMY_CSV, Taxonomy, TaxonomyError, TopicMatch, load_taxonomy, match_topics
from scripts.evaluate_topics import DEV_CSV, read_labels, regex_baseline, score_by_language

ISSUE_TOPICS = STARTER_TOPICS


@pytest.fixture(scope="module")
def taxonomy() -> Taxonomy:
    return load_taxonomy()


def topics_of(text: str, language: str | None, taxonomy: Taxonomy) -> list[str]:
    return [m.topic for m in match_topics(text, language, taxonomy)]


def write_taxonomy(
    path: Path, rows: list[list[str]], header: tuple[str, ...] = ("topic", "parent_topic", "language", "pattern")
) -> Path:
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)
    return path


# --- The starter taxonomy ------------------------------------------------------------------------


def test_the_starter_taxonomy_covers_the_nine_topics_in_every_language(taxonomy):
    assert set(taxonomy.topics) == ISSUE_TOPICS
    covered = {(row.language, row.topic) for row in taxonomy.rows}
    assert covered == {(language, topic) for language in LANGUAGES for topic in ISSUE_TOPICS}


def test_every_topic_sits_under_one_parent(taxonomy):
    assert taxonomy.parents == {
        "delivery": "logistics",
        "returns_refunds": "logistics",
        "price": "money",
        "billing": "money",
        "support_speed": "service",
        "staff_attitude": "service",
        "product_quality": "product",
        "app_website": "digital",
        "onboarding": "digital",
    }


# --- Matching ------------------------------------------------------------------------------------


def test_a_persian_and_a_chinese_complaint_about_delivery_land_in_delivery(taxonomy):
    persian = match_topics("بسته‌ام هنوز نرسیده، پیک هم جواب نمیده", "fa", taxonomy)
    chinese = match_topics("快递三天了还没到，物流信息也不更新", "zh", taxonomy)
    assert "delivery" in [m.topic for m in persian]
    assert "delivery" in [m.topic for m in chinese]
    assert next(m for m in chinese if m.topic == "delivery").evidence == ("快递", "还没到", "物流")


def test_polish_without_diacritics_matches_like_polish_with_them(taxonomy):
    plain = match_topics("Kurier zgubil przesylke, a zwrot pieniedzy trwa wiecznosc", "pl", taxonomy)
    accented = match_topics("Kurier zgubił przesyłkę, a zwrot pieniędzy trwa wieczność", "pl", taxonomy)
    assert [m.topic for m in plain] == [m.topic for m in accented] == ["delivery", "returns_refunds"]
    # The evidence quotes each customer's own spelling.
    assert plain[0].evidence == ("Kurier", "przesylke") and accented[0].evidence == ("Kurier", "przesyłkę")


def test_french_without_accents_matches_like_french_with_them(taxonomy):
    plain = topics_of("Tres decu : colis jamais arrive et la qualite est mediocre", "fr", taxonomy)
    accented = topics_of("Très déçu : colis jamais arrivé et la qualité est médiocre", "fr", taxonomy)
    assert plain == accented == ["delivery", "product_quality"]


def test_persian_matches_with_or_without_the_zero_width_non_joiner(taxonomy):
    for spelling in ("ثبت‌نام تو سایت کار نمی‌کنه", "ثبتنام تو سایت کار نمیکنه", "ثبت نام تو سایت کار نمی کنه"):
        assert topics_of(spelling, "fa", taxonomy) == ["app_website", "onboarding"], spelling


def test_a_text_about_price_and_support_gets_both_topics(taxonomy):
    matches = match_topics("Way too expensive for what it is, and support never replied to my ticket", "en", taxonomy)
    assert matches == [
        TopicMatch("price", "money", ("expensive",)),
        TopicMatch("support_speed", "service", ("never replied", "ticket")),
    ]


def test_topics_come_sorted_by_name_once_each_with_each_term_once(taxonomy):
    matches = match_topics("Refund please. The app crashed, the app crashed again, then a refund", "en", taxonomy)
    assert [m.topic for m in matches] == ["app_website", "returns_refunds"]
    assert matches[0].evidence == ("app", "crashed")
    assert matches[1].evidence == ("Refund", "refund")  # distinct spellings are distinct evidence


def test_a_phrase_is_one_piece_of_evidence_and_does_not_run_across_punctuation(taxonomy):
    assert match_topics("It never arrived", "en", taxonomy)[0].evidence == ("never arrived",)
    assert topics_of("I never. Arrived home happy", "en", taxonomy) == []


def test_a_star_matches_any_ending_but_a_plain_word_only_itself(taxonomy):
    for word in ("deliver", "delivery", "delivered", "deliveries"):
        assert topics_of(f"The {word} thing", "en", taxonomy) == ["delivery"], word
    assert topics_of("I'll be back", "en", taxonomy) == []  # "bug" matches "bug", not "be" or "bugle"
    assert topics_of("A bugle", "en", taxonomy) == []


def test_a_text_matches_only_the_patterns_of_its_own_language(taxonomy):
    assert topics_of("colis", "fr", taxonomy) == ["delivery"]
    assert topics_of("colis", "en", taxonomy) == []


def test_no_language_or_a_language_without_patterns_matches_nothing(taxonomy):
    assert match_topics("The courier never came", None, taxonomy) == []
    assert match_topics("The courier never came", "de", taxonomy) == []
    assert match_topics("", "en", taxonomy) == []


# --- Editing the taxonomy ------------------------------------------------------------------------


def test_an_edited_taxonomy_has_a_new_version_and_matches_the_new_term(tmp_path):
    seed = TAXONOMY_CSV.read_text(encoding="utf-8")
    edited = tmp_path / "topic_taxonomy.csv"
    edited.write_text(seed + "delivery,logistics,en,pigeon post\n", encoding="utf-8")
    before, after = load_taxonomy(), load_taxonomy(edited)
    assert after.version != before.version
    assert topics_of("Sent by pigeon post, apparently", "en", before) == []
    assert match_topics("Sent by pigeon post, apparently", "en", after) == [
        TopicMatch("delivery", "logistics", ("pigeon post",))
    ]


def test_the_version_depends_on_content_not_on_row_order_or_file_name(tmp_path):
    rows = [["delivery", "logistics", "en", "courier"], ["price", "money", "en", "expensive"]]
    first = load_taxonomy(write_taxonomy(tmp_path / "a.csv", rows))
    reordered = load_taxonomy(write_taxonomy(tmp_path / "b.csv", rows[::-1]))
    changed = load_taxonomy(write_taxonomy(tmp_path / "c.csv", [*rows[:1], ["price", "money", "en", "pricey"]]))
    assert first.version == reordered.version != changed.version


@pytest.mark.parametrize(
    ("rows", "line", "message"),
    [
        ([["delivery", "logistics", "de", "Paket"]], 2, "language 'de' is not one cxloop detects"),
        (
            [["delivery", "logistics", "en", "courier"], ["delivery", "logistics", "en", "  "]],
            3,
            "pattern of topic 'delivery' is empty",
        ),
        (
            [["delivery", "logistics", "en", "courier"], ["delivery", "shipping", "en", "parcel"]],
            3,
            "topic 'delivery' has parent 'shipping' here but 'logistics' on line 2",
        ),
        ([["", "logistics", "en", "courier"]], 2, "the topic is empty"),
        ([["Delivery", "logistics", "en", "courier"]], 2, "must be lower-case"),
        ([["delivery", "logistics", "en", "del*ivery"]], 2, "'*' only at the end of a word"),
        ([["delivery", "logistics", "en", "*"]], 2, "nothing a text could match"),
        ([["delivery", "logistics", "zh", "快递*"]], 2, "zh patterns already match inside words"),
        ([["billing", "money", "en", "!"]], 2, "nothing a text could match"),
        ([["billing", "money", "en", "in ! charge"]], 2, "no punctuation inside"),
        ([["billing", "money", "zh", "!"]], 2, "nothing to match"),
    ],
)
def test_an_unusable_row_is_refused_with_its_file_and_line_named(tmp_path, rows, line, message):
    path = write_taxonomy(tmp_path / "topic_taxonomy.csv", rows)
    with pytest.raises(TaxonomyError) as refused:
        load_taxonomy(path)
    assert f"{path}:{line}:" in str(refused.value)
    assert message in str(refused.value)


def test_a_taxonomy_without_the_pattern_column_is_refused(tmp_path):
    path = write_taxonomy(
        tmp_path / "t.csv", [["delivery", "logistics", "en"]], header=("topic", "parent_topic", "language")
    )
    with pytest.raises(TaxonomyError, match=r"t\.csv:1: the header lacks the columns \['pattern'\]"):
        load_taxonomy(path)


def test_a_topic_without_a_parent_is_a_top_level_topic(tmp_path):
    taxonomy = load_taxonomy(write_taxonomy(tmp_path / "t.csv", [["praise", "", "en", "love it"]]))
    assert match_topics("I love it", "en", taxonomy) == [TopicMatch("praise", None, ("love it",))]


# --- Exclusions: an ambiguous word told apart by its neighbours -----------------------------------


@pytest.fixture
def charges(tmp_path) -> Taxonomy:
    return load_taxonomy(write_taxonomy(tmp_path / "t.csv", [
        ["billing", "money", "en", "charge"],
        ["billing", "money", "en", "!in charge"],
        ["billing", "money", "en", "in charge of my card payments"],
        ["staff_attitude", "service", "en", "in charge"],
        ["price", "money", "zh", "贵"],
        ["price", "money", "zh", "!贵公司"],
    ]))  # fmt: skip


def test_an_exclusion_keeps_its_topic_out_of_the_words_it_covers(charges):
    assert topics_of("They charge far too much", "en", charges) == ["billing"]
    assert topics_of("The manager in charge was kind", "en", charges) == ["staff_attitude"]
    # Elsewhere in the same text the word still finds the topic.
    assert match_topics("The manager in charge added a charge", "en", charges) == [
        TopicMatch("billing", "money", ("charge",)),
        TopicMatch("staff_attitude", "service", ("in charge",)),
    ]


def test_a_longer_pattern_starting_where_an_exclusion_starts_still_finds_its_topic(charges):
    assert "billing" in topics_of("The clerk in charge of my card payments was rude", "en", charges)


def test_an_exclusion_stops_only_its_own_topic(charges):
    assert topics_of("Person in charge", "en", charges) == ["staff_attitude"]


def test_a_chinese_exclusion_keeps_a_character_inside_a_longer_word_from_its_topic(charges):
    assert topics_of("贵公司的活动很好", "zh", charges) == []
    assert match_topics("太贵了", "zh", charges) == [TopicMatch("price", "money", ("贵",))]
    assert topics_of("贵公司的东西太贵了", "zh", charges) == ["price"]


def test_an_exclusion_is_part_of_the_version(tmp_path):
    rows = [["billing", "money", "en", "charge"]]
    plain = load_taxonomy(write_taxonomy(tmp_path / "a.csv", rows))
    excluding = load_taxonomy(write_taxonomy(tmp_path / "b.csv", [*rows, ["billing", "money", "en", "!in charge"]]))
    assert plain.version != excluding.version


# --- The starter taxonomy's rules for ambiguous words (found on the development set) -------------


@pytest.mark.parametrize(
    ("language", "text", "expected"),
    [
        # English: a phrase that uses a topic word in another sense.
        ("en", "Free of charge gift wrapping, and the manager in charge was polite", ["staff_attitude"]),
        ("en", "I will definitely return to this shop", []),
        ("en", "The holiday package was cancelled", []),
        ("en", "Signing up failed, the verification code never arrived", ["onboarding"]),
        ("en", "The lamp looks cheap and the switch is loose", ["product_quality"]),
        ("en", "Cheap and quick", ["price"]),
        # Polish: a verb or idiom that shares a topic word's stem.
        ("pl", "Rejestracja trwała wieki", ["onboarding"]),
        ("pl", "Rozmiar odpowiada opisowi", ["product_quality"]),
        ("pl", "Ten model w pełni mi odpowiada", []),
        ("pl", "Nikt mi nie odpowiada od tygodnia", ["support_speed"]),
        ("pl", "Karta podarunkowa to świetny prezent", []),
        ("pl", "Straciłem cierpliwość", []),
        ("pl", "Świetne rozwiązanie na mały balkon", []),
        ("pl", "Szybko rozwiązali mój problem", ["support_speed"]),
        ("pl", "Doszło do pomyłki w zamówieniu", []),
        ("pl", "Strona nie przyjmuje mojego kodu pocztowego", ["app_website"]),
        # French: folded diacritics made "coût*" match "couture"; greetings and idioms.
        ("fr", "Les coutures ont lâché", ["product_quality"]),
        ("fr", "Ça coûte trop", ["price"]),
        ("fr", "Cher client, merci pour votre message", []),
        ("fr", "Bon rapport qualité prix", ["price"]),
        ("fr", "Trois mails envoyés, aucun retour", ["support_speed"]),
        ("fr", "Je veux un retour et un remboursement", ["returns_refunds"]),
        ("fr", "Le produit répond parfaitement à mes attentes", []),
        ("fr", "Colis bloqué en douane", ["delivery"]),
        ("fr", "J'ai suivi vos conseils", []),
        ("fr", "Pas de ticket de caisse", ["billing"]),
        # Persian: a closed shop, a person coming back, "some", a message sent.
        ("fa", "مغازه بسته بود و برگشتم", []),
        ("fa", "بسته‌ام هنوز نرسیده", ["delivery"]),
        ("fa", "پاره‌ای از مشکلات حل شد", []),
        ("fa", "شلوار بعد از یه هفته پاره شد", ["product_quality"]),
        ("fa", "یه پیام ارسال کردم", []),
        ("fa", "دیر رسیدم به شعبه", []),
        # Chinese: a character inside a polite or idiomatic word.
        ("zh", "贵公司的服务一直很好", []),
        ("zh", "用了没到一个月", []),
        ("zh", "退款还没到账", ["returns_refunds"]),
        ("zh", "快递还没到", ["delivery"]),
        ("zh", "这个应用场景很好", []),
        # Paying for something is not a billing problem; "sympa" is said of products too.
        ("fr", "J'ai payé la livraison express", ["delivery"]),
        ("fr", "J'ai payé deux fois", ["billing"]),
        ("pl", "Zapłaciłem za ekspres, a paczka szła 6 dni", ["delivery"]),
        ("fr", "Produit sympa", []),
        # Words that were missing.
        ("en", "Stuck in customs for two weeks", ["delivery"]),
        ("zh", "在海关卡了两个星期", ["delivery"]),
        ("en", "My card was debited", ["billing"]),
        ("zh", "收银员翻白眼", ["staff_attitude"]),
    ],
)
def test_an_ambiguous_word_finds_its_topic_only_in_the_sense_of_the_topic(taxonomy, language, text, expected):
    assert topics_of(text, language, taxonomy) == expected


# --- Floors --------------------------------------------------------------------------------------


def test_the_development_set_is_large_enough_and_labelled_with_the_starter_topics():
    rows = read_labels(DEV_CSV)
    per_language = {language: [r for r in rows if r.language == language] for language in LANGUAGES}
    assert {language: len(found) >= 100 for language, found in per_language.items()} == dict.fromkeys(LANGUAGES, True)
    assert {t for r in rows for t in r.topics} == STARTER_TOPICS
    assert all(any(not r.topics for r in found) for found in per_language.values())  # off-topic text too
    assert len({r.id for r in rows}) == len(rows)


def test_the_regex_baseline_finds_what_the_pipeline_finds_exclusions_included(taxonomy):
    # The speed comparison in scripts/evaluate_topics.py is only fair if both do the same work.
    baseline = regex_baseline(taxonomy)
    different = [r.id for r in read_labels(DEV_CSV)
                 if baseline(r.text, r.language) != set(topics_of(r.text, r.language, taxonomy))]
    assert different == []


# A change that makes the taxonomy worse fails here; raise a floor when it improves. Percentages,
# micro-averaged over (verbatim, topic) pairs (scripts/evaluate_topics.py). The development set is
# where errors are read and fixed, so its figures flatter the taxonomy; the held-out set was
# measured once, after the fixes.
DEV_PRECISION_FLOOR = {"en": 93, "pl": 95, "fr": 92, "fa": 95, "zh": 97, "overall": 94}
DEV_RECALL_FLOOR = {"en": 78, "pl": 86, "fr": 85, "fa": 87, "zh": 83, "overall": 84}
HELDOUT_PRECISION_FLOOR = {"en": 95, "pl": 89, "fr": 89, "fa": 87, "zh": 91, "overall": 90}
HELDOUT_RECALL_FLOOR = {"en": 72, "pl": 71, "fr": 77, "fa": 77, "zh": 70, "overall": 73}


@pytest.mark.parametrize(
    ("path", "precision_floor", "recall_floor"),
    [(DEV_CSV, DEV_PRECISION_FLOOR, DEV_RECALL_FLOOR), (HELDOUT_CSV, HELDOUT_PRECISION_FLOOR, HELDOUT_RECALL_FLOOR)],
    ids=["dev", "heldout"],
)
def test_precision_and_recall_do_not_fall(taxonomy, path, precision_floor, recall_floor):
    measured = score_by_language(read_labels(path), taxonomy)
    assert {k: 100 * measured[k].precision >= floor for k, floor in precision_floor.items()} == dict.fromkeys(
        precision_floor, True
    )
    assert {k: 100 * measured[k].recall >= floor for k, floor in recall_floor.items()} == dict.fromkeys(
        recall_floor, True
    )


def test_held_out_precision_meets_the_issue_target_overall(taxonomy):
    from scripts.evaluate_topics import REQUIRED_PRECISION

    assert score_by_language(read_labels(HELDOUT_CSV), taxonomy)["overall"].precision >= REQUIRED_PRECISION
