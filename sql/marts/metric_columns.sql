    -- the columns of docs/CONTRACT.md section 5 (+ section 10's interval), shared by every
    -- pass-rate mart (included by them; not a statement of its own)
    characteristic, group_name, stage, stage_order,
    entered, passed, failed, withdrawn, pending,
    pass_rate, pass_rate_ci_low, pass_rate_ci_high, cumulative_pass_rate,
    reference_group, adverse_impact_ratio, fisher_p_value, air_ci_low, air_ci_high, flagged
