-- marts.intersectional_stage_pass_rates (built in staging, published by swap) — CONTRACT.md §7.
-- Grain: pair of intersectional characteristics (e.g. 'sex x ethnic_minority') × crossed
-- group (e.g. 'Female x Yes') × stage, over all campaigns; no 'all' rows. The reference
-- group is the pair of reference groups; a group containing Not stated gets no ratio/test.

CREATE OR REPLACE TABLE staging.intersectional_stage_pass_rates AS
SELECT
    characteristic, group_name, stage, stage_order,
    entered, passed, failed, withdrawn, pending,
    pass_rate, pass_rate_ci_low, pass_rate_ci_high, cumulative_pass_rate,
    reference_group, adverse_impact_ratio, fisher_p_value, flagged
FROM staging.group_stage_metrics
WHERE source_table = 'intersectional_stage_pass_rates'
ORDER BY characteristic, group_name, stage_order;
