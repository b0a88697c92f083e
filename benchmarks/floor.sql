-- The FLOOR: marts.stage_pass_rates computed by one plain DuckDB SQL script straight from
-- the landing files, with the same rules as the pipeline (CONTRACT.md sections 2-5) and
-- nothing else: no Dagster, no raw copy, no quality tables, no checks, no incremental
-- bookkeeping, no other marts. benchmarks/run_benchmark.py times it against the pipeline
-- on the same data and checks that both tables are equal (1e-9).
--
-- Inputs, set up by run_benchmark.py before this script runs (same session):
--   landing_events      view over every events* landing file (read_parquet / read_csv,
--                       every column as delivered text)
--   landing_applicants  view over every applicants* file, with file_name and row_number
--   vocabulary          contract.vocabulary_rows() (domain, spelling, canonical, stage_order)
--   z (bound parameter)  the Wilson z (contract.WILSON_Z)
-- Output: temp table floor_stage_pass_rates. Fisher's exact p and `flagged` need scipy:
-- run_benchmark.py adds them on the small aggregated table (one row per group x stage).

CREATE OR REPLACE TEMP MACRO f_clean(value) AS
    nullif(trim(value, ' ' || chr(9) || chr(10) || chr(11) || chr(12) || chr(13) || chr(160)), '');

CREATE OR REPLACE TEMP MACRO f_key(value) AS lower(coalesce(f_clean(value), ''));

-- valid event rows: rules 1-3 (required fields, vocabulary, ISO 8601), narrow, with a
-- hash of the six delivered fields for rule 4
CREATE OR REPLACE TEMP TABLE f_rows AS
SELECT * EXCLUDE (valid) FROM (
    SELECT
        f_clean(e.event_id)     AS event_id,
        f_clean(e.applicant_id) AS applicant_id,
        f_clean(e.campaign_id)  AS campaign_id,
        st.stage_order          AS stage_order,
        oc.canonical            AS outcome,
        CASE WHEN regexp_full_match(
                f_clean(e.occurred_at),
                '\d{4}-\d{2}-\d{2}([Tt ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?([Zz]|[+-]\d{2}(:?\d{2})?)?)?')
             THEN try_cast(f_clean(e.occurred_at) AS TIMESTAMPTZ) END AS occurred_at,
        hash(e.event_id, e.applicant_id, e.campaign_id, e.stage, e.outcome, e.occurred_at) AS h,
        TRUE AS valid
    FROM landing_events AS e
    LEFT JOIN vocabulary AS st ON st.domain = 'stage' AND st.spelling = f_key(e.stage)
    LEFT JOIN vocabulary AS oc ON oc.domain = 'outcome' AND oc.spelling = f_key(e.outcome)
)
WHERE event_id IS NOT NULL AND applicant_id IS NOT NULL AND campaign_id IS NOT NULL
  AND stage_order IS NOT NULL AND outcome IS NOT NULL AND occurred_at IS NOT NULL;

-- rule 4: an id delivered with different contents is rejected in every copy (identical
-- copies count once; they cannot change a latest-event pick, so they are not removed).
-- Exact up to a 64-bit hash collision between two copies of one id.
CREATE OR REPLACE TEMP TABLE f_conflicting AS
SELECT event_id FROM f_rows GROUP BY event_id HAVING min(h) <> max(h);

-- one row per application: its latest event at each stage (ties: greatest event_id),
-- side by side; in the funnel when it has an application-stage outcome
CREATE OR REPLACE TEMP TABLE f_applications AS
SELECT applicant_id, campaign_id,
       arg_max(outcome, {'t': occurred_at, 'e': event_id}) FILTER (WHERE stage_order = 1) AS outcome_1,
       arg_max(outcome, {'t': occurred_at, 'e': event_id}) FILTER (WHERE stage_order = 2) AS outcome_2,
       arg_max(outcome, {'t': occurred_at, 'e': event_id}) FILTER (WHERE stage_order = 3) AS outcome_3,
       arg_max(outcome, {'t': occurred_at, 'e': event_id}) FILTER (WHERE stage_order = 4) AS outcome_4,
       arg_max(outcome, {'t': occurred_at, 'e': event_id}) FILTER (WHERE stage_order = 5) AS outcome_5
