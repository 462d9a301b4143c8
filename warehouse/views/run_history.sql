-- Ingest runs, newest first, with their duration and the rejects they recorded.
CREATE OR REPLACE VIEW run_history AS
SELECT
    r.run_id,
    r.started_at,
    r.finished_at,
    round(epoch(r.finished_at) - epoch(r.started_at), 3) AS duration_seconds,
    r.status,
    r.discovered,
    r.new,
    r.updated,
    r.unchanged,
    r.rejected,
    (SELECT count(*) FROM rejects AS x WHERE x.run_id = r.run_id) AS reject_rows,
    r.sources,
    r.message
FROM ingest_runs AS r
ORDER BY r.started_at DESC;
