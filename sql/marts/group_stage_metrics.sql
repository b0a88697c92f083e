-- staging.group_stage_metrics — the metric definitions of CONTRACT.md section 5, written
-- once and applied to every slice of staging.group_stage_counts.
--   decided  = passed + failed + withdrawn;   entered = decided + pending
--   pass_rate = passed / decided (NULL when decided = 0), Wilson 95% interval ($z)
--   cumulative_pass_rate = passed / applications of the group in the segment
--   adverse_impact_ratio = pass_rate / reference group's pass_rate at the same stage and
--     segment; NULL for the reference group, 'all', Not stated, or a NULL/zero rate
--   fisher_p_value = two-sided Fisher exact on [[passed, decided − passed] group,
--     [passed, decided − passed] reference]; NULL wherever the ratio is NULL
--   flagged = ratio < $threshold AND p < $alpha (false when either is NULL)

CREATE OR REPLACE TEMP TABLE metric_ratios AS
WITH base AS (
    SELECT *,
        passed + failed + withdrawn           AS decided,
        passed + failed + withdrawn + pending AS entered
    FROM staging.group_stage_counts
),
rates AS (
    SELECT *,
        CASE WHEN decided > 0 THEN passed / decided END AS pass_rate,
        CASE WHEN applications > 0 THEN passed / applications END AS cumulative_pass_rate
    FROM base
),
wilson AS (
    SELECT *,
        CASE WHEN decided > 0 THEN
            (pass_rate + $z * $z / (2 * decided)) / (1 + $z * $z / decided) END AS wilson_centre,
        CASE WHEN decided > 0 THEN
            $z * sqrt(pass_rate * (1 - pass_rate) / decided + $z * $z / (4 * decided * decided))
            / (1 + $z * $z / decided) END AS wilson_half_width
    FROM rates
),
with_reference AS (
    SELECT g.*,
        r.pass_rate AS reference_pass_rate,
        r.passed    AS reference_passed,
        r.decided   AS reference_decided
    FROM wilson AS g
    LEFT JOIN rates AS r
      ON  r.source_table = g.source_table
      AND r.campaign_id IS NOT DISTINCT FROM g.campaign_id
      AND r.entry_route IS NOT DISTINCT FROM g.entry_route
      AND r.characteristic = g.characteristic
      AND r.group_name = g.reference_group
      AND r.stage_order = g.stage_order
),
ratios AS (
    SELECT *,
        CASE WHEN comparable AND group_name <> reference_group
                  AND pass_rate IS NOT NULL AND reference_pass_rate > 0
             THEN pass_rate / reference_pass_rate END AS adverse_impact_ratio
    FROM with_reference
),
SELECT * FROM ratios;

-- the 2x2 tables to test: [[passed, decided − passed] group, the same for the reference]
CREATE OR REPLACE TEMP TABLE fisher_needed AS
SELECT DISTINCT passed AS a, decided - passed AS b,
       reference_passed AS c, reference_decided - reference_passed AS d
FROM metric_ratios
WHERE adverse_impact_ratio IS NOT NULL;

-- include: marts/fisher_p_values.sql

CREATE OR REPLACE TABLE staging.group_stage_metrics AS
WITH tested AS (
    SELECT m.*, f.p_value AS fisher_p_value
    FROM metric_ratios AS m
    LEFT JOIN core.fisher_p_values AS f
      ON m.adverse_impact_ratio IS NOT NULL
     AND f.a = m.passed AND f.b = m.decided - m.passed
     AND f.c = m.reference_passed AND f.d = m.reference_decided - m.reference_passed
)
SELECT
    source_table, campaign_id, entry_route,
    characteristic, group_name, stage, stage_order,
    entered, passed, failed, withdrawn, pending,
    pass_rate,
    -- clamp rounding dust at 0 and 1 (greatest/least skip NULLs, hence the CASE)
    CASE WHEN decided > 0 THEN greatest(0.0, wilson_centre - wilson_half_width) END AS pass_rate_ci_low,
    CASE WHEN decided > 0 THEN least(1.0, wilson_centre + wilson_half_width) END    AS pass_rate_ci_high,
    cumulative_pass_rate,
    reference_group,
    adverse_impact_ratio,
    fisher_p_value,
    coalesce(adverse_impact_ratio < $threshold AND fisher_p_value < $alpha, false) AS flagged,
    -- kept for drop_out_points and the publication step, not part of the §5 columns
    applications, decided, reference_pass_rate
FROM tested;
