-- staging.recruit_groups and staging.survival_steps — internal (never published), from
-- staging.recruits (sql/marts/recruits.sql); docs/CONTRACT.md section 9.
-- staging.recruit_groups — grain: recruit × characteristic (and 'all'): the recruit's group,
-- its characteristic's reference group, duration and status.

CREATE OR REPLACE TABLE staging.recruit_groups AS
SELECT ch.characteristic, r.groups[ch.position] AS group_name, ch.reference_group,
       r.duration_days, r.has_left
FROM staging.recruits AS r CROSS JOIN config.characteristics AS ch
UNION ALL
SELECT 'all', 'All', NULL, duration_days, has_left FROM staging.recruits;

-- staging.survival_steps — the Kaplan–Meier steps of every group: per distinct duration u,
-- the recruits at it, those leaving at it (d_u) and those at risk (n_u, duration ≥ u).
-- Shared with the retention curves of charts/retention (sql/charts/retention_curves.sql).
CREATE OR REPLACE TABLE staging.survival_steps AS
WITH per_duration AS (
    SELECT characteristic, group_name, duration_days,
           count(*) AS at_duration, count(*) FILTER (WHERE has_left) AS leaving
    FROM staging.recruit_groups
    GROUP BY ALL
)
SELECT *, sum(at_duration) OVER (
    PARTITION BY characteristic, group_name ORDER BY duration_days DESC
    ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS n_at_risk
FROM per_duration;