FROM f_rows
WHERE event_id NOT IN (SELECT event_id FROM f_conflicting)
GROUP BY applicant_id, campaign_id
HAVING outcome_1 IS NOT NULL;

-- one row per person: the row of the file whose name sorts last, then the later row
CREATE OR REPLACE TEMP TABLE f_people AS
SELECT f_clean(applicant_id) AS applicant_id,
       arg_max({'sex': sex, 'ethnicity': ethnicity, 'disability': disability,
                'sexual_orientation': sexual_orientation},
               {'f': file_name, 'r': row_number}) AS v
FROM landing_applicants
WHERE f_clean(applicant_id) IS NOT NULL
GROUP BY 1;

-- delivered spelling → canonical group, worked out once per distinct spelling
CREATE OR REPLACE TEMP TABLE f_spellings AS
WITH delivered AS (
    SELECT DISTINCT 'sex' AS domain, v.sex AS value FROM f_people
    UNION SELECT DISTINCT 'ethnicity', v.ethnicity FROM f_people
    UNION SELECT DISTINCT 'disability', v.disability FROM f_people
    UNION SELECT DISTINCT 'sexual_orientation', v.sexual_orientation FROM f_people
)
SELECT d.domain, d.value, coalesce(
    (SELECT x.canonical FROM vocabulary AS x WHERE x.domain = d.domain AND x.spelling = f_key(d.value)),
    (SELECT min(x.canonical) FROM vocabulary AS x
      WHERE d.domain = 'ethnicity' AND x.domain = 'ethnicity_prefix'
        AND regexp_matches(f_key(d.value), '^' || x.spelling || '($|[^a-z])')),
    'Not stated') AS canonical
FROM delivered AS d;

CREATE OR REPLACE TEMP TABLE f_groups AS
SELECT p.applicant_id,
       sx.canonical AS sex, et.canonical AS ethnicity,
       coalesce(em.canonical, 'Not stated') AS ethnic_minority,
       di.canonical AS disability, so.canonical AS sexual_orientation,
       coalesce(lg.canonical, 'Not stated') AS lgbt_plus
FROM f_people AS p
JOIN f_spellings AS sx ON sx.domain = 'sex' AND sx.value IS NOT DISTINCT FROM p.v.sex
JOIN f_spellings AS et ON et.domain = 'ethnicity' AND et.value IS NOT DISTINCT FROM p.v.ethnicity
JOIN f_spellings AS di ON di.domain = 'disability' AND di.value IS NOT DISTINCT FROM p.v.disability
JOIN f_spellings AS so ON so.domain = 'sexual_orientation'
                      AND so.value IS NOT DISTINCT FROM p.v.sexual_orientation
LEFT JOIN vocabulary AS em ON em.domain = 'ethnic_minority' AND em.spelling = et.canonical
LEFT JOIN vocabulary AS lg ON lg.domain = 'lgbt_plus' AND lg.spelling = so.canonical;

-- funnel applications per combination of groups and stage outcomes (a small table)
CREATE OR REPLACE TEMP TABLE f_cube AS
SELECT coalesce(g.sex, 'Not stated') AS sex,
       coalesce(g.ethnicity, 'Not stated') AS ethnicity,
       coalesce(g.ethnic_minority, 'Not stated') AS ethnic_minority,
       coalesce(g.disability, 'Not stated') AS disability,
       coalesce(g.sexual_orientation, 'Not stated') AS sexual_orientation,
       coalesce(g.lgbt_plus, 'Not stated') AS lgbt_plus,
       a.outcome_1, a.outcome_2, a.outcome_3, a.outcome_4, a.outcome_5,
       count(*) AS n
FROM f_applications AS a
LEFT JOIN f_groups AS g USING (applicant_id)
GROUP BY ALL;

