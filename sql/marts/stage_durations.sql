-- marts.stage_durations (built in staging, published by swap) — CONTRACT.md §7.
-- Grain: characteristic (and 'all') × group × stage 2-5, over all campaigns, for every
-- group of stage_pass_rates (at least one funnel application).
-- A duration is occurred_at of the application's effective outcome at the stage (any
-- outcome) minus that of its effective outcome at the previous stage, which must be
-- 'passed'; exact UTC seconds / 86,400, signed (negative ones kept). n counts them;
-- median_days / p90_days by linear interpolation (quantile_cont), NULL when n = 0.

CREATE OR REPLACE TABLE staging.stage_durations AS
WITH funnel AS (
    SELECT * FROM core.applications WHERE in_funnel
),
stage_pairs AS (
    SELECT a.applicant_id, a.campaign_id,
           a.sex, a.ethnicity, a.ethnic_minority, a.disability, a.sexual_orientation, a.lgbt_plus,
           s.stage, s.stage_order,
           CASE s.stage_order WHEN 2 THEN a.occurred_at_2 WHEN 3 THEN a.occurred_at_3
                WHEN 4 THEN a.occurred_at_4 WHEN 5 THEN a.occurred_at_5 END AS occurred_at,
           CASE s.stage_order WHEN 2 THEN a.occurred_at_1 WHEN 3 THEN a.occurred_at_2
                WHEN 4 THEN a.occurred_at_3 WHEN 5 THEN a.occurred_at_4 END AS previous_at,
           CASE s.stage_order WHEN 2 THEN a.outcome_1 WHEN 3 THEN a.outcome_2
                WHEN 4 THEN a.outcome_3 WHEN 5 THEN a.outcome_4 END AS previous_outcome
    FROM funnel AS a
    CROSS JOIN (SELECT DISTINCT canonical AS stage, stage_order FROM core.vocabulary
                WHERE domain = 'stage' AND stage_order > 1) AS s
),
durations AS (
    SELECT *,
        CASE WHEN occurred_at IS NOT NULL AND previous_outcome = 'passed'
             THEN (epoch_us(occurred_at) - epoch_us(previous_at)) / 1e6 / 86400.0 END AS days
    FROM stage_pairs
),
-- one grouping set per characteristic (and one for 'all'): each duration is read where it
-- lies instead of being copied once per characteristic (UNPIVOT made 7 copies)
grouped AS (
    SELECT
        CASE
            WHEN NOT grouping(sex) THEN 'sex'
            WHEN NOT grouping(ethnicity) THEN 'ethnicity'
            WHEN NOT grouping(ethnic_minority) THEN 'ethnic_minority'
            WHEN NOT grouping(disability) THEN 'disability'
            WHEN NOT grouping(sexual_orientation) THEN 'sexual_orientation'
            WHEN NOT grouping(lgbt_plus) THEN 'lgbt_plus'
            ELSE 'all'
        END AS characteristic,
        coalesce(sex, ethnicity, ethnic_minority, disability, sexual_orientation, lgbt_plus,
                 'All') AS group_name,
        stage, stage_order,
        count(days)::BIGINT                 AS n,
        quantile_cont(days, 0.5)            AS median_days,
        quantile_cont(days, 0.9)            AS p90_days
    FROM durations
    GROUP BY GROUPING SETS (
        (stage, stage_order, sex), (stage, stage_order, ethnicity),
        (stage, stage_order, ethnic_minority), (stage, stage_order, disability),
        (stage, stage_order, sexual_orientation), (stage, stage_order, lgbt_plus),
        (stage, stage_order))
)
SELECT characteristic, group_name, stage, stage_order::INTEGER AS stage_order,
       n, median_days, p90_days
FROM grouped
ORDER BY characteristic = 'all' DESC, characteristic, group_name, stage_order;
