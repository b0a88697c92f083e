-- staging.group_stage_counts — grain: source table × segment × characteristic × group × stage.
-- Every pass-rate mart is a slice of this one table, so the metric arithmetic
-- (group_stage_metrics.sql) is written once. A group appears in a segment only when it
-- has at least one application there (the cube holds funnel applications only).
--
-- source_table values name the mart each slice feeds (marts.py's registry):
--   stage_pass_rates                — all campaigns; every characteristic + 'all'
--   intersectional_stage_pass_rates — all campaigns; every pair of config.intersections,
--                                     e.g. 'sex x ethnic_minority', groups 'Female x Yes'
--   stage_pass_rates_by_campaign    — segment = campaign_id (+ its entry_route)
--   stage_pass_rates_by_entry_route — segment = entry_route
--   stage_pass_rates_by_year        — segment = application_year (UTC year of the
--                                     first-stage outcome)
-- Groups come from core.funnel_cube's `groups` list by the characteristic's position.
-- An application's entry route is that of its campaign's accepted core.campaigns row,
-- else 'Unknown' (bound as unknown_route), reported like any other route.
-- `comparable` is false where docs/CONTRACT.md §5/§7 forbid a ratio/test: 'all', Not stated
-- (or a pair containing it). The reference group is handled in the metric step.

CREATE OR REPLACE TABLE staging.group_stage_counts AS
WITH cube AS (
    SELECT c.*, s.stage, coalesce(k.entry_route, $unknown_route) AS route
    FROM core.funnel_cube AS c
    JOIN config.stages AS s USING (stage_order)
    LEFT JOIN core.campaigns AS k USING (campaign_id)
),
segmented AS (
    SELECT cube.*, 'stage_pass_rates' AS source_table, NULL::VARCHAR AS segment_campaign_id,
           NULL::VARCHAR AS segment_entry_route, NULL::INTEGER AS segment_year
    FROM cube
    UNION ALL
    SELECT cube.*, 'stage_pass_rates_by_campaign', campaign_id, route, NULL FROM cube
    UNION ALL
    SELECT cube.*, 'stage_pass_rates_by_entry_route', NULL, route, NULL FROM cube
    UNION ALL
    SELECT cube.*, 'stage_pass_rates_by_year', NULL, NULL, application_year FROM cube
),
single AS (
    SELECT seg.source_table, seg.segment_campaign_id, seg.segment_entry_route, seg.segment_year,
           ch.characteristic, seg.groups[ch.position] AS group_name, ch.reference_group,
           seg.stage, seg.stage_order,
           seg.applications, seg.passed, seg.failed, seg.withdrawn, seg.pending
    FROM segmented AS seg CROSS JOIN config.characteristics AS ch
    UNION ALL
    SELECT seg.source_table, seg.segment_campaign_id, seg.segment_entry_route, seg.segment_year,
           'all', 'All', NULL, seg.stage, seg.stage_order,
           seg.applications, seg.passed, seg.failed, seg.withdrawn, seg.pending
    FROM segmented AS seg
),
crossed AS (
    SELECT 'intersectional_stage_pass_rates' AS source_table,
           NULL::VARCHAR AS segment_campaign_id, NULL::VARCHAR AS segment_entry_route,
           NULL::INTEGER AS segment_year,
           p.characteristic,
           c.groups[p.first_position] || ' x ' || c.groups[p.second_position] AS group_name,
           p.reference_group, c.stage, c.stage_order,
           c.applications, c.passed, c.failed, c.withdrawn, c.pending
    FROM cube AS c CROSS JOIN config.intersections AS p
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
    segment_year AS application_year,
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
