-- publish/annual_publication, first step: staging.publication_counts — UNSUPPRESSED annual
-- publication counts. Never exported: funnel_pipeline/publish/publication.py applies
-- disclosure control and writes staging.publication (→ marts.publication), the only
-- recruitment table the export reads.
-- Grain: characteristic × group × year of application. Characteristics: the configured
-- ones plus 'entry_route' (groups = the routes with applications that year, 'Unknown'
-- included: a route with none that year has no row, it is not a zero). Every canonical
-- group of a configured characteristic appears in every year (zeros included) so group
-- rows add up to the 'Total' row, which is the same for every characteristic.
-- Counts are funnel applications (docs/PUBLICATION.md):
--   year                      = year (UTC) of the first-stage outcome's occurred_at
--   applicants                = applications with a first-stage outcome
--   sifted                    = applications with an outcome (passed/failed/withdrawn) at
--                               the sift stage ([publication] sift_stage, default the second)
--   progressed_to_assessment  = applications whose sift-stage outcome is passed
--   appointed                 = applications whose final-stage outcome is passed
--   failed_at_final_stage     = applications whose final-stage outcome is failed
--   provisional               = the year holds the as-of time (publication_as_of.sql)
-- Also staging.publication_rule: the disclosure rule of the configuration this build
-- used (threshold, rounding base), which the publication suites check the display against.

-- include: publish/publication_as_of.sql

CREATE OR REPLACE TABLE staging.publication_rule AS
SELECT $suppression_threshold::INTEGER AS threshold, $rounding_base::INTEGER AS rounding_base;

CREATE OR REPLACE TABLE staging.publication_counts AS
WITH roles AS (
    SELECT (SELECT stage_order FROM config.stages WHERE is_sift)  AS sift_order,
           (SELECT stage_order FROM config.stages WHERE is_final) AS final_order
),
apps AS (
    SELECT a.application_year AS year, a.groups,
           a.outcomes[roles.sift_order] AS sift_outcome, a.outcomes[roles.final_order] AS final_outcome,
           coalesce(k.entry_route, $unknown_route) AS entry_route
    FROM core.applications AS a
    CROSS JOIN roles
    LEFT JOIN core.campaigns AS k USING (campaign_id)
    WHERE a.in_funnel
),
long AS (
    SELECT ch.characteristic, apps.groups[ch.position] AS group_name, apps.year,
           apps.sift_outcome, apps.final_outcome
    FROM apps CROSS JOIN config.characteristics AS ch
    UNION ALL
    SELECT 'entry_route', entry_route, year, sift_outcome, final_outcome FROM apps
),
years AS (SELECT DISTINCT year FROM apps),
-- configured groups in every year; entry routes only in the years they have applications
cells AS (
    SELECT g.characteristic, g.group_name, g.position AS group_position, y.year
    FROM config.groups AS g CROSS JOIN years AS y
    UNION ALL
    SELECT DISTINCT 'entry_route', entry_route, NULL, year FROM apps
),
characteristics AS (
    SELECT characteristic, position FROM config.characteristics
    UNION ALL SELECT 'entry_route', 1000
),
counts AS (
    SELECT characteristic, group_name, year,
           count(*)                                               AS applicants,
           count(*) FILTER (WHERE sift_outcome IS NOT NULL)       AS sifted,
           count(*) FILTER (WHERE sift_outcome = 'passed')        AS progressed_to_assessment,
           count(*) FILTER (WHERE final_outcome = 'passed')       AS appointed,
           count(*) FILTER (WHERE final_outcome = 'failed')       AS failed_at_final_stage
    FROM long
    GROUP BY characteristic, group_name, year
),
totals AS (
    SELECT year,
           count(*)                                               AS applicants,
           count(*) FILTER (WHERE sift_outcome IS NOT NULL)       AS sifted,
           count(*) FILTER (WHERE sift_outcome = 'passed')        AS progressed_to_assessment,
           count(*) FILTER (WHERE final_outcome = 'passed')       AS appointed,
           count(*) FILTER (WHERE final_outcome = 'failed')       AS failed_at_final_stage
    FROM apps
    GROUP BY year
)
SELECT ch.position AS characteristic_position, g.characteristic,
       coalesce(g.group_position,
                dense_rank() OVER (PARTITION BY g.characteristic ORDER BY g.group_name)) AS group_position,
       g.group_name, g.year,
       coalesce(c.applicants, 0)::BIGINT               AS applicants,
       coalesce(c.sifted, 0)::BIGINT                   AS sifted,
       coalesce(c.progressed_to_assessment, 0)::BIGINT AS progressed_to_assessment,
       coalesce(c.appointed, 0)::BIGINT                AS appointed,
       coalesce(c.failed_at_final_stage, 0)::BIGINT    AS failed_at_final_stage,
       g.year = (SELECT calendar_year FROM publication_as_of) AS provisional
FROM cells AS g
JOIN characteristics AS ch USING (characteristic)
LEFT JOIN counts AS c USING (characteristic, group_name, year)
UNION ALL
SELECT ch.position, ch.characteristic, 100000, 'Total', t.year,
       t.applicants, t.sifted, t.progressed_to_assessment, t.appointed, t.failed_at_final_stage,
       t.year = (SELECT calendar_year FROM publication_as_of)
FROM characteristics AS ch CROSS JOIN totals AS t
ORDER BY characteristic_position, year, group_position;
