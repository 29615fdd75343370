"""Hostile file drops: every line lands or is rejected with its file and line, one bad file never
holds back the others, and a fixed file (or a fixed config) lands on the next run."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime

import pytest

from ingest import files, runner
from ingest.streams import Window

WINDOW = Window(None, datetime(2026, 3, 10, tzinfo=UTC))
DATASETS = {
    "audits": {"pattern": "audits*.csv", "key": "audit_id", "updated_at": "visited_at"},
    "surveys": {"pattern": "surveys*.jsonl", "key": "response_id", "updated_at": "answered_at"},
}
HEADER = "audit_id,store,visited_at,notes\n"
AT = "2026-03-01T10:00:00Z"
SURVEYS = (f'{{"response_id": "S-1", "answered_at": "{AT}", "nps": 9}}\n'
           f'{{"response_id": "S-2", "answered_at": "{AT}", "nps": 4}}\n')
GOOD = {"surveys:S-1", "surveys:S-2"}


@pytest.fixture
def drop(tmp_path, monkeypatch):
    folder = tmp_path / "drop"
    folder.mkdir()
    configure(monkeypatch, folder)
    write(folder, "surveys_ok.jsonl", SURVEYS)  # the good file of every batch
    return folder


def configure(monkeypatch, folder, **changes):
    datasets = {name: {**spec, **changes.get(name, {})} for name, spec in DATASETS.items()}
    monkeypatch.setenv("AIRFLOW_CONN_CXLOOP_FILES", json.dumps(
        {"conn_type": "fs", "extra": {"path": str(folder), "datasets": datasets}}))


def write(folder, name, text, encoding="utf-8"):
    path = folder / name
    path.write_bytes(text.encode(encoding) if isinstance(text, str) else text)
    return path


def run(db):
    """One run of the files source; the batch's audit row must account for every record."""
    result = runner.run_source("files", WINDOW)[0]
    audited = db.execute("select fetched, landed, rejected from audit.load_batches where batch_id = %s",
                         (result.batch_id,)).fetchone()
    assert audited == (result.fetched, result.landed, result.rejected)
    assert result.fetched == result.landed + result.rejected
    return result


def counts(result):
    return result.fetched, result.landed, result.rejected


def rows(db, *fields):
    """Landed rows by key: the named fields of each record."""
    return {key: tuple(record.get(f) for f in fields)
            for key, record in db.execute("select record_key, record from raw.files_records")}


def keys(db):
    return {key for (key,) in db.execute("select record_key from raw.files_records")}


def reasons(db, result):
    """The reasons of the batch's rejects, in the order its records were read."""
    return [reason for (reason,) in db.execute(
        "select reason from raw._rejected where batch_id = %s order by rejected_id", (result.batch_id,))]


def ledger(db):
    return {path for (path,) in db.execute("select path from raw._files_loaded")}


def test_an_unterminated_quote_rejects_its_line_and_the_lines_after_it_land(db, drop):
    audits = write(drop, "audits_1.csv", HEADER + f"A-1,Store 1,{AT},fine\n"
                   f'A-2,Store 2,{AT},"Best store ever\n'
                   f"A-3,Store 3,{AT},ok\n"
                   f"A-4,Store 4,{AT},meh\n")
    first = run(db)
    assert counts(first) == (6, 5, 1)
    assert keys(db) == {"audits:A-1", "audits:A-3", "audits:A-4"} | GOOD
    assert reasons(db, first) == [
        "unparseable line 3 of audits_1.csv: a quote opened on this line is never closed "
        "(the file ends inside it)"]
    assert ledger(db) == {"audits_1.csv", "surveys_ok.jsonl"}

    audits.write_text(audits.read_text().replace('"Best store ever', '"Best store ever"'))
    fixed = run(db)
    assert (counts(fixed), fixed.inserted) == ((4, 4, 0), 1)
    assert rows(db, "notes")["audits:A-2"] == ("Best store ever",)


