-- staging.funnel_cube — grain: campaign × sex × ethnicity × disability × sexual orientation
-- (+ the derived groups) × stage. The only pass over applicant-level rows that the
-- pass-rate marts make: every break-down (overall, by campaign, by entry route,
-- intersectional) sums this small table.
--
-- Counts are applications in the funnel (with an application-stage outcome):
--   passed / failed / withdrawn — outcome at the stage;
--   pending — passed the previous stage, no outcome at this stage (0 at application);
--   applications — every funnel application of the cell (same on each stage row).

CREATE OR REPLACE TABLE staging.funnel_cube AS
WITH stages AS (
    SELECT DISTINCT canonical AS stage, stage_order
    FROM core.vocabulary WHERE domain = 'stage'
),
per_stage AS (
    SELECT
        a.campaign_id, a.sex, a.ethnicity, a.ethnic_minority, a.disability,
        a.sexual_orientation, a.lgbt_plus, s.stage, s.stage_order,
        CASE s.stage_order WHEN 1 THEN a.outcome_1 WHEN 2 THEN a.outcome_2
             WHEN 3 THEN a.outcome_3 WHEN 4 THEN a.outcome_4 WHEN 5 THEN a.outcome_5 END AS outcome,
        CASE s.stage_order WHEN 2 THEN a.outcome_1 WHEN 3 THEN a.outcome_2
             WHEN 4 THEN a.outcome_3 WHEN 5 THEN a.outcome_4 END AS previous_outcome
    FROM core.applications AS a
    CROSS JOIN stages AS s
    WHERE a.in_funnel
)
SELECT
    campaign_id, sex, ethnicity, ethnic_minority, disability, sexual_orientation, lgbt_plus,
    stage, stage_order,
    count(*)                                                            AS applications,
    count(*) FILTER (WHERE outcome = 'passed')                          AS passed,
    count(*) FILTER (WHERE outcome = 'failed')                          AS failed,
    count(*) FILTER (WHERE outcome = 'withdrawn')                       AS withdrawn,
    count(*) FILTER (WHERE outcome IS NULL AND previous_outcome = 'passed') AS pending
FROM per_stage
GROUP BY ALL;
