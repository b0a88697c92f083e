-- core.events: one accepted event per event_id (docs/CONTRACT.md sections 3 and 4).
-- Also writes quality.rejected_rows (kind 'events') and quality.conflicting_keys.
--
-- Incremental: consumes the event files loaded into raw but not yet processed
-- (raw.landing_files.processed_at IS NULL). A full rebuild is the same statement run
-- with every file unprocessed, so both paths give the same tables.
--
-- Rules, in the order a row is judged:
--   1. a required field blank           → 'missing required field: <name>'
--      an id longer than $max_key_length → '<name> longer than <n> characters' (not a real
--      key; kept whole in quality.rejected_rows, never copied into charts or metadata)
--   2. stage / outcome not in vocabulary → 'stage not in vocabulary' / 'outcome not in vocabulary'
--      (the configured stages and outcome spellings: config.stage_spellings / outcome_spellings)
--   3. occurred_at not ISO 8601          → 'occurred_at cannot be parsed'
--   4. event_id seen with other content  → 'conflicting duplicate event_id' (every copy,
--      earlier and later ones included). Content = the six contract fields as
--      delivered, trimmed (so 'passed' and 'Success' differ, as the contract's examples
--      require); only rows passing 1-3 take part. Identical copies count once.

CREATE OR REPLACE TEMP TABLE batch_files AS
SELECT file_id, file_name
FROM raw.landing_files
WHERE kind = 'events' AND status IN ('loaded', 'duplicate') AND processed_at IS NULL;

-- one row per delivered row of the batch, typed, with its rejection reason (if any)
CREATE OR REPLACE TEMP TABLE batch_rows AS
WITH delivered AS (
    SELECT r.*, f.file_name
    FROM raw.event_rows AS r
    JOIN batch_files AS f USING (file_id)
),
typed AS (
    SELECT
        d.file_id, d.row_number, d.file_name,
        clean(d.event_id)      AS event_key,
        clean(d.applicant_id)  AS applicant_key,
        clean(d.campaign_id)   AS campaign_key,
        st.stage               AS stage_name,
        st.stage_order         AS stage_order,
        oc.outcome             AS outcome_name,
        parse_instant(d.occurred_at) AS occurred_at,
        clean(d.stage) IS NULL       AS stage_blank,
        clean(d.outcome) IS NULL     AS outcome_blank,
        clean(d.occurred_at) IS NULL AS occurred_at_blank
    FROM delivered AS d
    LEFT JOIN (SELECT sp.spelling, s.stage_order, s.stage
               FROM config.stage_spellings AS sp JOIN config.stages AS s USING (stage_order)) AS st
           ON st.spelling = vocab_key(d.stage)
    LEFT JOIN config.outcome_spellings AS oc ON oc.spelling = vocab_key(d.outcome)
)
SELECT
    *,
    CASE
        WHEN event_key IS NULL     THEN 'missing required field: event_id'
        WHEN applicant_key IS NULL THEN 'missing required field: applicant_id'
        WHEN campaign_key IS NULL  THEN 'missing required field: campaign_id'
        WHEN stage_blank           THEN 'missing required field: stage'
        WHEN outcome_blank         THEN 'missing required field: outcome'
        WHEN occurred_at_blank     THEN 'missing required field: occurred_at'
        WHEN length(event_key) > $max_key_length
            THEN 'event_id longer than ' || $max_key_length || ' characters'
        WHEN length(applicant_key) > $max_key_length
            THEN 'applicant_id longer than ' || $max_key_length || ' characters'
        WHEN length(campaign_key) > $max_key_length
            THEN 'campaign_id longer than ' || $max_key_length || ' characters'
        WHEN stage_name IS NULL    THEN 'stage not in vocabulary'
        WHEN outcome_name IS NULL  THEN 'outcome not in vocabulary'
        WHEN occurred_at IS NULL   THEN 'occurred_at cannot be parsed'
    END AS reject_reason
FROM typed;

INSERT INTO quality.rejected_rows (file_id, row_number, kind, file_name, reason, row_data, rejected_at)
SELECT b.file_id, b.row_number, 'events', b.file_name, b.reject_reason,
       whole_row(r), now()
FROM batch_rows AS b
JOIN raw.event_rows AS r USING (file_id, row_number)
WHERE b.reject_reason IS NOT NULL;

-- the batch's valid rows (a view: one pass over batch_rows wherever it is read)
CREATE OR REPLACE TEMP VIEW batch_valid AS
SELECT b.file_id, b.row_number, b.file_name,
       b.event_key AS event_id, b.applicant_key AS applicant_id, b.campaign_key AS campaign_id,
       b.stage_name AS stage, b.stage_order, b.outcome_name AS outcome, b.occurred_at
FROM batch_rows AS b
WHERE b.reject_reason IS NULL;