def test_a_quote_left_open_over_whole_rows_is_rejected_even_when_a_later_quote_closes_it(db, drop):
    # The open quote of line 3 is closed by the inch mark of line 5: read naively, the record has
    # the header's width and lines 4 and 5 vanish inside A-2's notes.
    lines = [HEADER, f"A-1,Store 1,{AT},fine\n", f'A-2,Store 2,{AT},"Best store\n', f"A-3,Store 3,{AT},ok\n",
             f"A-4,Store 4,{AT},shopper was 5'10\"\n", f"A-5,Store 5,{AT},meh\n"]
    audits = write(drop, "audits_1.csv", "".join(lines))
    first = run(db)
    assert counts(first) == (7, 6, 1)
    assert rows(db, "notes") == {"audits:A-1": ("fine",), "audits:A-3": ("ok",), "audits:A-4": ("shopper was 5'10\"",),
                                 "audits:A-5": ("meh",), "surveys:S-1": (None,), "surveys:S-2": (None,)}
    assert reasons(db, first) == [
        "unparseable line 3 of audits_1.csv: a quote opened on this line is still open on line 4, "
        "which reads as a row of its own"]

    lines[2] = f'A-2,Store 2,{AT},"Best store"\n'
    audits.write_text("".join(lines))
    fixed = run(db)
    assert (counts(fixed), fixed.inserted) == ((5, 5, 0), 1)
    assert rows(db, "notes")["audits:A-2"] == ("Best store",)


def test_a_quote_that_opens_a_value_and_closes_on_the_next_row_is_rejected(db, drop):
    # Nothing lies between the two quotes but the rest of line 3 and the start of line 4.
    write(drop, "audits_1.csv", HEADER + f'A-1,Store 1,{AT},"Best store\n'
          f"A-2,Store 2,{AT},5'10\"\n"
          f"A-3,Store 3,{AT},ok\n")
    result = run(db)
    assert counts(result) == (5, 4, 1)
    assert rows(db, "notes") == {"audits:A-2": ("5'10\"",), "audits:A-3": ("ok",),
                                 "surveys:S-1": (None,), "surveys:S-2": (None,)}
    assert reasons(db, result) == [
        "unparseable line 2 of audits_1.csv: a quote opened on this line is still open on "
        "line 3, which reads as a row of its own"]


def test_a_quote_closed_in_the_middle_of_a_value_rejects_only_its_line(db, drop):
    audits = write(drop, "audits_1.csv", HEADER + f'A-1,Store 1,{AT},"great" shop\nA-2,Store 2,{AT},ok\n')
    result = run(db)
    assert counts(result) == (4, 3, 1)
    assert keys(db) == {"audits:A-2"} | GOOD
    assert reasons(db, result) == [
        "unparseable line 2 of audits_1.csv: a quoted value goes on after its closing quote "
        "(a quote inside a quoted value is written twice)"]
    original = json.loads(db.execute("select original from raw._rejected").fetchone()[0])
    assert (original["_file"], original["_row"], original["_line"]) == (
        "audits_1.csv", 2, f'A-1,Store 1,{AT},"great" shop\n')

    audits.write_text(HEADER + f'A-1,Store 1,{AT},"""great"" shop"\nA-2,Store 2,{AT},ok\n')
    assert counts(run(db)) == (2, 2, 0)
    assert rows(db, "notes")["audits:A-1"] == ('"great" shop',)


def test_a_stray_quote_inside_an_unquoted_value_is_kept_as_text(db, drop):
    write(drop, "audits_1.csv", HEADER + f"A-1,Store 1,{AT},shopper was 5'10\" and \"kind\n"
          f"A-2,Store 2,{AT},ok\n")
    first = run(db)
    assert counts(first) == (4, 4, 0)
    assert rows(db, "notes")["audits:A-1"] == ("shopper was 5'10\" and \"kind",)
    assert reasons(db, first) == []
    assert counts(run(db)) == (0, 0, 0)


def test_quoted_values_with_line_breaks_commas_and_doubled_quotes_land_whole(db, drop):
    write(drop, "audits_1.csv", "audit_id,visited_at,notes,store\r\n"
          f'A-1,{AT},"Line one\r\nline two, with a comma\r\nsaid ""hi""",Store 1\r\n'
          f'A-2,{AT},"Great\nI came, I saw",Store 2\r\n'
          f"A-3,{AT},,Store 3\r\n")
    result = run(db)
    assert counts(result) == (5, 5, 0)
    assert rows(db, "notes", "store", "_row") == {
        "audits:A-1": ('Line one\r\nline two, with a comma\r\nsaid "hi"', "Store 1", 2),
        "audits:A-2": ("Great\nI came, I saw", "Store 2", 5),
        "audits:A-3": ("", "Store 3", 7),
        "surveys:S-1": (None, None, 1), "surveys:S-2": (None, None, 2),
    }


