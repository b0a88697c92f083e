-- The drop-out summary's findings (funnel_pipeline/publish/summary.py): every row of
-- marts.drop_out_points in its order, with what the sentences need from published marts
-- only: the reference group's decided count in the same segment and stage, the pooled
-- (Mantel–Haenszel) verdict across campaigns, and whether the row says something new:
--
-- * an intersection is worse than each of its parts: its whole 95% interval lies below
--   each part's own ratio over all applicants at the stage (else it repeats a finding
--   about one part, e.g. "ethnic minority x heterosexual" repeats "ethnic minority");
-- * a row within one campaign, entry route or application year does not repeat a
--   flagged row over all applicants for the same group and stage (the pooled verdict
--   already says whether that gap holds across campaigns), nor an earlier row with the
--   very same counts (one campaign that is also the only one of its route and year is
--   one finding, named by its campaign).

WITH segments AS (
    SELECT 'stage_pass_rates' AS source_table, NULL::VARCHAR AS campaign_id,
           NULL::VARCHAR AS entry_route, NULL::INTEGER AS application_year,
           characteristic, group_name, stage_order, passed + failed + withdrawn AS decided
    FROM marts.stage_pass_rates
    UNION ALL
    SELECT 'stage_pass_rates_by_campaign', campaign_id, entry_route, NULL, characteristic,
           group_name, stage_order, passed + failed + withdrawn
    FROM marts.stage_pass_rates_by_campaign
    UNION ALL
    SELECT 'stage_pass_rates_by_entry_route', NULL, entry_route, NULL, characteristic,
           group_name, stage_order, passed + failed + withdrawn
    FROM marts.stage_pass_rates_by_entry_route
    UNION ALL
    SELECT 'stage_pass_rates_by_year', NULL, NULL, application_year, characteristic,
           group_name, stage_order, passed + failed + withdrawn
    FROM marts.stage_pass_rates_by_year
    UNION ALL
    SELECT 'intersectional_stage_pass_rates', NULL, NULL, NULL, characteristic, group_name,
           stage_order, passed + failed + withdrawn
    FROM marts.intersectional_stage_pass_rates
),
parts AS (
    SELECT d.source_table, d.characteristic, d.group_name, d.stage_order,
           bool_and(coalesce(d.air_ci_high < p.adverse_impact_ratio, true))
               AS worse_than_parts
    FROM marts.drop_out_points AS d
    CROSS JOIN range(1, 3) AS part(i)
    LEFT JOIN marts.stage_pass_rates AS p
      ON p.characteristic = string_split(d.characteristic, ' x ')[part.i]
     AND p.group_name = string_split(d.group_name, ' x ')[part.i]
     AND p.stage_order = d.stage_order
    WHERE d.source_table = 'intersectional_stage_pass_rates'
    GROUP BY ALL
)
SELECT d.*,
       r.decided AS reference_decided,
       coalesce(parts.worse_than_parts, true) AS worse_than_parts,
       d.source_table NOT IN ('stage_pass_rates', 'intersectional_stage_pass_rates')
           AND (coalesce(overall.flagged, false)
                OR row_number() OVER (
                       PARTITION BY d.characteristic, d.group_name, d.stage_order, d.entered,
                                    d.passed, d.failed, d.withdrawn, d.pending,
                                    d.expected_passed_at_parity
                       ORDER BY d.source_table, d.campaign_id NULLS LAST,
                                d.entry_route NULLS LAST, d.application_year NULLS LAST) > 1)
           AS repeats_overall,
       pooled.flagged AS pooled_flagged,
       pooled.pooled_rate_ratio,
       pooled.breslow_day_p_value,
       pooled.strata
FROM marts.drop_out_points AS d
LEFT JOIN segments AS r
  ON r.source_table = d.source_table
 AND r.campaign_id IS NOT DISTINCT FROM d.campaign_id
 AND r.entry_route IS NOT DISTINCT FROM d.entry_route
 AND r.application_year IS NOT DISTINCT FROM d.application_year
 AND r.characteristic = d.characteristic
 AND r.group_name = d.reference_group
 AND r.stage_order = d.stage_order
LEFT JOIN parts
  ON parts.source_table = d.source_table AND parts.characteristic = d.characteristic
 AND parts.group_name = d.group_name AND parts.stage_order = d.stage_order
LEFT JOIN marts.stage_pass_rates AS overall
  ON overall.characteristic = d.characteristic AND overall.group_name = d.group_name
 AND overall.stage_order = d.stage_order
LEFT JOIN marts.pooled_stage_pass_rates AS pooled
  ON d.source_table = 'stage_pass_rates' AND pooled.characteristic = d.characteristic
 AND pooled.group_name = d.group_name AND pooled.stage_order = d.stage_order
ORDER BY d.shortfall DESC, d.source_table, d.campaign_id NULLS LAST, d.entry_route NULLS LAST,
         d.application_year NULLS LAST, d.characteristic, d.group_name, d.stage_order;
