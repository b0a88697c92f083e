-- marts.representation (built in staging, published by swap) — CONTRACT.md §7.
-- Grain: characteristic (no 'all') × stated group (not Not stated) with at least one
-- funnel application or an accepted population row.
--   applications / appointed (outcome 'passed' at appointment) are counts of applications;
--   applicant_share / appointed_share are over the applications (appointed) whose
--     characteristic is stated; NULL when that total is 0;
--   population_share only from core.population (nothing derived, no renormalising);
--   applicant_ratio / appointed_ratio = share / population_share, NULL when either is
--     missing or the population share is 0.

CREATE OR REPLACE TABLE staging.representation AS
WITH long AS (
    UNPIVOT (SELECT sex, ethnicity, ethnic_minority, disability, sexual_orientation, lgbt_plus,
                    outcome_5 = 'passed' AS is_appointed
             FROM core.applications WHERE in_funnel)
    ON sex, ethnicity, ethnic_minority, disability, sexual_orientation, lgbt_plus
    INTO NAME characteristic VALUE group_name
),
counts AS (
    SELECT characteristic, group_name,
           count(*)::BIGINT                                    AS applications,
           count(*) FILTER (WHERE is_appointed)::BIGINT        AS appointed
    FROM long
    WHERE group_name <> 'Not stated'
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
LEFT JOIN core.vocabulary AS ch ON ch.domain = 'reference_group' AND ch.spelling = s.characteristic
LEFT JOIN core.vocabulary AS g
       ON g.domain = 'groups:' || s.characteristic AND g.canonical = s.group_name
ORDER BY ch.stage_order, g.stage_order;