def test_a_row_with_more_or_fewer_values_than_the_header_is_rejected_by_line(db, drop):
    audits = write(drop, "audits_1.csv", HEADER + f"A-1,Store 1,{AT},fine,extra\n"
                   "A-2,Store 2\n"
                   "\n"
                   f"A-3,Store 3,{AT},ok\n")
    result = run(db)
    assert counts(result) == (5, 3, 2)
    assert keys(db) == {"audits:A-3"} | GOOD
    assert reasons(db, result) == [
        "unparseable line 2 of audits_1.csv: 5 values where the header has 4 columns",
        "unparseable line 3 of audits_1.csv: 2 values where the header has 4 columns"]

    audits.write_text(HEADER + f"A-1,Store 1,{AT},\"fine,extra\"\nA-2,Store 2,{AT},\n\nA-3,Store 3,{AT},ok\n")
    fixed = run(db)
    assert (counts(fixed), fixed.inserted) == ((3, 3, 0), 2)


def test_a_latin1_file_is_rejected_whole_until_its_encoding_is_declared(db, drop, monkeypatch):
    write(drop, "audits_1.csv", HEADER + f"A-1,Café du Parc,{AT},très bien\n", encoding="latin-1")
    write(drop, "audits_2.csv", HEADER + f"A-9,Store 9,{AT},ok\n")
    first = run(db)
    assert counts(first) == (4, 3, 1)
    assert keys(db) == {"audits:A-9"} | GOOD
    assert reasons(db, first) == [
        f"unreadable file audits_1.csv: not utf-8 text: invalid continuation byte, byte 0xe9 at byte offset "
        f"{len(HEADER + 'A-1,Caf')}; declare the dataset's \"encoding\" in connection cxloop_files or re-export the "
        "file as UTF-8"]
    assert ledger(db) == {"audits_2.csv", "surveys_ok.jsonl"}  # the rejected file is not marked loaded
    again = run(db)
    assert counts(again) == (1, 0, 1)  # read again: rejected again, in this run's batch
    assert reasons(db, again) == reasons(db, first)

    configure(monkeypatch, drop, audits={"encoding": "latin-1"})
    fixed = run(db)
    assert (counts(fixed), fixed.inserted) == ((1, 1, 0), 1)
    assert rows(db, "store", "notes")["audits:A-1"] == ("Café du Parc", "très bien")
    assert ledger(db) == {"audits_1.csv", "audits_2.csv", "surveys_ok.jsonl"}


def test_a_utf16_export_is_named_as_such_and_lands_once_declared(db, drop, monkeypatch):
    write(drop, "audits_1.csv", HEADER + f"A-1,Zürich,{AT},ok\n", encoding="utf-16")
    first = run(db)
    assert counts(first) == (3, 2, 1)
    assert reasons(db, first) == [
        "unreadable file audits_1.csv: not utf-8 text (the file starts with a UTF-16 byte-order mark): invalid "
        "start byte, byte 0xff at byte offset 0; declare the dataset's \"encoding\" in connection cxloop_files or "
        "re-export the file as UTF-8"]

    configure(monkeypatch, drop, audits={"encoding": "utf-16"})
    assert counts(run(db)) == (1, 1, 0)
    assert rows(db, "store")["audits:A-1"] == ("Zürich",)


def test_a_utf8_byte_order_mark_is_not_part_of_the_first_column_name(db, drop):
    write(drop, "audits_1.csv", b"\xef\xbb\xbf" + (HEADER + f"A-1,Store 1,{AT},ok\n").encode())
    assert counts(run(db)) == (3, 3, 0)
    assert rows(db, "audit_id")["audits:A-1"] == ("A-1",)


def test_a_value_of_a_mebibyte_lands(db, drop):
    notes = "x" * (1 << 20)
    write(drop, "audits_1.csv", HEADER + f'A-1,Store 1,{AT},"{notes}"\nA-2,Store 2,{AT},ok\n')
    assert counts(run(db)) == (4, 4, 0)
    assert db.execute("select length(record->>'notes') from raw.files_records where record_key = 'audits:A-1'"
                      ).fetchone() == (1 << 20,)


