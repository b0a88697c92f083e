-- Session macros shared by every SQL file (created TEMP on each connection).

-- A delivered text value with surrounding white space removed; NULL when blank.
CREATE OR REPLACE TEMP MACRO clean(value) AS
    nullif(trim(value, ' ' || chr(9) || chr(10) || chr(11) || chr(12) || chr(13) || chr(160)), '');

-- The lower-case form vocabulary matching uses (CONTRACT.md section 2).
CREATE OR REPLACE TEMP MACRO vocab_key(value) AS lower(coalesce(clean(value), ''));

-- ISO 8601 date or date-time with optional UTC offset → TIMESTAMPTZ in UTC; NULL if not
-- ISO 8601 (DuckDB alone would also accept 'infinity', 'epoch', '2021-1-5', …).
CREATE OR REPLACE TEMP MACRO parse_instant(value) AS
    CASE WHEN regexp_full_match(
            clean(value),
            '\d{4}-\d{2}-\d{2}([Tt ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?([Zz]|[+-]\d{2}(:?\d{2})?)?)?')
         THEN try_cast(clean(value) AS TIMESTAMPTZ) END;

-- An ISO 8601 calendar date (YYYY-MM-DD) → DATE; NULL otherwise.
CREATE OR REPLACE TEMP MACRO parse_date(value) AS
    CASE WHEN regexp_full_match(clean(value), '\d{4}-\d{2}-\d{2}')
         THEN try_cast(clean(value) AS DATE) END;

-- Canonical group of a delivered characteristic value: exact spelling or synonym from
-- core.vocabulary, then (ethnicity only) the ONS "leading words" rule, else Not stated.
CREATE OR REPLACE TEMP MACRO canonical_group(domain_name, value) AS coalesce(
    (SELECT v.canonical FROM core.vocabulary v
      WHERE v.domain = domain_name AND v.spelling = vocab_key(value)),
    (SELECT min(v.canonical) FROM core.vocabulary v
      WHERE domain_name = 'ethnicity' AND v.domain = 'ethnicity_prefix'
        AND regexp_matches(vocab_key(value), '^' || v.spelling || '($|[^a-z])')),
    'Not stated');

-- Whether canonical_group recognised the value (unrecognised values are reported).
CREATE OR REPLACE TEMP MACRO group_recognised(domain_name, value) AS
    EXISTS (SELECT 1 FROM core.vocabulary v
             WHERE v.domain = domain_name AND v.spelling = vocab_key(value))
    OR EXISTS (SELECT 1 FROM core.vocabulary v
                WHERE domain_name = 'ethnicity' AND v.domain = 'ethnicity_prefix'
                  AND regexp_matches(vocab_key(value), '^' || v.spelling || '($|[^a-z])'));

-- Derived characteristic (ethnic_minority, lgbt_plus) from its base group.
CREATE OR REPLACE TEMP MACRO derived_group(domain_name, base_group) AS coalesce(
    (SELECT v.canonical FROM core.vocabulary v
      WHERE v.domain = domain_name AND v.spelling = base_group),
    'Not stated');

