-- staging.group_stage_metrics — the metric definitions of docs/CONTRACT.md section 5, written
-- once and applied to every slice of staging.group_stage_counts.
--   decided  = passed + failed + withdrawn;   entered = decided + pending
--   pass_rate = passed / decided (NULL when decided = 0), Wilson 95% interval ($z)
--   cumulative_pass_rate = passed / applications of the group in the segment
--   adverse_impact_ratio = pass_rate / reference group's pass_rate at the same stage and
--     segment; NULL for the reference group, 'all', Not stated, or a NULL/zero rate
--   fisher_p_value = two-sided Fisher exact on [[passed, decided − passed] group,
--     [passed, decided − passed] reference]; NULL wherever the ratio is NULL
--   flagged = ratio < $threshold AND p < $alpha (false when either is NULL)
--   air_ci_low / air_ci_high (docs/CONTRACT.md section 10) = the 95% interval of the ratio on the
--     log scale, exp(ln(r) ± z·√(1/a − 1/n₁ + 1/c − 1/n₂)), a/n₁ the group's passed/decided,
--     c/n₂ the reference group's, r = (a/n₁)/(c/n₂); when a = 0, a + 0.5, n₁ + 1, c + 0.5
--     and n₂ + 1 in every place (r included); NULL wherever the ratio is NULL

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
      AND r.application_year IS NOT DISTINCT FROM g.application_year
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
-- the interval's inputs, with the zero-passes correction where a = 0 (CASE evaluates
-- the logarithm only where the ratio exists: a, n₁, c, n₂ > 0 there)
corrected AS (
    SELECT *,
        CASE WHEN passed = 0 THEN 0.5 ELSE passed END                               AS ci_a,
        CASE WHEN passed = 0 THEN decided + 1 ELSE decided END                      AS ci_n1,
        CASE WHEN passed = 0 THEN reference_passed + 0.5 ELSE reference_passed END  AS ci_c,
        CASE WHEN passed = 0 THEN reference_decided + 1 ELSE reference_decided END  AS ci_n2
    FROM ratios
)
SELECT * EXCLUDE (ci_a, ci_n1, ci_c, ci_n2),
    CASE WHEN adverse_impact_ratio IS NOT NULL THEN exp(
        ln((ci_a / ci_n1) / (ci_c / ci_n2))
        - $z * sqrt(1 / ci_a - 1 / ci_n1 + 1 / ci_c - 1 / ci_n2)) END AS air_ci_low,
    CASE WHEN adverse_impact_ratio IS NOT NULL THEN exp(
        ln((ci_a / ci_n1) / (ci_c / ci_n2))
        + $z * sqrt(1 / ci_a - 1 / ci_n1 + 1 / ci_c - 1 / ci_n2)) END AS air_ci_high
FROM corrected;

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
    source_table, campaign_id, entry_route, application_year,
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
    air_ci_low,
    air_ci_high,
    coalesce(adverse_impact_ratio < $threshold AND fisher_p_value < $alpha, false) AS flagged,
    -- kept for drop_out_points, the pooled mart and the summary, not part of the §5 columns
    applications, decided, reference_passed, reference_decided, reference_pass_rate,
    comparable AND group_name <> reference_group AS comparable_group
FROM tested;
