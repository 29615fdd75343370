"""Discovered topics: per language, the term clusters of recent verbatims, for an analyst to promote.

The core (texts -> clusters) is tested on hand-built corpora without a database; one integration
test runs it against a warehouse built the way a night builds it.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from enrichment import discover as discovery
from enrichment.discover import MIN_TEXTS, Cluster, discover, discover_recent

# Forty Polish complaints about two things (a late courier; a card charged twice), in varied
# wording, with and without diacritics, and six texts about neither.
LATE_COURIER = [
    "Kurier spóźnił się trzy dni z paczką",
    "Paczka przyszła z opóźnieniem, kurier nie dzwonił",
    "kurier znowu sie spoznil, paczka po tygodniu",
    "Kurier zostawił paczkę u sąsiada i się spóźnił",
    "Czekałam na kuriera cały dzień, paczka dotarła następnego",
    "Paczka opóźniona, kurier nie odbiera telefonu",
    "Kurier przyjechał dwa dni po terminie",
    "Spóźniony kurier i zgnieciona paczka",
    "Paczka utknęła u kuriera na tydzień",
    "Kurier nie przyjechał w ustalonym dniu, paczka opóźniona",
    "Opóźnienie paczki, kurier bez kontaktu",
    "Kurierzy ciągle się spóźniają z moimi paczkami",
    "Paczka szła tydzień, kurier twierdził że mnie nie było",
    "Kurier spóźniony o cztery dni",
    "Znowu opóźniona paczka, kurier to porażka",
    "Paczki od was zawsze spóźnione, kurier jak zwykle",
    "Kurier dostarczył paczkę z dwudniowym opóźnieniem",
    "Paczka miała być we wtorek, kurier przyszedł w piątek",
    "Kurier spóźnił się z paczką na urodziny",
    "Paczka wciąż u kuriera, spóźnienie już tydzień",
]
CHARGED_TWICE = [
    "Karta obciążona dwa razy za jedno zamówienie",
    "Pobrali pieniądze z karty dwukrotnie",
    "Dwa razy obciążyli moją kartę",
    "karta obciazona podwojnie, prosze o wyjasnienie",
    "Na karcie widzę dwa obciążenia za to samo",
    "Podwójne obciążenie karty przy płatności",
    "Obciążenie karty dwa razy, a zamówienie jedno",
    "Moja karta została obciążona dwukrotnie",
    "Karta kredytowa obciążona podwójnie",
    "Ściągnęli z karty dwa razy tę samą kwotę",
    "Dwukrotne obciążenie karty, czekam na zwrot różnicy",
    "Podwójna płatność kartą za jedno zamówienie",
    "Karta obciążona podwójnie, nikt nie wyjaśnia",
    "Obciążyli kartę dwa razy za jedną rzecz",
    "Dwa obciążenia na karcie zamiast jednego",
    "Kartę obciążono dwukrotnie przy jednym zakupie",
    "Płatność kartą pobrana podwójnie",
    "Karta obciążona dwa razy, bank potwierdza",
    "Podwójne pobranie z karty za zamówienie",
    "Karta obciążona dwukrotnie, proszę o korektę",
]
NOISE = [
    "Dziękuję, wszystko w porządku",
    "Polecam ten sklep znajomym",
    "Ładny kolor, zgodny ze zdjęciem",
    "Zamawiam tu od lat",
    "Czy będzie promocja w grudniu?",
    "Miła pani w sklepie stacjonarnym",
]
POLISH = LATE_COURIER + CHARGED_TWICE + NOISE

# Chinese, written without spaces: a slow courier and a double charge.
SLOW_COURIER_ZH = [
    "快递太慢了，等了一个星期", "快递三天还没到", "快递一直不送，太慢", "等快递等了五天", "快递慢得离谱",
    "快递员说明天送，又没送", "这次快递特别慢", "快递到得太慢了", "快递走了一周才到", "快递慢，催了也没用",
    "快递太慢，下次不买了", "快递停在中转站三天", "快递拖了好多天", "快递慢死了", "快递又延迟了",
    "快递怎么这么慢", "快递一周才送到", "快递太慢耽误事", "快递慢了整整四天", "快递比说好的晚了三天",
]
CHARGED_TWICE_ZH = [
    "扣了两次钱", "同一单被扣了两次钱", "银行卡扣了两次", "付款扣了两次钱", "被重复扣钱了", "一个订单扣两次钱",
    "扣了我两次钱，请退一次", "信用卡被扣了两次", "怎么扣了两次钱", "支付扣了两次", "两次扣钱，客服不理",
    "买一次扣两次钱", "钱扣了两次还没退", "扣了两次钱，太过分", "账户被扣两次钱", "重复扣钱两次",
    "扣两次钱是什么情况", "扣了两次钱，要求退还", "昨天扣了两次钱", "订单扣了两次钱",
]


@pytest.fixture(scope="module")
def polish() -> list[Cluster]:
    return discover(POLISH, "pl")


def test_two_complaints_become_two_clusters_named_by_their_own_words(polish):
    assert [c.rank for c in polish] == [1, 2]
    courier, charge = polish
    # Terms are shown normalised (diacritics folded), as the taxonomy matches them.
    assert courier.top_terms[:2] == ("kurier", "paczka")
    assert charge.top_terms[:2] == ("karta", "obciazona")


def test_each_complaint_lands_whole_in_its_own_cluster(polish):
    courier, charge = polish
    assert set(range(0, 20)) <= set(courier.members)
    assert set(range(20, 40)) <= set(charge.members)
    assert not set(courier.members) & set(charge.members)


def test_a_cluster_counts_its_verbatims_and_its_share_of_the_language(polish):
    for cluster in polish:
        assert cluster.verbatims == len(cluster.members)
        assert cluster.share == cluster.verbatims / len(POLISH)


def test_examples_are_distinct_texts_of_the_cluster_as_written(polish):
    courier, charge = polish
    assert len(courier.examples) == len(set(courier.examples)) == discovery.EXAMPLES
    assert set(courier.examples) <= set(LATE_COURIER)
    assert set(charge.examples) <= set(CHARGED_TWICE)
    assert "Kurier spóźnił się trzy dni z paczką" in courier.examples  # the customer's spelling, not the folded one


def test_a_cluster_says_which_taxonomy_topics_its_top_terms_already_find(polish):
    assert [c.taxonomy_topics for c in polish] == [("delivery",), ("billing",)]


def test_a_cluster_the_taxonomy_does_not_know_is_marked_with_no_topic():
    pets = [f"Mój {animal} uwielbia tę karmę, {animal} je ze smakiem" for animal in ("kot", "pies")] * 10
    weather = [f"Pogoda {day} była {kind}, deszcz i wiatr" for day in ("wczoraj", "dziś") for kind in
               ("okropna", "zmienna", "chłodna", "wietrzna", "paskudna")] * 2
    clusters = discover(pets + weather, "pl")
    assert [c.taxonomy_topics for c in clusters] == [(), ()]


def test_chinese_is_clustered_on_character_pairs_without_a_segmenter():
    clusters = discover(SLOW_COURIER_ZH + CHARGED_TWICE_ZH + ["谢谢", "很好", "一般"], "zh")
    assert [(c.members, c.taxonomy_topics) for c in clusters] == [
        (tuple(range(20, 40)), ("billing",)),
        (tuple(range(0, 20)), ("delivery",)),
    ]
    assert "快递" in clusters[1].top_terms and "两次" in clusters[0].top_terms


def test_a_language_with_fewer_texts_than_the_minimum_gets_no_cluster():
    assert discover(POLISH[: MIN_TEXTS - 1], "pl") == []
    assert discover(POLISH[:MIN_TEXTS], "pl") != []


def test_texts_without_words_give_no_cluster():
    assert discover([f"{i} 👍 {i * 7}!" for i in range(MIN_TEXTS)], "pl") == []


def test_the_same_texts_give_the_same_clusters(polish):
    assert discover(list(POLISH), "pl") == polish


def test_only_the_first_texts_up_to_the_cap_are_read(monkeypatch):
    monkeypatch.setattr(discovery, "SAMPLE_PER_LANGUAGE", 40)
    # Past the cap: forty more charge complaints that would otherwise outnumber the couriers.
    clusters = discover(LATE_COURIER + CHARGED_TWICE + CHARGED_TWICE * 2, "pl")
    assert [c.verbatims for c in clusters] == [20, 20]
    assert all(c.share == 0.5 for c in clusters)


# --- Against the warehouse -----------------------------------------------------------------------


@pytest.mark.integration
def test_a_rerun_for_the_same_window_replaces_its_rows_and_leaves_other_windows(warehouse_session):
    from dags.cxloop_nightly import BUILD_BEFORE_ENRICHMENT
    from enrichment import analyse
    from ingest import warehouse
    from tests.shop import at, empty_warehouse, land, land_the_shop, ticket
    from tests.shop import dbt as run_dbt

    empty_warehouse(warehouse_session)
    land_the_shop()
    complaints = [*LATE_COURIER, *CHARGED_TWICE, *SLOW_COURIER_ZH[:5]]
    land("zendesk", "tickets", [
        {**ticket(1000 + i, 90, "web", at(10 + i % 15, 9 + i % 8), "open"), "description": text}
        for i, text in enumerate(complaints)
    ])  # fmt: skip
    window_end = datetime(2026, 4, 1, tzinfo=UTC)
    stored = """select language, cluster_rank, top_terms[1:2], taxonomy_topics, verbatims, sampled_verbatims
                from enrichment.discovered_topics where window_end = %s order by language, cluster_rank"""
    with warehouse.connect(warehouse_session) as conn:
        run_dbt(*BUILD_BEFORE_ENRICHMENT)
        analyse.analyse_pending(conn)
        conn.commit()

        first = discover_recent(conn, window_end, days=30)
        rows = conn.execute(stored, (window_end,)).fetchall()
        assert first.clusters == {"pl": 2} and "zh" in first.skipped  # five Chinese texts: below the minimum
        # Ranked by size; the shop's own short Polish tickets join one or the other.
        assert [row[1] for row in rows] == [1, 2] and rows[0][4] >= rows[1][4] >= 20
        assert sorted((row[0], row[2], row[3]) for row in rows) == [
            ("pl", ["karta", "obciazona"], ["billing"]),
            ("pl", ["kurier", "paczka"], ["delivery"]),
        ]
        assert rows[0][5] == rows[1][5] >= 40  # the language's texts in the window, the same for each cluster

        # Another window (a day earlier) is its own rows; rerunning the first replaces only its own.
        earlier = discover_recent(conn, datetime(2026, 3, 31, tzinfo=UTC), days=30)
        rerun = discover_recent(conn, window_end, days=30)
        assert rerun == first and earlier.clusters == {"pl": 2}
        assert conn.execute(stored, (window_end,)).fetchall() == rows
        assert conn.execute(
            "select window_end, count(*) from enrichment.discovered_topics group by window_end order by window_end"
        ).fetchall() == [(datetime(2026, 3, 31, tzinfo=UTC), 2), (window_end, 2)]
