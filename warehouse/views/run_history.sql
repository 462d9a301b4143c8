-- Ingest runs, newest first, with their duration, the rejects they recorded and the posts they skipped.
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
    r.message,
    r.skipped  -- posts Hexo would not publish (drafts, `published: false`): discovered = new + updated +
               -- unchanged + rejected + skipped. Last, so the columns before it keep their places.
FROM ingest_runs AS r
ORDER BY r.started_at DESC;
