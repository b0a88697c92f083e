-- Session macros shared by every SQL file (created TEMP on each connection).
-- Nothing here names a stage or a characteristic: the rules read the config.* tables.

-- A delivered text value with surrounding white space removed; NULL when blank.
CREATE OR REPLACE TEMP MACRO clean(value) AS
    nullif(trim(value, ' ' || chr(9) || chr(10) || chr(11) || chr(12) || chr(13) || chr(160)), '');

-- The lower-case form vocabulary matching uses (docs/CONTRACT.md sections 2 and 8).
CREATE OR REPLACE TEMP MACRO vocab_key(value) AS lower(coalesce(clean(value), ''));

-- ISO 8601 date or date-time with optional UTC offset → TIMESTAMPTZ in UTC; NULL otherwise.
-- Exactly docs/CONTRACT.md v1.2 section 1.2: `YYYY-MM-DD`, optionally followed by `T` or a space,
-- `hh:mm[:ss[.fraction]]` and `Z` or `±hh:mm`; no offset = UTC. (DuckDB alone would also
-- accept 'infinity', 'epoch', '2021-1-5', `+0100`, …; impossible dates fail the cast.)
CREATE OR REPLACE TEMP MACRO parse_instant(value) AS
    CASE WHEN regexp_full_match(
            clean(value),
            '\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})?)?')
         THEN try_cast(clean(value) AS TIMESTAMPTZ) END;

-- An ISO 8601 calendar date (YYYY-MM-DD) → DATE; NULL otherwise.
CREATE OR REPLACE TEMP MACRO parse_date(value) AS
    CASE WHEN regexp_full_match(clean(value), '\d{4}-\d{2}-\d{2}')
         THEN try_cast(clean(value) AS DATE) END;

-- x², multiplied out as numpy's `** 2` does (the statistics of sections 9 and 10 are
-- compared with statsmodels to the last digits).
CREATE OR REPLACE TEMP MACRO square(x) AS (x) * (x);

-- Age in completed years on a date (docs/CONTRACT.md section 8): a birthday counts from its
-- day, and 29 February from 1 March in a year without one.
CREATE OR REPLACE TEMP MACRO completed_years(born, on_date) AS
    year(on_date) - year(born)
    - CASE WHEN month(on_date) < month(born)
                OR (month(on_date) = month(born) AND day(on_date) < day(born))
           THEN 1 ELSE 0 END;

-- The prefix rule of docs/CONTRACT.md section 8: the value equals the leading words, or starts
-- with them followed by a character that is not a letter a-z (compared in lower case).
-- String functions, not a regular expression: a configured prefix is text, not a pattern.
CREATE OR REPLACE TEMP MACRO prefix_matches(key, prefix) AS
    key = prefix
    OR (starts_with(key, prefix)
        AND NOT regexp_full_match(substr(key, length(prefix) + 1, 1), '[a-z]'));

-- Canonical group of a delivered value of a delivered characteristic (docs/CONTRACT.md §8):
-- blank or a not-stated spelling → Not stated; a group name or synonym → its group; the
-- longest matching prefix → its group; anything else → NULL (unrecognised).
CREATE OR REPLACE TEMP MACRO recognised_group(characteristic_name, value) AS coalesce(
    (SELECT s.group_name FROM config.group_spellings AS s
      WHERE s.characteristic = characteristic_name AND s.spelling = vocab_key(value)),
    (SELECT arg_max(p.group_name, length(p.prefix)) FROM config.group_prefixes AS p
      WHERE p.characteristic = characteristic_name
        AND prefix_matches(vocab_key(value), p.prefix)));

