-- staging.publication_counts — UNSUPPRESSED annual publication counts. Never exported:
-- funnel_pipeline/publish/publication.py applies disclosure control and writes
-- staging.publication (→ marts.publication), the only table the export reads.
-- Grain: characteristic × group × year of application. Characteristics: the six of
-- section 2 plus 'entry_route' (groups = the routes seen, 'Unknown' included); every
-- canonical group appears in every year (zeros included) so group rows add up to the
-- 'Total' row, which is the same for every characteristic.
-- Counts are funnel applications (docs/PUBLICATION.md):
--   year                      = year (UTC) of the application-stage outcome's occurred_at
--   applicants                = applications with an application-stage outcome
--   sifted                    = applications with an outcome (passed/failed/withdrawn) at sift
--   progressed_to_assessment  = applications whose sift outcome is passed
--   appointed                 = applications whose appointment outcome is passed
--   failed_at_final_stage     = applications whose appointment outcome is failed

CREATE OR REPLACE TABLE staging.publication_counts AS
WITH apps AS (
    SELECT a.*, year(a.occurred_at_1)::INTEGER AS year,
           coalesce(k.entry_route, $unknown_route) AS entry_route
    FROM core.applications AS a
    LEFT JOIN core.campaigns AS k USING (campaign_id)
    WHERE a.in_funnel
),
long AS (
    UNPIVOT (SELECT year, outcome_2, outcome_5, sex, ethnicity, ethnic_minority, disability,
                    sexual_orientation, lgbt_plus, entry_route FROM apps)
    ON sex, ethnicity, ethnic_minority, disability, sexual_orientation, lgbt_plus, entry_route
    INTO NAME characteristic VALUE group_name
),
groups AS (
    SELECT replace(domain, 'groups:', '') AS characteristic, canonical AS group_name,
           stage_order AS group_position
    FROM core.vocabulary WHERE domain LIKE 'groups:%'
    UNION ALL
    SELECT DISTINCT 'entry_route', entry_route, NULL FROM apps
),
characteristics AS (
    SELECT spelling AS characteristic, stage_order AS position
    FROM core.vocabulary WHERE domain = 'reference_group'
    UNION ALL SELECT 'entry_route', 99
),
years AS (SELECT DISTINCT year FROM apps),
counts AS (
    SELECT characteristic, group_name, year,
           count(*)                                           AS applicants,
           count(*) FILTER (WHERE outcome_2 IS NOT NULL)      AS sifted,
           count(*) FILTER (WHERE outcome_2 = 'passed')       AS progressed_to_assessment,
           count(*) FILTER (WHERE outcome_5 = 'passed')       AS appointed,
           count(*) FILTER (WHERE outcome_5 = 'failed')       AS failed_at_final_stage
    FROM long
    GROUP BY characteristic, group_name, year
),
totals AS (
    SELECT year,
           count(*)                                           AS applicants,
           count(*) FILTER (WHERE outcome_2 IS NOT NULL)      AS sifted,
           count(*) FILTER (WHERE outcome_2 = 'passed')       AS progressed_to_assessment,
           count(*) FILTER (WHERE outcome_5 = 'passed')       AS appointed,
           count(*) FILTER (WHERE outcome_5 = 'failed')       AS failed_at_final_stage
    FROM apps
    GROUP BY year
)
SELECT ch.position AS characteristic_position, g.characteristic,
       coalesce(g.group_position,
                dense_rank() OVER (PARTITION BY g.characteristic ORDER BY g.group_name)) AS group_position,
       g.group_name, y.year,
       coalesce(c.applicants, 0)::BIGINT               AS applicants,
       coalesce(c.sifted, 0)::BIGINT                   AS sifted,
       coalesce(c.progressed_to_assessment, 0)::BIGINT AS progressed_to_assessment,
       coalesce(c.appointed, 0)::BIGINT                AS appointed,
       coalesce(c.failed_at_final_stage, 0)::BIGINT    AS failed_at_final_stage
FROM groups AS g
JOIN characteristics AS ch USING (characteristic)
CROSS JOIN years AS y
LEFT JOIN counts AS c USING (characteristic, group_name, year)
UNION ALL
SELECT ch.position, ch.characteristic, 1000, 'Total', t.year,
       t.applicants, t.sifted, t.progressed_to_assessment, t.appointed, t.failed_at_final_stage
FROM characteristics AS ch CROSS JOIN totals AS t
ORDER BY characteristic_position, year, group_position;
