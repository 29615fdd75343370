"""The quality gate: Great Expectations suites per raw stream, run on every landed batch."""