-- A delivered raw row, whole: every contract column and every extra column, as text
-- (the raw table's bookkeeping columns removed; a JSON null patch deletes a key).
CREATE OR REPLACE TEMP MACRO whole_row(r) AS json_merge_patch(
    json_merge_patch(to_json(r), '{"file_id": null, "row_number": null, "extra_columns": null}'),
    coalesce(r.extra_columns, '{}'))::VARCHAR;

-- A delivered applicants row, whole: its id and every other column (raw.applicant_rows).
CREATE OR REPLACE TEMP MACRO whole_applicant_row(r) AS json_merge_patch(
    json_object('applicant_id', r.applicant_id), coalesce(r.attributes, '{}'))::VARCHAR;

-- What "same content" compares for a delivered event row (docs/CONTRACT.md section 3, rule 4):
-- the six contract fields as delivered, trimmed, case-sensitive (v1.2 wording).
CREATE OR REPLACE TEMP MACRO delivered_content(r) AS
    [clean(r.event_id), clean(r.applicant_id), clean(r.campaign_id), clean(r.stage),
     clean(r.outcome), clean(r.occurred_at)];

-- Canonical group of a population row's group_name (docs/CONTRACT.md sections 6 and 8), or
-- NULL when it is not a group of the characteristic: a canonical group name (case-
-- insensitive; Not stated included), else for a delivered characteristic a recognised,
-- stated spelling of it (an alias, a detailed ONS label), and for a derived one such a
-- spelling of its base, mapped.
CREATE OR REPLACE TEMP MACRO population_group(characteristic_name, value) AS coalesce(
    (SELECT g.group_name FROM config.groups AS g
      WHERE g.characteristic = characteristic_name AND lower(g.group_name) = vocab_key(value)),
    (SELECT CASE c.kind
                WHEN 'delivered' THEN nullif(recognised_group(c.characteristic, value), 'Not stated')
                WHEN 'derived' THEN (
                    SELECT d.group_name FROM config.derived_groups AS d
                    WHERE d.characteristic = c.characteristic
                      AND d.base_group = nullif(recognised_group(b.characteristic, value),
                                                'Not stated'))
            END
       FROM config.characteristics AS c
       LEFT JOIN config.characteristics AS b ON b.position = c.base_position
      WHERE c.characteristic = characteristic_name));

-- What "same content" compares for a campaigns / population / interventions / leavers
-- row: the contract columns as delivered, trimmed (sections 6 and 9, as for events).
CREATE OR REPLACE TEMP MACRO campaign_content(r) AS
    [clean(r.campaign_id), clean(r.entry_route), clean(r.title), clean(r.opened_on),
     clean(r.closed_on)];
CREATE OR REPLACE TEMP MACRO population_content(r) AS
    [clean(r.characteristic), clean(r.group_name), clean(r.population_share), clean(r.area),
     clean(r.source)];
CREATE OR REPLACE TEMP MACRO intervention_content(r) AS
    [clean(r.intervention_id), clean(r.name), clean(r.started_on), clean(r.ended_on),
     clean(r.stage), clean(r.campaign_id)];
CREATE OR REPLACE TEMP MACRO leaver_content(r) AS
    [clean(r.applicant_id), clean(r.left_on), clean(r.reason)];

-- Funnel-cube contributions of a set of application rows (docs/CONTRACT.md section 5 counts),
-- times `weight` (+1 to add them, -1 to take them away). `source`: a table with the
-- columns of core.applications. Grain: campaign × application year × groups × stage;
-- funnel applications only:
--   passed / failed / withdrawn — outcome at the stage;
--   pending — passed the previous stage, no outcome at this stage (0 at the first stage);
--   applications — every funnel application of the cell (same on each stage row).
CREATE OR REPLACE TEMP MACRO funnel_cells(source, weight) AS TABLE
WITH per_stage AS (
    SELECT
        a.campaign_id, a.application_year, a.groups, s.stage_order,
        a.outcomes[s.stage_order] AS outcome,
        CASE WHEN s.stage_order > 1 THEN a.outcomes[s.stage_order - 1] END AS previous_outcome
    FROM query_table(source) AS a
    CROSS JOIN config.stages AS s
    WHERE a.in_funnel
)
SELECT
    campaign_id, application_year, groups, stage_order,
    weight * count(*)                                                   AS applications,
    weight * count(*) FILTER (WHERE outcome = 'passed')                 AS passed,
    weight * count(*) FILTER (WHERE outcome = 'failed')                 AS failed,
    weight * count(*) FILTER (WHERE outcome = 'withdrawn')              AS withdrawn,
    weight * count(*) FILTER (WHERE outcome IS NULL AND previous_outcome = 'passed') AS pending
FROM per_stage
GROUP BY ALL;
