-- marts.stage_pass_rates (built in staging, published by swap) — CONTRACT.md section 5.
-- Grain: characteristic × group × stage over all campaigns; 'all' has one row per stage.

CREATE OR REPLACE TABLE staging.stage_pass_rates AS
SELECT
    characteristic, group_name, stage, stage_order,
    entered, passed, failed, withdrawn, pending,
    pass_rate, pass_rate_ci_low, pass_rate_ci_high, cumulative_pass_rate,
    reference_group, adverse_impact_ratio, fisher_p_value, flagged
FROM staging.group_stage_metrics
WHERE source_table = 'stage_pass_rates'
ORDER BY characteristic = 'all' DESC, characteristic, group_name, stage_order;
