-- marts.stage_durations (built in staging, published by swap) — docs/CONTRACT.md §7, §8.
-- Grain: characteristic (and 'all') × group × configured stage 2..N, over all campaigns,
-- for every group of stage_pass_rates (at least one funnel application).
-- A duration is occurred_at of the application's effective outcome at the stage (any
-- outcome) minus that of its effective outcome at the previous stage, which must be
-- 'passed'; exact UTC seconds / 86,400, signed (negative ones kept). n counts them;
-- median_days / p90_days by linear interpolation (quantile_cont), NULL when n = 0.

CREATE OR REPLACE TABLE staging.stage_durations AS
WITH stage_pairs AS (
    SELECT a.groups, s.stage, s.stage_order,
           CASE WHEN a.outcomes[s.stage_order] IS NOT NULL
                     AND a.outcomes[s.stage_order - 1] = 'passed'
                THEN (epoch_us(a.occurred_at[s.stage_order])
                      - epoch_us(a.occurred_at[s.stage_order - 1])) / 1e6 / 86400.0
           END AS days
    FROM core.applications AS a
    CROSS JOIN config.stages AS s
    WHERE a.in_funnel AND s.stage_order > 1
),
by_group AS (
    SELECT ch.position, ch.characteristic, p.groups[ch.position] AS group_name,
           p.stage, p.stage_order, p.days
    FROM stage_pairs AS p CROSS JOIN config.characteristics AS ch
    UNION ALL
    SELECT 0, 'all', 'All', p.stage, p.stage_order, p.days
    FROM stage_pairs AS p
)
SELECT characteristic, group_name, stage, stage_order::INTEGER AS stage_order,
       count(days)::BIGINT      AS n,
       quantile_cont(days, 0.5) AS median_days,
       quantile_cont(days, 0.9) AS p90_days
FROM by_group
GROUP BY position, characteristic, group_name, stage, stage_order
ORDER BY characteristic = 'all' DESC, characteristic, group_name, stage_order;
