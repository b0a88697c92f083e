-- marts.stage_pass_rates_by_campaign (built in staging, published by swap) — docs/CONTRACT.md §7, §10.
-- Grain: campaign × characteristic (and 'all') × group × stage, for every group with at
-- least one application in the campaign. Every figure (pending, cumulative rate,
-- reference rate, ratio, test) is computed within the campaign: see group_stage_metrics.sql.

CREATE OR REPLACE TABLE staging.stage_pass_rates_by_campaign AS
SELECT
    campaign_id, entry_route,
-- include: marts/metric_columns.sql
FROM staging.group_stage_metrics
WHERE source_table = 'stage_pass_rates_by_campaign'
ORDER BY campaign_id, characteristic = 'all' DESC, characteristic, group_name, stage_order;