def test_a_value_longer_than_a_row_of_the_warehouse_holds_is_rejected_by_line(db, drop, monkeypatch):
    monkeypatch.setattr(files, "MAX_ROW_BYTES", 4096)  # the real bound, 256 MiB, is too big for a test
    write(drop, "audits_1.csv", HEADER + f'A-1,Store 1,{AT},"{"x" * 5000}"\nA-2,Store 2,{AT},ok\n')
    big = {"response_id": "S-3", "answered_at": AT, "text": "y" * 40_000}
    write(drop, "surveys_big.jsonl", json.dumps(big) + f'\n{{"response_id": "S-4", "answered_at": "{AT}"}}\n')
    first = run(db)
    assert counts(first) == (6, 4, 2)
    assert keys(db) == {"audits:A-2", "surveys:S-4"} | GOOD
    assert reasons(db, first) == [
        "unparseable line 2 of audits_1.csv: a value is longer than the 4096 characters a row of the warehouse "
        "holds",
        f"unparseable line 1 of surveys_big.jsonl: it is {len(json.dumps(big, separators=(',', ':')))} bytes as JSON, "
        "more than the 4096 a row of the warehouse holds",
    ]


def test_missing_unparseable_out_of_range_and_nan_timestamps_are_rejected_by_line(db, drop):
    audits = write(drop, "audits_1.csv", HEADER + "A-1,Store 1,0000-01-01,year zero\n"
                   "A-2,Store 2,10000-01-01,year ten thousand\n"
                   "A-3,Store 3,NaN,not a number\n"
                   "A-4,Store 4,,empty\n"
                   "A-5,Store 5,9999-12-31T23:00:00-05:00,past 9999 in UTC\n"
                   f"A-6,Store 6,{AT},fine\n")
    write(drop, "surveys_1.jsonl", '{"response_id": "S-3", "answered_at": 1e20}\n'
          '{"response_id": "S-4", "answered_at": NaN}\n'
          '{"response_id": "S-5"}\n'
          '{"response_id": "S-6", "answered_at": 1772323200}\n')
    result = run(db)
    assert counts(result) == (12, 4, 8)
    assert keys(db) == {"audits:A-6", "surveys:S-6"} | GOOD
    assert reasons(db, result) == [
        "no updated-at: column 'visited_at' on line 2 of audits_1.csv holds '0000-01-01', which is out of range",
        "no updated-at: column 'visited_at' on line 3 of audits_1.csv holds '10000-01-01', which is not a "
        "timestamp",
        "no updated-at: column 'visited_at' on line 4 of audits_1.csv holds 'NaN', which is not a timestamp",
        "no updated-at: column 'visited_at' on line 5 of audits_1.csv is empty",
        "no updated-at: column 'visited_at' on line 6 of audits_1.csv holds '9999-12-31T23:00:00-05:00', which "
        "is out of range",
        "no updated-at: column 'answered_at' on line 1 of surveys_1.jsonl holds 1e+20, which is out of range",
        "unparseable line 2 of surveys_1.jsonl: NaN is not a JSON number (PostgreSQL cannot store it)",
        "no updated-at: column 'answered_at' on line 3 of surveys_1.jsonl is missing",
    ]

    audits.write_text(audits.read_text().replace("0000-01-01", AT))
    fixed = run(db)
    assert (counts(fixed), fixed.inserted) == ((6, 2, 4), 1)
    assert "audits:A-1" in keys(db)


def test_a_file_whose_every_row_is_rejected_is_read_again_once_its_config_is_fixed(db, drop, monkeypatch):
    configure(monkeypatch, drop, audits={"key": "id"})  # the export calls it audit_id
    write(drop, "audits_1.csv", HEADER + f"A-1,Store 1,{AT},ok\nA-2,Store 2,{AT},fine\n")
    first = run(db)
    assert counts(first) == (3, 2, 1)
    assert reasons(db, first) == [
        "unreadable file audits_1.csv: its header (line 1) has no column 'id', the dataset's "
        "key; its columns are 'audit_id', 'store', 'visited_at', 'notes'"]
    assert ledger(db) == {"surveys_ok.jsonl"}

    configure(monkeypatch, drop)
    fixed = run(db)
    assert (counts(fixed), fixed.inserted) == ((2, 2, 0), 2)
    assert ledger(db) == {"audits_1.csv", "surveys_ok.jsonl"}
    assert counts(run(db)) == (0, 0, 0)


