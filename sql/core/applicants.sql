-- core.applicants: one row per person (docs/CONTRACT.md sections 1.1, 2 and 8).
-- Grain: applicant_id. The winning row is the one from the file whose name sorts last,
-- then the later row in that file. The delivered columns are kept as attributes.
--
-- groups[position]: the person's group for every delivered characteristic (its column
-- read from attributes at $attribute_paths[position]; blank or a not-stated spelling →
-- Not stated; a group name or synonym → its group; the longest matching prefix → its
-- group; else Not stated, listed in `unrecognised`). An age band's position is NULL when
-- the date of birth is a valid YYYY-MM-DD date (birth_dates[position]: the band needs the
-- application's date, core/applications.sql), else Not stated (blank / not stated;
-- malformed → also unrecognised). Derived positions are NULL here.
--
-- Incremental: consumes applicants files not yet processed; recomputes the winner of
-- every applicant_id they mention over all loaded applicants files, and marks those
-- people dirty so core.applications picks up their new groups.
-- A row with a blank applicant_id is rejected ('missing required field: applicant_id'),
-- one longer than $max_key_length characters too ('applicant_id longer than <n> characters').

CREATE OR REPLACE TEMP TABLE batch_files AS
SELECT file_id, file_name
FROM raw.landing_files
WHERE kind = 'applicants' AND status IN ('loaded', 'duplicate') AND processed_at IS NULL;

INSERT INTO quality.rejected_rows (file_id, row_number, kind, file_name, reason, row_data, rejected_at)
SELECT r.file_id, r.row_number, 'applicants', f.file_name,
       CASE WHEN clean(r.applicant_id) IS NULL THEN 'missing required field: applicant_id'
            ELSE 'applicant_id longer than ' || $max_key_length || ' characters' END,
       whole_applicant_row(r), now()
FROM raw.applicant_rows AS r
JOIN batch_files AS f USING (file_id)
WHERE clean(r.applicant_id) IS NULL OR length(clean(r.applicant_id)) > $max_key_length;

CREATE OR REPLACE TEMP TABLE affected_applicants AS
SELECT DISTINCT clean(r.applicant_id) AS applicant_id
FROM raw.applicant_rows AS r
JOIN batch_files AS f USING (file_id)
WHERE clean(r.applicant_id) IS NOT NULL AND length(clean(r.applicant_id)) <= $max_key_length;

DELETE FROM core.applicants
WHERE applicant_id IN (SELECT applicant_id FROM affected_applicants);

-- the winning row of each affected person, with its delivered value at every position
CREATE OR REPLACE TEMP TABLE applicant_winners AS
WITH candidates AS (
    SELECT clean(r.applicant_id) AS applicant_id, r.file_id, r.row_number, r.attributes,
           f.file_name
    FROM raw.applicant_rows AS r
    JOIN raw.landing_files AS f USING (file_id)
    WHERE f.kind = 'applicants' AND f.status IN ('loaded', 'duplicate')
      AND clean(r.applicant_id) IN (SELECT applicant_id FROM affected_applicants)
)
SELECT applicant_id, file_id, row_number, attributes,
       json_extract_string(attributes, $attribute_paths) AS delivered_values
FROM (
    SELECT *, row_number() OVER (
        PARTITION BY applicant_id ORDER BY file_name DESC, row_number DESC) AS rank_in_person
    FROM candidates)
WHERE rank_in_person = 1;

-- every distinct delivered value of each delivered or age-band characteristic, judged
-- once (a few hundred values, not one lookup per person); '' = blank or missing
CREATE OR REPLACE TEMP TABLE applicant_spellings AS
WITH delivered AS (
    SELECT DISTINCT c.position, c.characteristic, c.kind,
           coalesce(w.delivered_values[c.position], '') AS value
    FROM applicant_winners AS w
    CROSS JOIN config.characteristics AS c
    WHERE c.kind IN ('delivered', 'age')
),
judged AS (
    SELECT *, recognised_group(characteristic, value) AS spelled_group,
           CASE WHEN kind = 'age' THEN parse_date(value) END AS parsed_date
    FROM delivered
)
SELECT position, characteristic, value,
    CASE WHEN kind = 'delivered' THEN coalesce(spelled_group, 'Not stated')
         WHEN spelled_group IS NOT NULL OR parsed_date IS NULL THEN 'Not stated'
    END AS group_name,  -- NULL: an age band with a valid date of birth
    spelled_group IS NOT NULL OR parsed_date IS NOT NULL AS recognised,
    CASE WHEN spelled_group IS NULL THEN parsed_date END AS born_on
FROM judged;

INSERT INTO core.applicants BY NAME
WITH judged AS (
    SELECT w.applicant_id, w.file_id, w.row_number, w.attributes,
        s{position}.group_name AS group_{position},
        s{position}.born_on AS born_{position},
        CASE WHEN NOT s{position}.recognised THEN s{position}.characteristic END AS unrecognised_{position},
    FROM applicant_winners AS w
    LEFT JOIN applicant_spellings AS s{position} ON s{position}.position = {position} AND s{position}.value = coalesce(w.delivered_values[{position}], '')
)
SELECT applicant_id, file_id, row_number, attributes, groups, birth_dates,
       list_filter(unrecognised_or_null, lambda name: name IS NOT NULL) AS unrecognised
FROM (
    SELECT applicant_id, file_id, row_number, attributes,
           list_value(*COLUMNS('^group_\d+$')) AS groups,
           list_value(*COLUMNS('^born_\d+$')) AS birth_dates,
           list_value(*COLUMNS('^unrecognised_\d+$')) AS unrecognised_or_null
    FROM judged);

INSERT INTO core.dirty_keys (kind, applicant_id, campaign_id)
SELECT 'applicant_key', applicant_id, ''
FROM affected_applicants
WHERE applicant_id NOT IN (SELECT applicant_id FROM core.dirty_keys WHERE kind = 'applicant_key');

UPDATE raw.landing_files SET processed_at = now()
WHERE file_id IN (SELECT file_id FROM batch_files);
