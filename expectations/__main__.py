"""The quality gate from the command line.

    python -m expectations validate <batch_id>   # gate a landed batch (what the DAG does)
    python -m expectations release <batch_id>    # re-validate a fixed batch and release it
    python -m expectations validate-marts        # run the mart suites on the built marts
    python -m expectations docs                  # build Data Docs; prints the path of index.html
    python -m expectations write-suites          # regenerate suites/*.json from definitions.py
"""

from __future__ import annotations

import argparse
import logging
import sys


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m expectations", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["validate", "release", "validate-marts", "docs", "write-suites"])
    parser.add_argument("batch_id", nargs="?")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    if args.command == "write-suites":
        from expectations import definitions

        for path in definitions.write_all():
            print(f"wrote {path}")
        return 0
    if args.command == "docs":
        from expectations import data_docs

        print(data_docs.build())
        return 0
    if args.command == "validate-marts":
        from expectations import gate

        try:
            validations = gate.validate_marts()
        except gate.MartCheckFailed as exc:
            print(f"mart checks failed: {exc}", file=sys.stderr)
            return 1
        print(f"{len(validations)} mart suites: " + ", ".join(f"{v.suite} {v.outcome}" for v in validations))
        return 0
    if not args.batch_id:
        parser.error(f"{args.command} needs a batch id (see audit.load_batches)")
    from expectations import gate

    try:
        validation = gate.validate_batch(args.batch_id, release=args.command == "release")
    except gate.BatchQuarantined as exc:
        print(f"still quarantined: {exc}", file=sys.stderr)
        return 1
    print(f"batch {args.batch_id}: {'released' if args.command == 'release' else validation.outcome}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
