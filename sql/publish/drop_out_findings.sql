-- The drop-out summary's findings (funnel_pipeline/publish/summary.py): every row of
-- marts.drop_out_points in its order, with what the sentences need from published marts
-- only: the reference group's decided count in the same segment and stage, whether an
-- intersection is worse than each of its parts (its ratio below both parts' ratios over
-- all campaigns at the stage), and the pooled (Mantel–Haenszel) verdict across campaigns.

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
           bool_and(coalesce(d.adverse_impact_ratio < p.adverse_impact_ratio, true))
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
LEFT JOIN marts.pooled_stage_pass_rates AS pooled
  ON d.source_table = 'stage_pass_rates' AND pooled.characteristic = d.characteristic
 AND pooled.group_name = d.group_name AND pooled.stage_order = d.stage_order
ORDER BY d.shortfall DESC, d.source_table, d.campaign_id NULLS LAST, d.entry_route NULLS LAST,
         d.application_year NULLS LAST, d.characteristic, d.group_name, d.stage_order;
