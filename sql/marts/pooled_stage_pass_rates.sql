-- marts.pooled_stage_pass_rates (built in staging, published by swap) — docs/CONTRACT.md §10:
-- whether a gap holds across campaigns once each campaign's own pass rates are allowed
-- for (Mantel–Haenszel).
-- Grain: characteristic (no 'all') × group (neither the reference group nor Not stated;
-- every group with at least one application) × stage.
-- For each campaign k (the by-campaign slice of group_stage_metrics): a / n₁ the group's
-- passed / decided at the stage, c / n₂ the reference group's, N = n₁ + n₂. The strata are
-- the campaigns with n₁ > 0, n₂ > 0 and 0 < a + c < N.
--   strata, decided, passed, reference_decided, reference_passed — over the strata
--   pooled_rate_ratio   = Σ a·n₂/N ÷ Σ c·n₁/N (NULL with no stratum or a zero divisor)
--   cmh_p_value         = Cochran–Mantel–Haenszel chi-square without continuity
--                         correction, (Σ(a − n₁(a+c)/N))² ÷ Σ n₁n₂(a+c)(N−a−c)/(N²(N−1)),
--                         1 df (NULL with no stratum)
--   breslow_day_p_value = homogeneity of the odds ratios [[a, n₁−a], [c, n₂−c]] across the
--                         strata, Breslow–Day without Tarone's adjustment, as statsmodels'
--                         StratifiedTable.test_equal_odds(adjust=False) computes it: each
--                         stratum's expected a under the Mantel–Haenszel odds ratio ψ is the
--                         root of a quadratic; chi-square with strata − 1 df. NULL with
--                         fewer than two strata or when ψ is 0 or infinite (and when ψ is
--                         exactly 1, where statsmodels' formula divides by zero: NaN)
--   flagged             = pooled_rate_ratio < $threshold AND cmh_p_value < $alpha

CREATE OR REPLACE TABLE staging.pooled_stage_pass_rates AS
WITH rows_of_interest AS (
    SELECT characteristic, group_name, stage, stage_order, reference_group
    FROM staging.group_stage_metrics
    WHERE source_table = 'stage_pass_rates' AND comparable_group
),
campaigns AS (
    SELECT characteristic, group_name, stage_order, campaign_id,
           -- doubles: the products overflow BIGINT
           passed::DOUBLE AS a, decided::DOUBLE AS n1, reference_passed::DOUBLE AS c,
           reference_decided::DOUBLE AS n2, (decided + reference_decided)::DOUBLE AS n
    FROM staging.group_stage_metrics
    WHERE source_table = 'stage_pass_rates_by_campaign' AND comparable_group
),
strata AS (
    SELECT *, a + c AS m1, n2 - c AS d, n1 - a AS b
    FROM campaigns
    WHERE n1 > 0 AND n2 > 0 AND a + c > 0 AND a + c < n
),
sums AS (
    SELECT characteristic, group_name, stage_order,
        count(*)::BIGINT AS strata,
        sum(n1)::BIGINT AS decided, sum(a)::BIGINT AS passed,
        sum(n2)::BIGINT AS reference_decided, sum(c)::BIGINT AS reference_passed,
        -- sums of doubles in one fixed order (by campaign), so a rerun gives the same bits
        list_sum(list(a * n2 / n ORDER BY campaign_id)) AS rr_numerator,
        list_sum(list(c * n1 / n ORDER BY campaign_id)) AS rr_denominator,
        list_sum(list(a - n1 * m1 / n ORDER BY campaign_id)) AS cmh_difference,
        list_sum(list(n1 * n2 * m1 * (n - m1) / (n * n * (n - 1)) ORDER BY campaign_id))
            AS cmh_variance,
        list_sum(list(a * d / n ORDER BY campaign_id)) AS or_numerator,
        list_sum(list(b * c / n ORDER BY campaign_id)) AS or_denominator
    FROM strata
    GROUP BY ALL
),
odds AS (
    SELECT s.characteristic, s.group_name, s.stage_order,
        CASE WHEN u.strata >= 2 AND u.or_numerator > 0 AND u.or_denominator > 0
                  AND u.or_numerator <> u.or_denominator
             THEN u.or_numerator / u.or_denominator END AS psi,
        s.campaign_id, s.a, s.n1, s.m1, s.d
    FROM strata AS s
    JOIN sums AS u USING (characteristic, group_name, stage_order)
),
breslow_day AS (
    SELECT characteristic, group_name, stage_order,
           list_sum(list(square(a - e11) / (1 / (1 / e11 + 1 / (m1 - e11) + 1 / (n1 - e11)
                                                + 1 / (d - a + e11))) ORDER BY campaign_id))
               AS statistic,
           bool_or(discriminant < 0) AS no_root
    FROM (
        SELECT *,
            (-qb + sqrt(greatest(discriminant, 0))) / (2 * qa) AS e11
        FROM (
            SELECT *, 1 - psi AS qa, psi * (n1 + m1) + (d - a) AS qb, -psi * n1 * m1 AS qc,
                   square(psi * (n1 + m1) + (d - a)) - 4 * (1 - psi) * (-psi * n1 * m1)
                       AS discriminant
            FROM odds
            WHERE psi IS NOT NULL
        )
    )
    GROUP BY ALL
)
SELECT
    r.characteristic, r.group_name, r.stage, r.stage_order, r.reference_group,
    coalesce(u.strata, 0)            AS strata,
    coalesce(u.decided, 0)           AS decided,
    coalesce(u.passed, 0)            AS passed,
    coalesce(u.reference_decided, 0) AS reference_decided,
    coalesce(u.reference_passed, 0)  AS reference_passed,
    CASE WHEN u.rr_denominator > 0 THEN u.rr_numerator / u.rr_denominator END
        AS pooled_rate_ratio,
    CASE WHEN u.strata > 0 THEN chi2_p(square(u.cmh_difference) / u.cmh_variance, 1) END
        AS cmh_p_value,
    CASE WHEN NOT b.no_root THEN chi2_p(b.statistic, u.strata - 1) END AS breslow_day_p_value,
    coalesce(CASE WHEN u.rr_denominator > 0 THEN u.rr_numerator / u.rr_denominator END < $threshold
             AND chi2_p(square(u.cmh_difference) / u.cmh_variance, 1) < $alpha, false) AS flagged
FROM rows_of_interest AS r
LEFT JOIN sums AS u USING (characteristic, group_name, stage_order)
LEFT JOIN breslow_day AS b USING (characteristic, group_name, stage_order)
ORDER BY r.characteristic, r.group_name, r.stage_order;
