-- marts.stage_pass_rates (built in staging, published by swap) — docs/CONTRACT.md sections 5, 10.
-- Grain: characteristic × group × stage over all campaigns; 'all' has one row per stage.

CREATE OR REPLACE TABLE staging.stage_pass_rates AS
SELECT
-- include: marts/metric_columns.sql
FROM staging.group_stage_metrics
WHERE source_table = 'stage_pass_rates'
ORDER BY characteristic = 'all' DESC, characteristic, group_name, stage_order;
