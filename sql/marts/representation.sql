-- marts.representation (built in staging, published by swap) — docs/CONTRACT.md §7, §8.
-- Grain: characteristic (no 'all') × stated group (not Not stated) with at least one
-- funnel application or an accepted population row.
--   applications / appointed (outcome 'passed' at the final stage) are counts of
--     applications;
--   applicant_share / appointed_share are over the applications (appointed) whose
--     characteristic is stated; NULL when that total is 0;
--   population_share only from core.population (nothing derived, no renormalising);
--   applicant_ratio / appointed_ratio = share / population_share, NULL when either is
--     missing or the population share is 0.

CREATE OR REPLACE TABLE staging.representation AS
WITH final_stage AS (
    SELECT stage_order FROM config.stages WHERE is_final
),
counts AS (
    SELECT ch.characteristic, a.groups[ch.position] AS group_name,
           count(*)::BIGINT AS applications,
           count(*) FILTER (WHERE a.outcomes[f.stage_order] = 'passed')::BIGINT AS appointed
    FROM core.applications AS a
    CROSS JOIN final_stage AS f
    CROSS JOIN config.characteristics AS ch
    WHERE a.in_funnel AND a.groups[ch.position] <> 'Not stated'
    GROUP BY ALL
),
groups AS (
    SELECT characteristic, group_name FROM counts
    UNION
    SELECT characteristic, group_name FROM core.population WHERE group_name <> 'Not stated'
),
filled AS (
    SELECT g.characteristic, g.group_name,
           coalesce(c.applications, 0) AS applications,
           coalesce(c.appointed, 0)    AS appointed,
           p.population_share
    FROM groups AS g
    LEFT JOIN counts AS c USING (characteristic, group_name)
    LEFT JOIN core.population AS p USING (characteristic, group_name)
),
shares AS (
    SELECT *,
        CASE WHEN sum(applications) OVER w > 0
             THEN applications / sum(applications) OVER w END AS applicant_share,
        CASE WHEN sum(appointed) OVER w > 0
             THEN appointed / sum(appointed) OVER w END AS appointed_share
    FROM filled
    WINDOW w AS (PARTITION BY characteristic)
)
SELECT
    s.characteristic, s.group_name,
    s.applications, s.applicant_share, s.appointed, s.appointed_share, s.population_share,
    CASE WHEN s.population_share > 0 THEN s.applicant_share / s.population_share END AS applicant_ratio,
    CASE WHEN s.population_share > 0 THEN s.appointed_share / s.population_share END AS appointed_ratio
FROM shares AS s
JOIN config.characteristics AS ch USING (characteristic)
LEFT JOIN config.groups AS g USING (characteristic, group_name)
ORDER BY ch.position, g.position;
