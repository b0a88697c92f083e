-- core.leavers — grain: applicant_id × left_on as delivered, trimmed (docs/CONTRACT.md section 9:
-- a person who rejoins can leave again; `2023-01-01` and `2023-01-01T00:00:00Z` are two
-- keys). Also writes quality.rejected_rows (kind 'leavers') and quality.conflicting_keys.
-- `reason` is kept, never published.
--
-- Incremental: consumes leavers files not yet processed and recomputes every key they
-- mention over all loaded leavers files (they are small).
--
-- A row is rejected, first rule wins:
--   1. applicant_id / left_on blank            → 'missing required field: <name>'
--      applicant_id longer than $max_key_length → 'applicant_id longer than <n> characters'
--   2. left_on not ISO 8601 (parsed like occurred_at) → 'left_on cannot be parsed'
--   3. key seen with other content (the row's columns as delivered, trimmed; every
--      copy; identical copies count once)     → 'conflicting duplicate applicant_id + left_on'

CREATE OR REPLACE TEMP TABLE batch_files AS
SELECT file_id, file_name
FROM raw.landing_files
WHERE kind = 'leavers' AND status IN ('loaded', 'duplicate') AND processed_at IS NULL;

CREATE OR REPLACE TEMP TABLE judged_rows AS
WITH typed AS (
    SELECT
        r.file_id, r.row_number, f.file_name, r.extra_columns,
        f.file_id IN (SELECT file_id FROM batch_files) AS in_batch,
        clean(r.applicant_id) AS applicant_id,
        clean(r.left_on)      AS left_on_delivered,
        parse_instant(r.left_on) AS left_on,
        clean(r.reason)       AS reason,
        whole_row(r) AS row_data,
        leaver_content(r) AS content
    FROM raw.leaver_rows AS r
    JOIN raw.landing_files AS f USING (file_id)
    WHERE f.kind = 'leavers' AND f.status IN ('loaded', 'duplicate')
)
SELECT *,
    json_array(applicant_id, left_on_delivered)::VARCHAR AS key_value,
    CASE
        WHEN applicant_id IS NULL      THEN 'missing required field: applicant_id'
        WHEN left_on_delivered IS NULL THEN 'missing required field: left_on'
        WHEN length(applicant_id) > $max_key_length
            THEN 'applicant_id longer than ' || $max_key_length || ' characters'
        WHEN left_on IS NULL           THEN 'left_on cannot be parsed'
    END AS reject_reason
FROM typed;

-- rejections, key conflicts (shared by every keyed optional input)
-- include: core/keyed_rejections.sql

DELETE FROM core.leavers
WHERE json_array(applicant_id, left_on_delivered)::VARCHAR IN (SELECT key_value FROM affected_keys);

-- accepted: one row per key, provenance = first delivery by file name and row
INSERT INTO core.leavers
    (applicant_id, left_on_delivered, left_on, reason, file_id, row_number, extra_columns)
SELECT first.applicant_id, first.left_on_delivered, first.left_on, first.reason,
       first.file_id, first.row_number, first.extra_columns
FROM (
    SELECT key_value,
           arg_min({'applicant_id': applicant_id, 'left_on_delivered': left_on_delivered,
                    'left_on': left_on, 'reason': reason, 'file_id': file_id,
                    'row_number': row_number, 'extra_columns': extra_columns},
                   {'file_name': file_name, 'row_number': row_number}) AS first
    FROM judged_rows
    WHERE reject_reason IS NULL
      AND key_value IN (SELECT key_value FROM affected_keys)
      AND key_value NOT IN (SELECT key_value FROM key_conflicts)
    GROUP BY key_value
);

UPDATE raw.landing_files SET processed_at = now()
WHERE file_id IN (SELECT file_id FROM batch_files);
