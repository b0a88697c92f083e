-- core.interventions — grain: intervention_id (docs/CONTRACT.md section 6). stage is canonical
-- (NULL = every stage), campaign_id trimmed (NULL = every campaign), dates at 00:00 UTC,
-- ended_on exclusive. Also writes quality.rejected_rows (kind 'interventions') and
-- quality.conflicting_keys.
--
-- Incremental: consumes interventions files not yet processed and recomputes every
-- intervention_id they mention over all loaded interventions files (they are small).
--
-- A row is rejected, first rule wins:
--   1. intervention_id / name / started_on blank → 'missing required field: <name>'
--      intervention_id longer than $max_key_length → 'intervention_id longer than <n> characters'
--   2. started_on / ended_on not YYYY-MM-DD        → '<column> cannot be parsed'
--   3. stage given but not a configured stage      → 'stage not in vocabulary'
--   4. intervention_id seen with other content (contract columns as delivered; every
--      copy)                                      → 'conflicting duplicate intervention_id'

CREATE OR REPLACE TEMP TABLE batch_files AS
SELECT file_id, file_name
FROM raw.landing_files
WHERE kind = 'interventions' AND status IN ('loaded', 'duplicate') AND processed_at IS NULL;

CREATE OR REPLACE TEMP TABLE judged_rows AS
WITH typed AS (
    SELECT
        r.file_id, r.row_number, f.file_name, r.extra_columns,
        f.file_id IN (SELECT file_id FROM batch_files) AS in_batch,
        clean(r.intervention_id) AS key_value,
        clean(r.name)            AS name,
        clean(r.started_on) IS NULL AS started_blank,
        parse_date(r.started_on) AS started_on,
        parse_date(r.ended_on)   AS ended_on,
        clean(r.ended_on) IS NOT NULL AND parse_date(r.ended_on) IS NULL AS ended_bad,
        clean(r.stage) IS NOT NULL AS stage_given,
        st.stage       AS stage,
        st.stage_order AS stage_order,
        clean(r.campaign_id) AS campaign_id,
        whole_row(r) AS row_data,
        intervention_content(r) AS content
    FROM raw.intervention_rows AS r
    JOIN raw.landing_files AS f USING (file_id)
    LEFT JOIN (SELECT sp.spelling, s.stage_order, s.stage
               FROM config.stage_spellings AS sp JOIN config.stages AS s USING (stage_order)) AS st
           ON st.spelling = vocab_key(r.stage)
    WHERE f.kind = 'interventions' AND f.status IN ('loaded', 'duplicate')
)
SELECT *,
    CASE
        WHEN key_value IS NULL               THEN 'missing required field: intervention_id'
        WHEN name IS NULL                    THEN 'missing required field: name'
        WHEN length(key_value) > $max_key_length
            THEN 'intervention_id longer than ' || $max_key_length || ' characters'
        WHEN started_blank                   THEN 'missing required field: started_on'
        WHEN started_on IS NULL              THEN 'started_on cannot be parsed'
        WHEN ended_bad                       THEN 'ended_on cannot be parsed'
        WHEN stage_given AND stage IS NULL   THEN 'stage not in vocabulary'
    END AS reject_reason
FROM typed;

-- rejections, key conflicts (shared by every keyed optional input)
-- include: core/keyed_rejections.sql

DELETE FROM core.interventions WHERE intervention_id IN (SELECT key_value FROM affected_keys);

INSERT INTO core.interventions
    (intervention_id, name, started_on, ended_on, stage, stage_order, campaign_id,
     file_id, row_number, extra_columns)
SELECT key_value, first.name, first.started_on, first.ended_on, first.stage, first.stage_order,
       first.campaign_id, first.file_id, first.row_number, first.extra_columns
FROM (
    SELECT key_value,
           arg_min({'name': name, 'started_on': started_on, 'ended_on': ended_on,
                    'stage': stage, 'stage_order': stage_order, 'campaign_id': campaign_id,
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
