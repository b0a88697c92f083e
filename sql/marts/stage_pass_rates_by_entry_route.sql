-- marts.stage_pass_rates_by_entry_route (built in staging, published by swap) — docs/CONTRACT.md §7, §10.
-- Grain: entry route × characteristic (and 'all') × group × stage, for every group with at
-- least one application on the route ('Unknown' = campaign with no accepted campaigns
-- row). Every figure is computed within the route: see group_stage_metrics.sql.

CREATE OR REPLACE TABLE staging.stage_pass_rates_by_entry_route AS
SELECT
    entry_route,
-- include: marts/metric_columns.sql
FROM staging.group_stage_metrics
WHERE source_table = 'stage_pass_rates_by_entry_route'
ORDER BY entry_route, characteristic = 'all' DESC, characteristic, group_name, stage_order;