-- ids that can have more than one version: delivered more than once in the batch, or
-- already accepted. Only their copies are compared (content is read back from raw for
-- those rows alone: usually none, so the batch is not joined back to raw.event_rows).
CREATE OR REPLACE TEMP TABLE batch_repeated AS
SELECT event_id FROM batch_valid GROUP BY event_id HAVING count(*) > 1
UNION
SELECT e.event_id FROM core.events AS e SEMI JOIN batch_valid AS v ON v.event_id = e.event_id;

-- event ids whose contents disagree: within the batch, with the accepted event, or known
CREATE OR REPLACE TEMP TABLE batch_conflicts AS
WITH versions AS (
    SELECT DISTINCT v.event_id, delivered_content(r) AS content
    FROM batch_valid AS v
    JOIN raw.event_rows AS r USING (file_id, row_number)
    WHERE v.event_id IN (SELECT event_id FROM batch_repeated)
    UNION
    SELECT e.event_id, delivered_content(r)
    FROM core.events AS e
    JOIN raw.event_rows AS r USING (file_id, row_number)
    WHERE e.event_id IN (SELECT event_id FROM batch_repeated)
)
SELECT event_id FROM versions GROUP BY event_id HAVING count(*) > 1
UNION
SELECT key_value FROM quality.conflicting_keys
WHERE kind = 'events' AND key_value IN (SELECT event_id FROM batch_valid);

-- applications touched by this batch: recomputed by core.stage_outcomes
INSERT INTO core.dirty_keys (kind, applicant_id, campaign_id)
SELECT DISTINCT 'application_key', applicant_id, campaign_id
FROM (
    SELECT applicant_id, campaign_id FROM batch_valid
    UNION ALL
    SELECT applicant_id, campaign_id FROM core.events
    WHERE event_id IN (SELECT event_id FROM batch_conflicts)
) AS touched
WHERE NOT EXISTS (
    SELECT 1 FROM core.dirty_keys AS d
    WHERE d.kind = 'application_key' AND d.applicant_id = touched.applicant_id
      AND d.campaign_id = touched.campaign_id);

-- earlier copies of newly conflicting ids (already accepted) are rejected too
INSERT INTO quality.rejected_rows (file_id, row_number, kind, file_name, reason, row_data, rejected_at)
SELECT r.file_id, r.row_number, 'events', f.file_name, 'conflicting duplicate event_id',
       whole_row(r), now()
FROM raw.event_rows AS r
JOIN raw.landing_files AS f USING (file_id)
WHERE f.processed_at IS NOT NULL
  AND clean(r.event_id) IN (
      SELECT event_id FROM batch_conflicts
      EXCEPT SELECT key_value FROM quality.conflicting_keys WHERE kind = 'events')
  AND NOT EXISTS (
      SELECT 1 FROM quality.rejected_rows AS q
      WHERE q.file_id = r.file_id AND q.row_number = r.row_number);

INSERT INTO quality.rejected_rows (file_id, row_number, kind, file_name, reason, row_data, rejected_at)
SELECT v.file_id, v.row_number, 'events', v.file_name, 'conflicting duplicate event_id',
       whole_row(r), now()
FROM batch_valid AS v
JOIN raw.event_rows AS r USING (file_id, row_number)
WHERE v.event_id IN (SELECT event_id FROM batch_conflicts);

DELETE FROM core.events WHERE event_id IN (SELECT event_id FROM batch_conflicts);

INSERT INTO quality.conflicting_keys (kind, key_value)
SELECT 'events', event_id FROM batch_conflicts
EXCEPT SELECT kind, key_value FROM quality.conflicting_keys;

-- new accepted events: one row per id, provenance = first delivery by file name and row.
-- Ids delivered once in the batch and never before go straight in; repeated ids (identical
-- copies, or copies of an accepted event) are grouped to their first copy.
INSERT INTO core.events
    (event_id, applicant_id, campaign_id, stage, stage_order, outcome, occurred_at, file_id, row_number)
SELECT event_id, applicant_id, campaign_id, stage, stage_order, outcome, occurred_at,
       file_id, row_number
FROM batch_valid
WHERE event_id NOT IN (SELECT event_id FROM batch_repeated)
  AND event_id NOT IN (SELECT event_id FROM batch_conflicts)
UNION ALL
SELECT event_id, applicant_id, campaign_id, stage, stage_order, outcome, occurred_at,
       first_copy.file_id, first_copy.row_number
FROM (
    SELECT event_id, applicant_id, campaign_id, stage, stage_order, outcome, occurred_at,
           min({'file_name': file_name, 'row_number': row_number, 'file_id': file_id}) AS first_copy
    FROM batch_valid
    -- identical content ⇒ identical canonical values, so this groups one row per id
    WHERE event_id IN (SELECT event_id FROM batch_repeated)
      AND event_id NOT IN (SELECT event_id FROM batch_conflicts)
    GROUP BY ALL
) AS candidates
WHERE event_id NOT IN (SELECT event_id FROM core.events);

UPDATE raw.landing_files SET processed_at = now()
WHERE file_id IN (SELECT file_id FROM batch_files);
