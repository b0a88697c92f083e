-- marts.workforce_flows (built in staging, published by swap) — docs/CONTRACT.md section 9: the
-- table forces present to their boards, hires and leavers by entry route with the share of
-- each group.
-- Grain: financial year (1 April – 31 March, UTC, labelled '2021/22') × entry route
-- (section 6, plus 'All routes') × flow × characteristic (no 'all') × every stated group
-- of it (zeros included), for every (year, route, flow) with at least one recruit or
-- leaving. Counts are of recruits (applications):
--   hires   — recruits by the financial year of their start;
--   leavers — recruits whose leaving (the earliest leavers row that belongs to them) falls
--             in the financial year of that left_on, with the recruit's route and groups.
--   total = the flow's recruits; stated = of them, those whose characteristic is stated;
--   group_count; share = group_count / stated (NULL when stated is 0).

CREATE OR REPLACE TABLE staging.workforce_flows AS
WITH flows AS (
    SELECT 'hires' AS flow, started_at AS happened_at, entry_route, groups FROM staging.recruits
    UNION ALL
    SELECT 'leavers', left_at, entry_route, groups FROM staging.recruits WHERE left_at IS NOT NULL
),
dated AS (
    SELECT flow, entry_route, groups,
           CASE WHEN month(happened_at) >= 4 THEN year(happened_at) ELSE year(happened_at) - 1
           END AS fy_start
    FROM flows
),
routed AS (
    SELECT flow, fy_start, entry_route, groups FROM dated
    UNION ALL
    SELECT flow, fy_start, 'All routes', groups FROM dated
),
totals AS (
    SELECT fy_start, entry_route, flow, count(*)::BIGINT AS total FROM routed GROUP BY ALL
),
stated AS (
    SELECT r.fy_start, r.entry_route, r.flow, ch.characteristic,
           count(*) FILTER (WHERE r.groups[ch.position] <> 'Not stated')::BIGINT AS stated
    FROM routed AS r CROSS JOIN config.characteristics AS ch
    GROUP BY ALL
),
counted AS (
    SELECT r.fy_start, r.entry_route, r.flow, ch.characteristic,
           r.groups[ch.position] AS group_name, count(*)::BIGINT AS group_count
    FROM routed AS r CROSS JOIN config.characteristics AS ch
    GROUP BY ALL
)
SELECT
    t.fy_start::VARCHAR || '/' || lpad(((t.fy_start + 1) % 100)::VARCHAR, 2, '0') AS financial_year,
    t.entry_route, t.flow, ch.characteristic, g.group_name,
    t.total, s.stated, coalesce(c.group_count, 0) AS group_count,
    CASE WHEN s.stated > 0 THEN coalesce(c.group_count, 0) / s.stated END AS share
FROM totals AS t
CROSS JOIN config.characteristics AS ch
JOIN config.groups AS g ON g.characteristic = ch.characteristic AND g.group_name <> 'Not stated'
JOIN stated AS s
  ON s.fy_start = t.fy_start AND s.entry_route = t.entry_route AND s.flow = t.flow
 AND s.characteristic = ch.characteristic
LEFT JOIN counted AS c
  ON c.fy_start = t.fy_start AND c.entry_route = t.entry_route AND c.flow = t.flow
 AND c.characteristic = ch.characteristic AND c.group_name = g.group_name
ORDER BY t.fy_start, t.entry_route = 'All routes' DESC, t.entry_route, t.flow, ch.position, g.position;