CREATE OR REPLACE TEMP TABLE f_counts AS
WITH stages AS (
    SELECT DISTINCT canonical AS stage, stage_order FROM vocabulary WHERE domain = 'stage'
),
characteristics AS (
    SELECT spelling AS characteristic, canonical AS reference_group
    FROM vocabulary WHERE domain = 'reference_group'
    UNION ALL SELECT 'all', NULL
),
rows AS (
    SELECT ch.characteristic, ch.reference_group,
           CASE ch.characteristic
               WHEN 'sex' THEN c.sex WHEN 'ethnicity' THEN c.ethnicity
               WHEN 'ethnic_minority' THEN c.ethnic_minority WHEN 'disability' THEN c.disability
               WHEN 'sexual_orientation' THEN c.sexual_orientation
               WHEN 'lgbt_plus' THEN c.lgbt_plus ELSE 'All' END AS group_name,
           s.stage, s.stage_order, c.n,
           [c.outcome_1, c.outcome_2, c.outcome_3, c.outcome_4, c.outcome_5][s.stage_order] AS outcome,
           CASE WHEN s.stage_order > 1 THEN
               [c.outcome_1, c.outcome_2, c.outcome_3, c.outcome_4, c.outcome_5][s.stage_order - 1]
           END AS previous_outcome
    FROM f_cube AS c CROSS JOIN stages AS s CROSS JOIN characteristics AS ch
)
SELECT characteristic, group_name, reference_group, stage, stage_order::INTEGER AS stage_order,
       sum(n)::BIGINT AS applications,
       coalesce(sum(n) FILTER (WHERE outcome = 'passed'), 0)::BIGINT AS passed,
       coalesce(sum(n) FILTER (WHERE outcome = 'failed'), 0)::BIGINT AS failed,
       coalesce(sum(n) FILTER (WHERE outcome = 'withdrawn'), 0)::BIGINT AS withdrawn,
       coalesce(sum(n) FILTER (WHERE outcome IS NULL AND previous_outcome = 'passed'), 0)::BIGINT
           AS pending
FROM rows
GROUP BY ALL;

CREATE OR REPLACE TEMP TABLE floor_stage_pass_rates AS
WITH rates AS (
    SELECT *,
        passed + failed + withdrawn AS decided,
        passed + failed + withdrawn + pending AS entered,
        CASE WHEN passed + failed + withdrawn > 0 THEN passed / (passed + failed + withdrawn) END
            AS pass_rate,
        passed / applications AS cumulative_pass_rate
    FROM f_counts
),
wilson AS (
    SELECT *,
        CASE WHEN decided > 0 THEN (pass_rate + $z * $z / (2 * decided)) / (1 + $z * $z / decided) END
            AS centre,
        CASE WHEN decided > 0 THEN
            $z * sqrt(pass_rate * (1 - pass_rate) / decided + $z * $z / (4 * decided * decided))
            / (1 + $z * $z / decided) END AS half_width
    FROM rates
)
SELECT
    g.characteristic, g.group_name, g.stage, g.stage_order,
    g.entered, g.passed, g.failed, g.withdrawn, g.pending,
    g.pass_rate,
    CASE WHEN g.decided > 0 THEN greatest(0.0, g.centre - g.half_width) END AS pass_rate_ci_low,
    CASE WHEN g.decided > 0 THEN least(1.0, g.centre + g.half_width) END AS pass_rate_ci_high,
    g.cumulative_pass_rate,
    g.reference_group,
    CASE WHEN g.characteristic <> 'all' AND g.group_name <> 'Not stated'
              AND g.group_name <> g.reference_group
              AND g.pass_rate IS NOT NULL AND r.pass_rate > 0
         THEN g.pass_rate / r.pass_rate END AS adverse_impact_ratio,
    -- the two rows of Fisher's table, for the scipy step
    g.passed AS fisher_a, g.decided - g.passed AS fisher_b,
    r.passed AS fisher_c, r.decided - r.passed AS fisher_d
FROM wilson AS g
LEFT JOIN rates AS r
  ON r.characteristic = g.characteristic AND r.group_name = g.reference_group
 AND r.stage_order = g.stage_order;
