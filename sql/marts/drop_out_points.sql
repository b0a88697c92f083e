-- marts.drop_out_points (built in staging, published by swap) — docs/CONTRACT.md §7, §10.
-- Grain: one flagged row of stage_pass_rates, stage_pass_rates_by_campaign,
-- stage_pass_rates_by_entry_route, stage_pass_rates_by_year or
-- intersectional_stage_pass_rates.
--   expected_passed_at_parity = decided × reference group's pass_rate (same segment, stage)
--   shortfall                 = expected_passed_at_parity − passed
--   holm_p_value              = Holm step-down adjustment within one family per source
--     table: all its non-NULL fisher_p_values, every segment, flagged or not. With the
--     m p-values sorted ascending, p(i) → min(1, max over j ≤ i of (m − j + 1)·p(j))
--     (statsmodels multipletests(method='holm'); tied p-values get the same value
--     whatever their order).
-- Order: shortfall descending, then source_table, campaign_id, entry_route,
-- application_year (NULLs last), characteristic, group_name, stage_order.

CREATE OR REPLACE TABLE staging.drop_out_points AS
WITH family AS (
    SELECT *,
        count(*) OVER (PARTITION BY source_table) AS family_size,
        row_number() OVER (PARTITION BY source_table ORDER BY fisher_p_value) AS p_rank
    FROM staging.group_stage_metrics
    WHERE fisher_p_value IS NOT NULL
),
holm AS (
    SELECT *,
        least(1.0, max((family_size - p_rank + 1) * fisher_p_value) OVER (
            PARTITION BY source_table ORDER BY p_rank
            ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)) AS holm_p_value
    FROM family
)
SELECT
    source_table, campaign_id, entry_route, application_year,
-- include: marts/metric_columns.sql
    ,
    decided * reference_pass_rate           AS expected_passed_at_parity,
    decided * reference_pass_rate - passed  AS shortfall,
    holm_p_value
FROM holm
WHERE flagged
ORDER BY shortfall DESC, source_table, campaign_id NULLS LAST, entry_route NULLS LAST,
         application_year NULLS LAST, characteristic, group_name, stage_order;
