-- core.applicants: one row per person (CONTRACT.md sections 1.1 and 2).
-- Grain: applicant_id. The winning row is the one from the file whose name sorts last,
-- then the later row in that file. Raw values are kept beside the canonical groups.
--
-- Incremental: consumes applicants files not yet processed; recomputes the winner of
-- every applicant_id they mention over all loaded applicants files, and marks those
-- people dirty so core.applications picks up their new groups.
-- A row with a blank applicant_id is rejected ('missing required field: applicant_id').

CREATE OR REPLACE TEMP TABLE batch_files AS
SELECT file_id, file_name
FROM raw.landing_files
WHERE kind = 'applicants' AND status IN ('loaded', 'duplicate') AND processed_at IS NULL;

INSERT INTO quality.rejected_rows (file_id, row_number, kind, file_name, reason, row_data, rejected_at)
SELECT r.file_id, r.row_number, 'applicants', f.file_name,
       'missing required field: applicant_id', whole_row(r), now()
FROM raw.applicant_rows AS r
JOIN batch_files AS f USING (file_id)
WHERE clean(r.applicant_id) IS NULL;

CREATE OR REPLACE TEMP TABLE affected_applicants AS
SELECT DISTINCT clean(r.applicant_id) AS applicant_id
FROM raw.applicant_rows AS r
JOIN batch_files AS f USING (file_id)
WHERE clean(r.applicant_id) IS NOT NULL;

DELETE FROM core.applicants
WHERE applicant_id IN (SELECT applicant_id FROM affected_applicants);

INSERT INTO core.applicants BY NAME
WITH candidates AS (
    SELECT clean(r.applicant_id) AS applicant_id, r.*, f.file_name
    FROM raw.applicant_rows AS r
    JOIN raw.landing_files AS f USING (file_id)
    WHERE f.kind = 'applicants' AND f.status IN ('loaded', 'duplicate')
      AND clean(r.applicant_id) IN (SELECT applicant_id FROM affected_applicants)
),
winners AS (
    SELECT * EXCLUDE (rank_in_person)
    FROM (
        SELECT *, row_number() OVER (
            PARTITION BY applicant_id ORDER BY file_name DESC, row_number DESC) AS rank_in_person
        FROM candidates)
    WHERE rank_in_person = 1
),
grouped AS (
    SELECT w.*,
        canonical_group('sex', w.sex)                               AS sex_group,
        canonical_group('ethnicity', w.ethnicity)                   AS ethnicity_group,
        canonical_group('disability', w.disability)                 AS disability_group,
        canonical_group('sexual_orientation', w.sexual_orientation) AS sexual_orientation_group,
        concat_ws(',',
            CASE WHEN NOT group_recognised('sex', w.sex) THEN 'sex' END,
            CASE WHEN NOT group_recognised('ethnicity', w.ethnicity) THEN 'ethnicity' END,
            CASE WHEN NOT group_recognised('disability', w.disability) THEN 'disability' END,
            CASE WHEN NOT group_recognised('sexual_orientation', w.sexual_orientation)
                 THEN 'sexual_orientation' END) AS unrecognised_list
    FROM winners AS w
)
SELECT
    applicant_id,
    sex AS sex_raw, ethnicity AS ethnicity_raw, disability AS disability_raw,
    sexual_orientation AS sexual_orientation_raw,
    sex_group AS sex,
    ethnicity_group AS ethnicity,
    derived_group('ethnic_minority', ethnicity_group) AS ethnic_minority,
    disability_group AS disability,
    sexual_orientation_group AS sexual_orientation,
    derived_group('lgbt_plus', sexual_orientation_group) AS lgbt_plus,
    nullif(unrecognised_list, '') AS unrecognised,
    file_id, row_number, extra_columns
FROM grouped;

INSERT INTO core.dirty_keys (kind, applicant_id, campaign_id)
SELECT 'applicant', applicant_id, ''
FROM affected_applicants
WHERE applicant_id NOT IN (SELECT applicant_id FROM core.dirty_keys WHERE kind = 'applicant');

UPDATE raw.landing_files SET processed_at = now()
WHERE file_id IN (SELECT file_id FROM batch_files);