def test_a_file_whose_every_row_is_rejected_lands_when_it_is_dropped_again_corrected(db, drop):
    broken = write(drop, "audits_1.csv", HEADER + "A-1,Store 1,yesterday,ok\nA-2,Store 2,,fine\n")
    assert counts(run(db)) == (4, 2, 2)
    assert ledger(db) == {"surveys_ok.jsonl"}
    assert counts(run(db)) == (2, 0, 2)  # still in the folder, still refused, never marked loaded

    broken.unlink()
    write(drop, "audits_1_fixed.csv", HEADER + f"A-1,Store 1,{AT},ok\nA-2,Store 2,{AT},fine\n")
    assert counts(run(db)) == (2, 2, 0)
    assert keys(db) == {"audits:A-1", "audits:A-2"} | GOOD
    assert ledger(db) == {"audits_1_fixed.csv", "surveys_ok.jsonl"}


def test_an_empty_file_and_a_header_only_file_are_recorded_as_loaded(db, drop):
    write(drop, "audits_empty.csv", "")
    write(drop, "audits_header.csv", HEADER)
    assert counts(run(db)) == (2, 2, 0)
    assert ledger(db) == {"audits_empty.csv", "audits_header.csv", "surveys_ok.jsonl"}


def test_a_symlink_to_a_file_outside_the_folder_is_refused_and_never_read(db, drop, tmp_path):
    outside = write(tmp_path, "secret.csv", HEADER + f"A-666,Back office,{AT},not for the warehouse\n")
    (drop / "audits_link.csv").symlink_to(outside)
    (drop / "audits_again.csv").symlink_to(drop / "surveys_ok.jsonl")  # a link inside the folder is refused too
    result = run(db)
    assert counts(result) == (4, 2, 2)
    assert keys(db) == GOOD
    assert reasons(db, result) == [
        f"refused audits_again.csv: a symbolic link (to {drop / 'surveys_ok.jsonl'}); only regular files inside "
        "the drop folder are read, copy the file in instead",
        f"refused audits_link.csv: a symbolic link (to {outside}); only regular files inside the drop folder are "
        "read, copy the file in instead",
    ]
    assert ledger(db) == {"surveys_ok.jsonl"}

    (drop / "audits_link.csv").unlink()
    (drop / "audits_again.csv").unlink()
    write(drop, "audits_1.csv", outside.read_bytes())  # copied in, as the reason says
    assert counts(run(db)) == (1, 1, 0)
    assert "audits:A-666" in keys(db)


