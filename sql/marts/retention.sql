-- marts.retention (built in staging, published by swap) — docs/CONTRACT.md section 9.
-- Grain: characteristic (and 'all') × group with at least one recruit (staging.recruits).
--   recruits, leavers          — counts of recruits (applications), and those with a leaving
--   retention_12_months / _24  — Kaplan–Meier S(t) at t = 365 / 730 days: the product over
--     distinct leaving durations u ≤ t of (1 − d_u / n_u), d_u recruits of the group leaving
--     at duration u, n_u those whose duration is ≥ u (1 when no leaving duration is ≤ t);
--     NULL when no recruit of the group has a duration ≥ t
--   reference_group            — as in section 5 (NULL for 'all')
--   retention_ratio            — retention_12_months / the reference group's; NULL for the
--     reference group, Not stated and 'all', and where either is NULL or the reference's is 0
--   logrank_p_value            — two-sided log-rank test of the group's recruits against the
--     reference group's, as statsmodels' survdiff computes it: over the distinct durations
--     with more than one recruit of the two groups at risk, O − E = Σ d_g − n_g·d/n and
--     V = Σ (n_g/n)(1 − n_g/n)·d(n − d)/(n − 1); chi-square (O − E)²/V, 1 df. NULL wherever
--     retention_ratio is NULL, when neither group has a leaver, or when V = 0 (no variance:
--     survdiff's matrix is singular)
--   flagged                    — logrank_p_value < $alpha AND retention_ratio < 1
-- Reads staging.recruit_groups and staging.survival_steps (sql/marts/survival_steps.sql).

CREATE OR REPLACE TEMP TABLE survival AS
SELECT characteristic, group_name,
       sum(at_duration)::BIGINT AS recruits,
       sum(leaving)::BIGINT AS leavers,
       -- the product in duration order (as a cumulative product runs), so a rerun gives
       -- the same bits: list_reduce multiplies from the first leaving duration on
       CASE WHEN max(duration_days) >= 365 THEN coalesce(list_reduce(list(1 - leaving / n_at_risk
           ORDER BY duration_days) FILTER (WHERE leaving > 0 AND duration_days <= 365),
           lambda x, y: x * y), 1)
       END AS retention_12_months,
       CASE WHEN max(duration_days) >= 730 THEN coalesce(list_reduce(list(1 - leaving / n_at_risk
           ORDER BY duration_days) FILTER (WHERE leaving > 0 AND duration_days <= 730),
           lambda x, y: x * y), 1)
       END AS retention_24_months
FROM staging.survival_steps
GROUP BY ALL;

-- the log-rank test of each comparable group against its characteristic's reference group
CREATE OR REPLACE TEMP TABLE logrank AS
WITH compared AS (
    SELECT g.characteristic, g.group_name, r.duration_days, r.has_left,
           r.group_name = g.group_name AS in_group
    FROM (SELECT DISTINCT characteristic, group_name, reference_group FROM staging.recruit_groups
          WHERE characteristic <> 'all' AND group_name NOT IN (reference_group, 'Not stated')) AS g
    JOIN staging.recruit_groups AS r
      ON r.characteristic = g.characteristic AND r.group_name IN (g.group_name, g.reference_group)
),
per_duration AS (
    SELECT characteristic, group_name, duration_days,
           count(*) AS at_duration, count(*) FILTER (WHERE in_group) AS at_duration_group,
           count(*) FILTER (WHERE has_left) AS leaving,
           count(*) FILTER (WHERE has_left AND in_group) AS leaving_group
    FROM compared
    GROUP BY ALL
),
at_risk AS (
    SELECT *,
        sum(at_duration) OVER w::DOUBLE AS n, sum(at_duration_group) OVER w::DOUBLE AS n_group
    FROM per_duration
    WINDOW w AS (PARTITION BY characteristic, group_name ORDER BY duration_days DESC
                 ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)
)
SELECT characteristic, group_name,
       sum(leaving) AS leavers_of_both,
       list_sum(list(leaving_group - n_group * leaving / n ORDER BY duration_days)
           FILTER (WHERE n > 1)) AS observed_minus_expected,
       list_sum(list((n_group / n) * (1 - n_group / n) * leaving * (n - leaving) / (n - 1)
           ORDER BY duration_days) FILTER (WHERE n > 1)) AS variance
FROM at_risk
GROUP BY ALL;

CREATE OR REPLACE TABLE staging.retention AS
WITH rated AS (
    SELECT s.*,
           ch.reference_group,
           ref.retention_12_months AS reference_retention,
           CASE WHEN s.characteristic <> 'all'
                     AND s.group_name NOT IN (ch.reference_group, 'Not stated')
                     AND s.retention_12_months IS NOT NULL AND ref.retention_12_months > 0
                THEN s.retention_12_months / ref.retention_12_months END AS retention_ratio
    FROM survival AS s
    LEFT JOIN config.characteristics AS ch USING (characteristic)
    LEFT JOIN survival AS ref
      ON ref.characteristic = s.characteristic AND ref.group_name = ch.reference_group
),
tested AS (
    SELECT r.*,
        CASE WHEN r.retention_ratio IS NOT NULL AND l.leavers_of_both > 0 AND l.variance > 0
             THEN chi2_p(square(l.observed_minus_expected) / l.variance, 1) END AS logrank_p_value
    FROM rated AS r
    LEFT JOIN logrank AS l USING (characteristic, group_name)
)
SELECT t.characteristic, t.group_name, t.recruits, t.leavers,
       t.retention_12_months, t.retention_24_months, t.reference_group,
       t.retention_ratio, t.logrank_p_value,
       coalesce(t.logrank_p_value < $alpha AND t.retention_ratio < 1, false) AS flagged
FROM tested AS t
LEFT JOIN config.characteristics AS ch USING (characteristic)
LEFT JOIN config.groups AS g USING (characteristic, group_name)
ORDER BY t.characteristic = 'all' DESC, ch.position, g.position;
