-- core.applications and core.funnel_cube (docs/CONTRACT.md sections 4 and 8). Runs after
-- core/stage_outcomes.sql in the same transaction (reads its `dirty_applications` and
-- `latest_by_stage`).
--
-- core.applications — grain: application. Its outcomes and times as lists by
--   stage_order, whether it is in the funnel (has a first-stage outcome), its
--   application year (UTC year of that outcome), how many of its outcomes are out of
--   sequence (no pass at the stage before), and its groups as a list by characteristic
--   position:
--     delivered  — the person's group (core.applicants; Not stated without a row);
--     age band   — completed years from the date of birth to the UTC date of the
--                  first-stage outcome (a birthday counts from its day, 29 February from
--                  1 March in other years); the first band whose `below` exceeds the
--                  age; a date of birth after the application → Not stated, unrecognised;
--     derived    — the base group (at base_position) mapped; Not stated stays.
--
-- core.funnel_cube — counts per campaign × year × groups × stage (macro funnel_cells),
--   kept up to date here: the recomputed applications' old rows are subtracted, their
--   new rows added, so the marts never rescan applications.

-- the configuration as one row of lists by position (age bands, derived maps)
CREATE OR REPLACE TEMP TABLE characteristic_rules AS
WITH per_characteristic AS (
    SELECT c.position, c.characteristic, c.kind, c.base_position,
           (SELECT list({'group_name': b.group_name, 'below': b.below} ORDER BY b.position)
              FROM config.age_bands AS b WHERE b.characteristic = c.characteristic) AS bands,
           (SELECT map(list(d.base_group), list(d.group_name))
              FROM config.derived_groups AS d WHERE d.characteristic = c.characteristic) AS derived_map
    FROM config.characteristics AS c
)
SELECT list(kind ORDER BY position)          AS kinds,
       list(characteristic ORDER BY position) AS names,
       list(base_position ORDER BY position)  AS base_positions,
       list(bands ORDER BY position)          AS bands,
       list(derived_map ORDER BY position)    AS derived_maps
FROM per_characteristic;

-- the rows about to be replaced, for the cube (none on a first build)
CREATE OR REPLACE TEMP TABLE replaced_applications AS
SELECT a.* FROM core.applications AS a
SEMI JOIN dirty_applications AS d
    ON d.applicant_id = a.applicant_id AND d.campaign_id = a.campaign_id;

DELETE FROM core.applications AS a
WHERE EXISTS (SELECT 1 FROM dirty_applications AS d
              WHERE d.applicant_id = a.applicant_id AND d.campaign_id = a.campaign_id);

INSERT INTO core.applications BY NAME
WITH lists AS (
    SELECT applicant_id, campaign_id,
           list_transform(latest, lambda x: x.outcome)     AS outcomes,
           list_transform(latest, lambda x: x.occurred_at) AS occurred_at
    FROM latest_by_stage
),
dated AS (
    SELECT l.*, l.outcomes[1] IS NOT NULL AS in_funnel,
           p.applicant_id IS NOT NULL AS has_applicant_row,
           year(l.occurred_at[1])::INTEGER AS application_year,
           l.occurred_at[1]::DATE AS application_date,  -- the session time zone is UTC
           p.groups AS person_groups, p.birth_dates,
           coalesce(p.unrecognised, []::VARCHAR[]) AS person_unrecognised
    FROM lists AS l
    LEFT JOIN core.applicants AS p ON p.applicant_id = l.applicant_id
),
banded AS (
    SELECT d.*, r.kinds, r.names, r.base_positions, r.derived_maps,
        list_transform(range(1, len(r.kinds) + 1), lambda i: CASE
            WHEN r.kinds[i] = 'derived' THEN NULL
            WHEN NOT d.has_applicant_row THEN 'Not stated'
            WHEN d.person_groups[i] IS NOT NULL THEN d.person_groups[i]
            WHEN d.birth_dates[i] IS NULL OR d.application_date IS NULL
                 OR d.birth_dates[i] > d.application_date THEN 'Not stated'
            ELSE list_filter(r.bands[i], lambda band: band.below IS NULL
                     OR band.below > completed_years(d.birth_dates[i], d.application_date)
                 )[1].group_name
        END) AS base_groups,
        list_filter(range(1, len(r.kinds) + 1), lambda i: r.kinds[i] = 'age'
            AND d.birth_dates[i] > d.application_date) AS born_after_application
    FROM dated AS d
    CROSS JOIN characteristic_rules AS r
)
SELECT
    applicant_id, campaign_id, in_funnel, has_applicant_row, application_year,
    outcomes, occurred_at,
    list_transform(range(1, len(kinds) + 1), lambda i: CASE
        WHEN kinds[i] = 'derived'
            THEN coalesce(derived_maps[i][base_groups[base_positions[i]]], 'Not stated')
        ELSE base_groups[i]
    END) AS groups,
    list_concat(person_unrecognised,
                list_transform(born_after_application, lambda i: names[i])) AS unrecognised,
    len(list_filter(range(2, len(outcomes) + 1), lambda s: outcomes[s] IS NOT NULL
        AND outcomes[s - 1] IS DISTINCT FROM 'passed')) AS out_of_sequence_stages
FROM banded;

CREATE OR REPLACE TEMP VIEW recomputed_applications AS
SELECT a.* FROM core.applications AS a
SEMI JOIN dirty_applications AS d
    ON d.applicant_id = a.applicant_id AND d.campaign_id = a.campaign_id;

CREATE OR REPLACE TEMP TABLE merged_cube AS
SELECT campaign_id, application_year, groups, stage_order,
       sum(applications) AS applications, sum(passed) AS passed, sum(failed) AS failed,
       sum(withdrawn) AS withdrawn, sum(pending) AS pending
FROM (
    SELECT * FROM core.funnel_cube
    UNION ALL BY NAME
    SELECT * FROM funnel_cells('replaced_applications', -1)
    UNION ALL BY NAME
    SELECT * FROM funnel_cells('recomputed_applications', 1)
)
GROUP BY ALL
HAVING sum(applications) <> 0;

DELETE FROM core.funnel_cube;
INSERT INTO core.funnel_cube BY NAME SELECT * FROM merged_cube;

DELETE FROM core.dirty_keys;
