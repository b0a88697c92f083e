-- staging.funnel_cube — grain: campaign × sex × ethnicity × disability × sexual orientation
-- (+ the derived groups) × stage: a snapshot of core.funnel_cube, which the core step
-- keeps up to date incrementally (sql/core/stage_outcomes.sql; counts defined by the
-- funnel_cells macro in macros.sql). Every pass-rate break-down (overall, by campaign,
-- by entry route, intersectional) sums this small table, never applicant-level rows.

CREATE OR REPLACE TABLE staging.funnel_cube AS
SELECT * FROM core.funnel_cube;
