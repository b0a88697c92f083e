-- marts.intervention_effects (built in staging, published by swap) — docs/CONTRACT.md §7.
-- Grain: intervention × stage (its stage, or every configured stage when blank) × characteristic
-- (and 'all') × group (Not stated included), for every group with at least one decided
-- outcome in either window.
-- An outcome is the effective outcome (core.stage_outcomes) of a funnel application at
-- the stage, placed by its occurred_at: before = earlier than started_on 00:00 UTC;
-- after = from started_on up to (not including) ended_on 00:00 UTC, or open-ended.
-- A campaign-limited intervention counts that campaign's applications only, in both
-- windows. fisher_p_value: two-sided Fisher exact on [[passed, decided − passed] after,
-- the same before]; NULL if either decided is 0.

CREATE OR REPLACE TEMP TABLE intervention_counts AS
WITH scoped AS (
    SELECT i.intervention_id, s.stage, s.stage_order, s.outcome, a.groups,
           s.occurred_at < i.started_on::TIMESTAMPTZ AS is_before,
           s.occurred_at >= i.started_on::TIMESTAMPTZ
               AND (i.ended_on IS NULL OR s.occurred_at < i.ended_on::TIMESTAMPTZ) AS is_after
    FROM core.interventions AS i
    JOIN core.stage_outcomes AS s
      ON (i.stage_order IS NULL OR s.stage_order = i.stage_order)
     AND (i.campaign_id IS NULL OR s.campaign_id = i.campaign_id)
    JOIN core.applications AS a
      ON a.applicant_id = s.applicant_id AND a.campaign_id = s.campaign_id AND a.in_funnel
),
long AS (
    SELECT intervention_id, stage, stage_order, outcome, is_before, is_after,
           ch.characteristic, groups[ch.position] AS group_name
    FROM scoped CROSS JOIN config.characteristics AS ch
    UNION ALL
    SELECT intervention_id, stage, stage_order, outcome, is_before, is_after, 'all', 'All'
    FROM scoped
),
counts AS (
    SELECT intervention_id, stage, stage_order::INTEGER AS stage_order, characteristic, group_name,
           count(*) FILTER (WHERE is_before)::BIGINT                       AS decided_before,
           count(*) FILTER (WHERE is_before AND outcome = 'passed')::BIGINT AS passed_before,
           count(*) FILTER (WHERE is_after)::BIGINT                        AS decided_after,
           count(*) FILTER (WHERE is_after AND outcome = 'passed')::BIGINT  AS passed_after
    FROM long
    GROUP BY ALL
)
SELECT * FROM counts;

-- the 2x2 tables to test: [[passed, decided − passed] after, the same before]
CREATE OR REPLACE TEMP TABLE fisher_needed AS
SELECT DISTINCT passed_after AS a, decided_after - passed_after AS b,
       passed_before AS c, decided_before - passed_before AS d
FROM intervention_counts
WHERE decided_before > 0 AND decided_after > 0;

-- include: marts/fisher_p_values.sql

CREATE OR REPLACE TABLE staging.intervention_effects AS
SELECT
    intervention_id, stage, stage_order, characteristic, group_name,
    decided_before, passed_before,
    CASE WHEN decided_before > 0 THEN passed_before / decided_before END AS pass_rate_before,
    decided_after, passed_after,
    CASE WHEN decided_after > 0 THEN passed_after / decided_after END AS pass_rate_after,
    CASE WHEN decided_before > 0 AND decided_after > 0
         THEN passed_after / decided_after - passed_before / decided_before END AS pass_rate_difference,
    f.p_value AS fisher_p_value
FROM intervention_counts AS n
LEFT JOIN core.fisher_p_values AS f
  ON n.decided_before > 0 AND n.decided_after > 0
 AND f.a = n.passed_after AND f.b = n.decided_after - n.passed_after
 AND f.c = n.passed_before AND f.d = n.decided_before - n.passed_before
WHERE decided_before + decided_after > 0
ORDER BY intervention_id, stage_order, characteristic = 'all' DESC, characteristic, group_name;