def test_a_symlinked_folder_is_refused_and_not_walked(db, drop, tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    write(elsewhere, "audits_1.csv", HEADER + f"A-1,Store 1,{AT},ok\n")
    (drop / "more").symlink_to(elsewhere, target_is_directory=True)
    (drop / "loop").symlink_to(drop, target_is_directory=True)
    first = run(db)
    assert counts(first) == (4, 2, 2)
    assert keys(db) == GOOD
    assert reasons(db, first) == [
        f"refused loop: a symbolic link (to {drop}); only regular files inside the drop folder are read, copy "
        "the file in instead",
        f"refused more: a symbolic link (to {elsewhere}); only regular files inside the drop folder are read, "
        "copy the file in instead",
    ]


def test_json_lines_postgres_cannot_store_are_rejected_by_line(db, drop):
    write(drop, "surveys_1.jsonl", "\n".join([
        f'{{"response_id": "S-3", "answered_at": "{AT}", "text": "a\\u0000b"}}',
        f'{{"response_id": "S-4", "answered_at": "{AT}", "text": "\\ud800"}}',
        f'{{"response_id": "S-5", "answered_at": "{AT}", "nps": 1e999}}',
        f'{{"response_id": "S-6", "answered_at": "{AT}", "nps": Infinity}}',
        "[" * 100_000,
        f'{{"response_id": "S-7", "answered_at": "{AT}", "nps": {"9" * 5000}}}',
        f'{{"response_id": "S-8", "answered_at": "{AT}", "text": "\\ud83d\\ude00"}}',
        '["not", "an", "object"]',
        f'{{"response_id": {{"id": 9}}, "answered_at": "{AT}"}}',
        f'{{"response_id": "S-10", "answered_at": "{AT}", "_file": "forged.csv"}}',
        "",
    ]))
    result = run(db)
    assert counts(result) == (12, 3, 9)
    assert rows(db, "text") == {"surveys:S-8": ("\U0001f600",), "surveys:S-1": (None,), "surveys:S-2": (None,)}
    assert reasons(db, result) == [
        "unparseable line 1 of surveys_1.jsonl: it holds a NUL character (or the text \\u0000), which PostgreSQL "
        "cannot store",
        "unparseable line 2 of surveys_1.jsonl: it holds an unpaired UTF-16 surrogate, which is not text",
        "unparseable line 3 of surveys_1.jsonl: number '1e999' is too large for a JSON number PostgreSQL can store",
        "unparseable line 4 of surveys_1.jsonl: Infinity is not a JSON number (PostgreSQL cannot store it)",
        "unparseable line 5 of surveys_1.jsonl: nested too deeply",
        "unparseable line 6 of surveys_1.jsonl: Exceeds the limit (4300 digits) for integer string conversion: "
        "value has 5000 digits; use sys.set_int_max_str_digits() to increase the limit",
        "unparseable line 8 of surveys_1.jsonl: not a JSON object but list",
        "no natural key: column 'response_id' on line 9 of surveys_1.jsonl holds a dict, not text or a whole number",
        "unparseable line 10 of surveys_1.jsonl: field '_file' has a name cxloop gives every row; map it to "
        "another name",
    ]


def test_a_csv_with_a_nul_character_rejects_its_line(db, drop):
    write(drop, "audits_1.csv", HEADER + f"A-1,Store\x001,{AT},ok\nA-2,Store 2,{AT},ok\n")
    first = run(db)
    assert counts(first) == (4, 3, 1)
    assert keys(db) == {"audits:A-2"} | GOOD
    assert reasons(db, first) == [
        "unparseable line 2 of audits_1.csv: it holds a NUL character (or the text \\u0000), "
        "which PostgreSQL cannot store"]


def test_a_header_that_would_overwrite_cxloops_own_fields_rejects_the_file(db, drop, monkeypatch):
    write(drop, "audits_1.csv", "audit_id,visited_at,_row,Store,store\n" + f"A-1,{AT},7,S,s\n")
    first = run(db)
    assert counts(first) == (3, 2, 1)
    assert reasons(db, first) == [
        "unreadable file audits_1.csv: its header (line 1) has a column '_row', a name cxloop "
        "gives every row; map it to another name in the dataset's \"columns\""]

    configure(monkeypatch, drop, audits={"columns": {"_row": "row_number", "Store": "store"}})
    again = run(db)
    assert counts(again) == (1, 0, 1)
    assert reasons(db, again) == [
        "unreadable file audits_1.csv: its header (line 1) has columns 'Store' and 'store' "
        "that both land as 'store'"]

    configure(monkeypatch, drop, audits={"columns": {"_row": "row_number", "Store": "store_name"}})
    assert counts(run(db)) == (1, 1, 0)
    assert rows(db, "row_number", "store_name", "store", "_row")["audits:A-1"] == ("7", "S", "s", 2)


def test_a_file_whose_name_is_not_utf8_lands_under_a_printable_name(db, drop):
    name = os.fsencode(drop) + b"/audits_caf\xe9.csv"
    with open(name, "wb") as handle:
        handle.write((HEADER + f"A-1,Store 1,{AT},ok\n").encode())
    assert counts(run(db)) == (3, 3, 0)
    assert rows(db, "_file")["audits:A-1"] == ("audits_caf\\xe9.csv",)
    assert ledger(db) == {"audits_caf\\xe9.csv", "surveys_ok.jsonl"}


def test_a_named_pipe_in_the_folder_is_refused_without_blocking_the_run(db, drop):
    os.mkfifo(drop / "audits_pipe.csv")
    os.mkfifo(drop / "unrelated.pipe")  # matches no dataset: ignored, as any such file
    result = run(db)
    assert counts(result) == (3, 2, 1)
    assert reasons(db, result) == [
        "refused audits_pipe.csv: not a regular file; only regular files inside the drop folder are read, copy the "
        "file in instead"]


def test_an_encoding_python_cannot_read_text_with_is_a_clear_config_error(db, drop, monkeypatch):
    configure(monkeypatch, drop, audits={"encoding": "base64"})
    with pytest.raises(ValueError, match="dataset audits declares encoding 'base64', not a text encoding"):
        runner.run_source("files", WINDOW)
