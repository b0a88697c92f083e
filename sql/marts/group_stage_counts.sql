-- staging.group_stage_counts — grain: source table × segment × characteristic × group × stage.
-- Every pass-rate mart is a slice of this one table, so the metric arithmetic
-- (group_stage_metrics.sql) is written once. A group appears in a segment only when it
-- has at least one application there (the cube holds funnel applications only).
--
-- source_table values name the mart each slice feeds:
--   stage_pass_rates                — all campaigns; six characteristics + 'all'
--   intersectional_stage_pass_rates — all campaigns; pairs of the four intersectional
--                                     characteristics, e.g. 'sex x ethnic_minority'
--   stage_pass_rates_by_campaign    — segment = campaign_id (+ its entry_route)
--   stage_pass_rates_by_entry_route — segment = entry_route
-- An application's entry route is that of its campaign's accepted core.campaigns row,
-- else 'Unknown' (bound as unknown_route), reported like any other route.
-- `comparable` is false where CONTRACT.md §5/§7 forbid a ratio/test: 'all', Not stated
-- (or a pair containing it). The reference group is handled in the metric step.

CREATE OR REPLACE TEMP TABLE characteristics AS
SELECT spelling AS characteristic, canonical AS reference_group, stage_order AS position
FROM core.vocabulary WHERE domain = 'reference_group';

CREATE OR REPLACE TEMP TABLE intersection_pairs AS
SELECT first.spelling || ' x ' || second.spelling     AS characteristic,
       first.spelling                                 AS first_characteristic,
       second.spelling                                AS second_characteristic,
       first.canonical || ' x ' || second.canonical   AS reference_group
FROM core.vocabulary AS first
JOIN core.vocabulary AS second
  ON second.domain = 'intersectional' AND second.stage_order > first.stage_order
WHERE first.domain = 'intersectional';

-- group_of(characteristic, row) is in macros.sql.

CREATE OR REPLACE TABLE staging.group_stage_counts AS
WITH routed AS (
    SELECT c.*, coalesce(k.entry_route, $unknown_route) AS route
    FROM staging.funnel_cube AS c
    LEFT JOIN core.campaigns AS k ON k.campaign_id = c.campaign_id
),
cube AS (
    SELECT r.* EXCLUDE (route), 'stage_pass_rates' AS source_table,
           NULL::VARCHAR AS segment_campaign_id, NULL::VARCHAR AS segment_entry_route
    FROM routed AS r
    UNION ALL
    SELECT r.* EXCLUDE (route), 'stage_pass_rates_by_campaign',
           r.campaign_id, r.route
    FROM routed AS r
    UNION ALL
    SELECT r.* EXCLUDE (route), 'stage_pass_rates_by_entry_route',
           NULL::VARCHAR, r.route
    FROM routed AS r
),
single AS (
    SELECT cube.source_table, cube.segment_campaign_id, cube.segment_entry_route,
           ch.characteristic, group_of(ch.characteristic, cube) AS group_name,
           ch.reference_group, cube.stage, cube.stage_order,
           cube.applications, cube.passed, cube.failed, cube.withdrawn, cube.pending
    FROM cube CROSS JOIN characteristics AS ch
    UNION ALL
    SELECT cube.source_table, cube.segment_campaign_id, cube.segment_entry_route,
           'all', 'All', NULL, cube.stage, cube.stage_order,
           cube.applications, cube.passed, cube.failed, cube.withdrawn, cube.pending
    FROM cube
),
crossed AS (
    SELECT 'intersectional_stage_pass_rates' AS source_table,
           NULL::VARCHAR AS segment_campaign_id, NULL::VARCHAR AS segment_entry_route,
           p.characteristic,
           group_of(p.first_characteristic, c) || ' x ' || group_of(p.second_characteristic, c)
               AS group_name,
           p.reference_group, c.stage, c.stage_order,
           c.applications, c.passed, c.failed, c.withdrawn, c.pending
    FROM staging.funnel_cube AS c CROSS JOIN intersection_pairs AS p
),
unioned AS (
    SELECT * FROM single
    UNION ALL
    SELECT * FROM crossed
)
SELECT
    source_table,
    segment_campaign_id AS campaign_id,
    segment_entry_route AS entry_route,
    characteristic, group_name, reference_group, stage, stage_order::INTEGER AS stage_order,
    sum(applications)::BIGINT AS applications,
    sum(passed)::BIGINT       AS passed,
    sum(failed)::BIGINT       AS failed,
    sum(withdrawn)::BIGINT    AS withdrawn,
    sum(pending)::BIGINT      AS pending,
    characteristic <> 'all'
        AND group_name <> 'Not stated'
        AND group_name NOT LIKE 'Not stated x %'
        AND group_name NOT LIKE '% x Not stated' AS comparable
FROM unioned
GROUP BY ALL;
