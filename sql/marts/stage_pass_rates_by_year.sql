-- marts.stage_pass_rates_by_year (built in staging, published by swap) — docs/CONTRACT.md §10.
-- Grain: application year (UTC calendar year of the application's effective first-stage
-- outcome) × characteristic (and 'all') × group × stage, for every group with at least one
-- application that year. Every figure is computed within the year: see
-- group_stage_metrics.sql.

CREATE OR REPLACE TABLE staging.stage_pass_rates_by_year AS
SELECT
    application_year,
-- include: marts/metric_columns.sql
FROM staging.group_stage_metrics
WHERE source_table = 'stage_pass_rates_by_year'
ORDER BY application_year, characteristic = 'all' DESC, characteristic, group_name, stage_order;
