"""Do two warehouses hold the same marts, row for row?

    .venv/bin/python scripts/compare_marts.py postgresql://…/a postgresql://…/b

Used to check that a backfill leaves the same marts as the nightly runs it stands for. Each
mart is compared as a multiset of rows (every column, as text); the output is one line per
mart with its row counts and how many rows only one side has.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter

import psycopg


def marts(uri: str) -> set[str]:
    with psycopg.connect(uri) as conn:
        return {name for (name,) in conn.execute(
            "select table_name from information_schema.tables where table_schema = 'marts'")}


def mart_rows(uri: str, mart: str) -> Counter[str]:
    with psycopg.connect(uri) as conn:
        return Counter(row for (row,) in conn.execute(f"select t::text from marts.{mart} as t"))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("left")
    parser.add_argument("right")
    args = parser.parse_args()
    differing = 0
    print(f"{'mart':<24} {'left':>8} {'right':>8} {'only left':>10} {'only right':>11}")
    for mart in sorted(marts(args.left) | marts(args.right)):
        left, right = mart_rows(args.left, mart), mart_rows(args.right, mart)
        only_left, only_right = sum((left - right).values()), sum((right - left).values())
        differing += bool(only_left or only_right)
        print(f"{mart:<24} {left.total():>8} {right.total():>8} {only_left:>10} {only_right:>11}")
    print("identical" if not differing else f"{differing} mart(s) differ")
    return 1 if differing else 0


if __name__ == "__main__":
    sys.exit(main())
