-- core.applicants: one row per person (CONTRACT.md sections 1.1 and 2).
-- Grain: applicant_id. The winning row is the one from the file whose name sorts last,
-- then the later row in that file. Raw values are kept beside the canonical groups.
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
       whole_row(r), now()
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

CREATE OR REPLACE TEMP TABLE applicant_winners AS
WITH candidates AS (
    SELECT clean(r.applicant_id) AS applicant_id, r.* EXCLUDE (applicant_id), f.file_name
    FROM raw.applicant_rows AS r
    JOIN raw.landing_files AS f USING (file_id)
    WHERE f.kind = 'applicants' AND f.status IN ('loaded', 'duplicate')
      AND clean(r.applicant_id) IN (SELECT applicant_id FROM affected_applicants)
)
SELECT * EXCLUDE (rank_in_person)
FROM (
    SELECT *, row_number() OVER (
        PARTITION BY applicant_id ORDER BY file_name DESC, row_number DESC) AS rank_in_person
    FROM candidates)
WHERE rank_in_person = 1;

-- canonical group and recognition of every distinct delivered spelling, worked out once
-- (canonical_group / group_recognised depend on the value alone; a few hundred values
-- instead of one lookup per person)
CREATE OR REPLACE TEMP TABLE applicant_spellings AS
WITH delivered AS (
    SELECT DISTINCT 'sex' AS domain, sex AS value FROM applicant_winners
    UNION SELECT DISTINCT 'ethnicity', ethnicity FROM applicant_winners
    UNION SELECT DISTINCT 'disability', disability FROM applicant_winners
    UNION SELECT DISTINCT 'sexual_orientation', sexual_orientation FROM applicant_winners
)
SELECT domain, value,
       canonical_group(domain, value)  AS canonical,
       group_recognised(domain, value) AS recognised,
       CASE domain
           WHEN 'ethnicity' THEN derived_group('ethnic_minority', canonical_group(domain, value))
           WHEN 'sexual_orientation' THEN derived_group('lgbt_plus', canonical_group(domain, value))
       END AS derived
FROM delivered;

INSERT INTO core.applicants BY NAME
WITH grouped AS (
    SELECT w.*,
        sx.canonical AS sex_group,
        et.canonical AS ethnicity_group,
        di.canonical AS disability_group,
        so.canonical AS sexual_orientation_group,
        et.derived AS ethnic_minority_group,
        so.derived AS lgbt_plus_group,
        concat_ws(',',
            CASE WHEN NOT sx.recognised THEN 'sex' END,
            CASE WHEN NOT et.recognised THEN 'ethnicity' END,
            CASE WHEN NOT di.recognised THEN 'disability' END,
            CASE WHEN NOT so.recognised THEN 'sexual_orientation' END) AS unrecognised_list
    FROM applicant_winners AS w
    JOIN applicant_spellings AS sx ON sx.domain = 'sex' AND sx.value IS NOT DISTINCT FROM w.sex
    JOIN applicant_spellings AS et ON et.domain = 'ethnicity' AND et.value IS NOT DISTINCT FROM w.ethnicity
    JOIN applicant_spellings AS di
      ON di.domain = 'disability' AND di.value IS NOT DISTINCT FROM w.disability
    JOIN applicant_spellings AS so
      ON so.domain = 'sexual_orientation' AND so.value IS NOT DISTINCT FROM w.sexual_orientation
)
SELECT
    applicant_id,
    sex AS sex_raw, ethnicity AS ethnicity_raw, disability AS disability_raw,
    sexual_orientation AS sexual_orientation_raw,
    sex_group AS sex,
    ethnicity_group AS ethnicity,
    ethnic_minority_group AS ethnic_minority,
    disability_group AS disability,
    sexual_orientation_group AS sexual_orientation,
    lgbt_plus_group AS lgbt_plus,
    nullif(unrecognised_list, '') AS unrecognised,
    file_id, row_number, extra_columns
FROM grouped;

INSERT INTO core.dirty_keys (kind, applicant_id, campaign_id)
SELECT 'applicant', applicant_id, ''
FROM affected_applicants
WHERE applicant_id NOT IN (SELECT applicant_id FROM core.dirty_keys WHERE kind = 'applicant');

UPDATE raw.landing_files SET processed_at = now()
WHERE file_id IN (SELECT file_id FROM batch_files);
