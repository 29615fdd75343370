"""Do two warehouses hold the same marts, row for row?

    .venv/bin/python scripts/compare_marts.py postgresql://…/a postgresql://…/b

Used to check that a backfill leaves the same marts as the nightly runs it stands for. Each
mart is compared as a multiset of rows (every column but the ignored ones, as jsonb); the
output is one line per mart with its row counts and how many rows only one side has. By
default `loaded_at` is ignored: it records when a row was built, which two runs never share.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter

import psycopg


def marts(conn: psycopg.Connection) -> set[str]:
    return {name for (name,) in conn.execute(
        "select table_name from information_schema.tables where table_schema = 'marts'")}


def mart_rows(conn: psycopg.Connection, mart: str, ignored: list[str]) -> Counter[str]:
    return Counter(row for (row,) in conn.execute(
        f"select (to_jsonb(t) - %s::text[])::text from marts.{mart} as t", [ignored]))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("left")
    parser.add_argument("right")
    parser.add_argument("--ignore-column", action="append", dest="ignored", metavar="NAME",
                        help="a column left out of the comparison (repeatable; default: loaded_at)")
    args = parser.parse_args()
    ignored = args.ignored or ["loaded_at"]
    differing = 0
    print(f"{'mart':<24} {'left':>8} {'right':>8} {'only left':>10} {'only right':>11}")
    with psycopg.connect(args.left) as left_db, psycopg.connect(args.right) as right_db:
        for mart in sorted(marts(left_db) | marts(right_db)):
            left, right = mart_rows(left_db, mart, ignored), mart_rows(right_db, mart, ignored)
            only_left, only_right = sum((left - right).values()), sum((right - left).values())
            differing += bool(only_left or only_right)
            print(f"{mart:<24} {left.total():>8} {right.total():>8} {only_left:>10} {only_right:>11}")
    print("identical" if not differing else f"{differing} mart(s) differ")
    return 1 if differing else 0


if __name__ == "__main__":
    sys.exit(main())
