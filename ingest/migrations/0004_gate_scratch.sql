-- The quality gate materialises the batch it validates here, once, as an unlogged table named
-- after the batch, and drops it afterwards (expectations/gate.py). Validating the projection
-- query itself made every expectation re-parse the batch's JSON, and made GX, which learns a
-- query's columns by running it, pull every row of the batch into the gate's process.
create schema if not exists gate_scratch;
