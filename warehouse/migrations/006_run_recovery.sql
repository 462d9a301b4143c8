-- Issue 11: crash recovery. Which process ran each run, and when a later run found it abandoned.
-- A run whose process died (kill -9, power cut, OOM) stays `running`; the next run, holding the warehouse
-- (DuckDB's one writer, plus newsetl's lock file), marks such rows `aborted` with aborted_at and a message.

ALTER TABLE ingest_runs ADD COLUMN pid INTEGER;              -- the process that ran it
ALTER TABLE ingest_runs ADD COLUMN host VARCHAR;             -- the machine that process ran on
ALTER TABLE ingest_runs ADD COLUMN aborted_at TIMESTAMPTZ;   -- when a later run found it left `running`
