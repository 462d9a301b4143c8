-- Per host: how many URLs, how they ended, the success rate of those tried, and the three commonest errors.
CREATE OR REPLACE VIEW image_health AS
WITH totals AS (
    SELECT
        host,
        count(*)                                  AS urls,
        count(*) FILTER (WHERE status = 'ok')      AS ok,
        count(*) FILTER (WHERE status = 'failed')  AS failed,
        count(*) FILTER (WHERE status = 'skipped') AS skipped,
        count(*) FILTER (WHERE status = 'pending') AS pending,
        max(checked_at)                           AS last_checked_at
    FROM image_fetches
    GROUP BY host
), errors AS (
    SELECT host, reason, error, count(*) AS n
    FROM image_fetches
    WHERE status IN ('failed', 'skipped') AND error IS NOT NULL
    GROUP BY ALL
), top AS (
    SELECT host, list({'reason': reason, 'error': error, 'count': n} ORDER BY n DESC, error)[1:3] AS top_errors
    FROM errors
    GROUP BY host
)
SELECT
    t.host,
    t.urls,
    t.ok,
    t.failed,
    t.skipped,
    t.pending,
    round(t.ok / nullif(t.urls - t.pending, 0), 4) AS success_rate,
    top.top_errors,
    t.last_checked_at
FROM totals t
LEFT JOIN top USING (host)
ORDER BY t.urls DESC, t.host;