-- A delivered raw row, whole: every contract column and every extra column, as text
-- (the raw table's bookkeeping columns removed; a JSON null patch deletes a key).
CREATE OR REPLACE TEMP MACRO whole_row(r) AS json_merge_patch(
    json_merge_patch(to_json(r), '{"file_id": null, "row_number": null, "extra_columns": null}'),
    coalesce(r.extra_columns, '{}'))::VARCHAR;

-- What "same content" compares for a delivered event row (CONTRACT.md section 3, rule 4):
-- the six contract fields exactly as delivered.
CREATE OR REPLACE TEMP MACRO delivered_content(r) AS
    [r.event_id, r.applicant_id, r.campaign_id, r.stage, r.outcome, r.occurred_at];

-- Canonical group of a population row's group_name (CONTRACT.md section 6), or NULL when
-- it is not in section 2: a canonical group name of the characteristic (the derived ones
-- are plain Yes / No; Not stated included), else a recognised, stated spelling of its
-- source column (an alias, a detailed ONS label), mapped to the derived group if needed.
CREATE OR REPLACE TEMP MACRO population_group(characteristic_name, value) AS coalesce(
    (SELECT v.canonical FROM core.vocabulary v
      WHERE v.domain = 'groups:' || characteristic_name AND v.spelling = vocab_key(value)),
    (SELECT CASE
                WHEN NOT group_recognised(src.canonical, value)
                     OR canonical_group(src.canonical, value) = 'Not stated' THEN NULL
                WHEN src.canonical = characteristic_name THEN canonical_group(src.canonical, value)
                ELSE derived_group(characteristic_name, canonical_group(src.canonical, value))
            END
       FROM core.vocabulary src
      WHERE src.domain = 'characteristic_source' AND src.spelling = characteristic_name));

-- What "same content" compares for a campaigns / population / interventions row: the
-- contract columns exactly as delivered (as for events).
CREATE OR REPLACE TEMP MACRO campaign_content(r) AS
    [r.campaign_id, r.entry_route, r.title, r.opened_on, r.closed_on];
CREATE OR REPLACE TEMP MACRO population_content(r) AS
    [r.characteristic, r.group_name, r.population_share, r.area, r.source];
CREATE OR REPLACE TEMP MACRO intervention_content(r) AS
    [r.intervention_id, r.name, r.started_on, r.ended_on, r.stage, r.campaign_id];

-- The six characteristic columns of a row holding them (core.applications, the cube).
CREATE OR REPLACE TEMP MACRO group_of(characteristic_name, c) AS
    CASE characteristic_name
        WHEN 'sex' THEN c.sex
        WHEN 'ethnicity' THEN c.ethnicity
        WHEN 'ethnic_minority' THEN c.ethnic_minority
        WHEN 'disability' THEN c.disability
        WHEN 'sexual_orientation' THEN c.sexual_orientation
        WHEN 'lgbt_plus' THEN c.lgbt_plus
    END;

-- Funnel-cube contributions of a set of application rows (CONTRACT.md section 5 counts),
-- times `weight` (+1 to add them, -1 to take them away). `source`: a table with the
-- columns of core.applications. Grain: campaign × the six groups × stage; funnel
-- applications only:
--   passed / failed / withdrawn — outcome at the stage;
--   pending — passed the previous stage, no outcome at this stage (0 at application);
--   applications — every funnel application of the cell (same on each stage row).
CREATE OR REPLACE TEMP MACRO funnel_cells(source, weight) AS TABLE
WITH per_stage AS (
    SELECT
        a.campaign_id, a.sex, a.ethnicity, a.ethnic_minority, a.disability,
        a.sexual_orientation, a.lgbt_plus, s.stage, s.stage_order,
        CASE s.stage_order WHEN 1 THEN a.outcome_1 WHEN 2 THEN a.outcome_2
             WHEN 3 THEN a.outcome_3 WHEN 4 THEN a.outcome_4 WHEN 5 THEN a.outcome_5 END AS outcome,
        CASE s.stage_order WHEN 2 THEN a.outcome_1 WHEN 3 THEN a.outcome_2
             WHEN 4 THEN a.outcome_3 WHEN 5 THEN a.outcome_4 END AS previous_outcome
    FROM query_table(source) AS a
    CROSS JOIN (SELECT DISTINCT canonical AS stage, stage_order
                FROM core.vocabulary WHERE domain = 'stage') AS s
    WHERE a.in_funnel
)
SELECT
    campaign_id, sex, ethnicity, ethnic_minority, disability, sexual_orientation, lgbt_plus,
    stage, stage_order,
    weight * count(*)                                                   AS applications,
    weight * count(*) FILTER (WHERE outcome = 'passed')                 AS passed,
    weight * count(*) FILTER (WHERE outcome = 'failed')                 AS failed,
    weight * count(*) FILTER (WHERE outcome = 'withdrawn')              AS withdrawn,
    weight * count(*) FILTER (WHERE outcome IS NULL AND previous_outcome = 'passed') AS pending
FROM per_stage
GROUP BY ALL;
