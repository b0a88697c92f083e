-- core.population — grain: characteristic × canonical group (docs/CONTRACT.md section 6): the
-- group's share of the stated local working-age population. Also writes
-- quality.rejected_rows (kind 'population') and quality.conflicting_keys (key
-- '<characteristic>:<group>').
--
-- Incremental: consumes population files not yet processed and recomputes every key
-- they mention over all loaded population files (they are small).
--
-- A row is rejected, first rule wins:
--   1. characteristic / group_name / population_share blank → 'missing required field: <name>'
--   2. characteristic not a configured one (case-insensitive) → 'characteristic not in vocabulary'
--   3. group_name not a group of it (canonical name, case-insensitive, or a recognised
--      stated spelling of a delivered characteristic or of a derived one's base, e.g.
--      'F', 'Asian or Asian British: Indian' for ethnic_minority → Yes)
--                                                           → 'group_name not in vocabulary'
--   4. population_share not a number                        → 'population_share cannot be parsed'
--   5. population_share outside [0, 1]                      → 'population_share outside [0, 1]'
--   6. key seen with other content (contract columns as delivered; every copy)
--                                                           → 'conflicting duplicate characteristic + group_name'

CREATE OR REPLACE TEMP TABLE batch_files AS
SELECT file_id, file_name
FROM raw.landing_files
WHERE kind = 'population' AND status IN ('loaded', 'duplicate') AND processed_at IS NULL;

CREATE OR REPLACE TEMP TABLE judged_rows AS
WITH typed AS (
    SELECT
        r.file_id, r.row_number, f.file_name, r.extra_columns,
        f.file_id IN (SELECT file_id FROM batch_files) AS in_batch,
        clean(r.characteristic) IS NULL   AS characteristic_blank,
        clean(r.group_name) IS NULL       AS group_blank,
        clean(r.population_share) IS NULL AS share_blank,
        ch.characteristic AS characteristic,
        r.group_name AS group_delivered,
        try_cast(clean(r.population_share) AS DOUBLE) AS population_share,
        clean(r.area)   AS area,
        clean(r.source) AS source,
        whole_row(r) AS row_data,
        population_content(r) AS content
    FROM raw.population_rows AS r
    JOIN raw.landing_files AS f USING (file_id)
    LEFT JOIN config.characteristics AS ch ON lower(ch.characteristic) = vocab_key(r.characteristic)
    WHERE f.kind = 'population' AND f.status IN ('loaded', 'duplicate')
),
grouped AS (
    SELECT * EXCLUDE (group_delivered),
        CASE WHEN characteristic IS NOT NULL
             THEN population_group(characteristic, group_delivered) END AS group_name
    FROM typed
),
judged AS (
    SELECT *,
        CASE
            WHEN characteristic_blank        THEN 'missing required field: characteristic'
            WHEN group_blank                 THEN 'missing required field: group_name'
            WHEN share_blank                 THEN 'missing required field: population_share'
            WHEN characteristic IS NULL      THEN 'characteristic not in vocabulary'
            WHEN group_name IS NULL          THEN 'group_name not in vocabulary'
            WHEN population_share IS NULL    THEN 'population_share cannot be parsed'
            WHEN isnan(population_share) OR population_share < 0 OR population_share > 1
                                             THEN 'population_share outside [0, 1]'
        END AS reject_reason
    FROM grouped
)
SELECT *, characteristic || ':' || group_name AS key_value FROM judged;

-- rejections, key conflicts (shared by every keyed optional input)
-- include: core/keyed_rejections.sql

DELETE FROM core.population
WHERE characteristic || ':' || group_name IN (SELECT key_value FROM affected_keys);

INSERT INTO core.population
    (characteristic, group_name, population_share, area, source, file_id, row_number, extra_columns)
SELECT first.characteristic, first.group_name, first.population_share, first.area, first.source,
       first.file_id, first.row_number, first.extra_columns
FROM (
    SELECT key_value,
           arg_min({'characteristic': characteristic, 'group_name': group_name,
                    'population_share': population_share, 'area': area, 'source': source,
                    'file_id': file_id, 'row_number': row_number, 'extra_columns': extra_columns},
                   {'file_name': file_name, 'row_number': row_number}) AS first
    FROM judged_rows
    WHERE reject_reason IS NULL
      AND key_value IN (SELECT key_value FROM affected_keys)
      AND key_value NOT IN (SELECT key_value FROM key_conflicts)
    GROUP BY key_value
);

UPDATE raw.landing_files SET processed_at = now()
WHERE file_id IN (SELECT file_id FROM batch_files);
