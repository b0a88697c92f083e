-- marts.intersectional_stage_pass_rates (built in staging, published by swap) — docs/CONTRACT.md §7, §8.
-- Grain: pair of intersectional characteristics (e.g. 'sex x ethnic_minority', every pair
-- of config.intersections in file order) × crossed group (e.g. 'Female x Yes') × stage,
-- over all campaigns; no 'all' rows. The reference group is the pair of reference
-- groups; a group containing Not stated gets no ratio/test.

CREATE OR REPLACE TABLE staging.intersectional_stage_pass_rates AS
SELECT
-- include: marts/metric_columns.sql
FROM staging.group_stage_metrics
WHERE source_table = 'intersectional_stage_pass_rates'
ORDER BY characteristic, group_name, stage_order;
