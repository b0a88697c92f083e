-- core.campaigns — grain: campaign_id (docs/CONTRACT.md section 6). Entry route trimmed,
-- compared exactly. Also writes quality.rejected_rows (kind 'campaigns') and
-- quality.conflicting_keys.
--
-- Incremental: consumes campaigns files not yet processed (processed_at IS NULL) and
-- recomputes every campaign_id they mention over all loaded campaigns files (they are
-- small), so a later file can make an accepted key conflicting.
--
-- A row is rejected, first rule wins:
--   1. campaign_id / entry_route blank        → 'missing required field: <name>'
--      either longer than $max_key_length      → '<name> longer than <n> characters'
--   2. opened_on / closed_on not YYYY-MM-DD    → '<column> cannot be parsed'
--   3. campaign_id seen with other content     → 'conflicting duplicate campaign_id'
--      (every copy; content = the contract columns exactly as delivered; only rows
--      passing 1-2 take part; identical copies count once).

CREATE OR REPLACE TEMP TABLE batch_files AS
SELECT file_id, file_name
FROM raw.landing_files
WHERE kind = 'campaigns' AND status IN ('loaded', 'duplicate') AND processed_at IS NULL;

-- every row of every loaded campaigns file, typed and judged
CREATE OR REPLACE TEMP TABLE judged_rows AS
WITH typed AS (
    SELECT
        r.file_id, r.row_number, f.file_name, r.extra_columns,
        f.file_id IN (SELECT file_id FROM batch_files) AS in_batch,
        clean(r.campaign_id)  AS key_value,
        clean(r.entry_route)  AS entry_route,
        clean(r.title)        AS title,
        parse_date(r.opened_on) AS opened_on,
        parse_date(r.closed_on) AS closed_on,
        clean(r.opened_on) IS NOT NULL AND parse_date(r.opened_on) IS NULL AS opened_bad,
        clean(r.closed_on) IS NOT NULL AND parse_date(r.closed_on) IS NULL AS closed_bad,
        whole_row(r) AS row_data,
        campaign_content(r) AS content
    FROM raw.campaign_rows AS r
    JOIN raw.landing_files AS f USING (file_id)
    WHERE f.kind = 'campaigns' AND f.status IN ('loaded', 'duplicate')
)
SELECT *,
    CASE
        WHEN key_value IS NULL   THEN 'missing required field: campaign_id'
        WHEN entry_route IS NULL THEN 'missing required field: entry_route'
        WHEN length(key_value) > $max_key_length
            THEN 'campaign_id longer than ' || $max_key_length || ' characters'
        WHEN length(entry_route) > $max_key_length
            THEN 'entry_route longer than ' || $max_key_length || ' characters'
        WHEN opened_bad          THEN 'opened_on cannot be parsed'
        WHEN closed_bad          THEN 'closed_on cannot be parsed'
    END AS reject_reason
FROM typed;

-- rejections, key conflicts (shared by every keyed optional input)
-- include: core/keyed_rejections.sql

DELETE FROM core.campaigns WHERE campaign_id IN (SELECT key_value FROM affected_keys);

-- accepted: one row per key, provenance = first delivery by file name and row
INSERT INTO core.campaigns
    (campaign_id, entry_route, title, opened_on, closed_on, file_id, row_number, extra_columns)
SELECT key_value, first.entry_route, first.title, first.opened_on, first.closed_on,
       first.file_id, first.row_number, first.extra_columns
FROM (
    SELECT key_value,
           arg_min({'entry_route': entry_route, 'title': title, 'opened_on': opened_on,
                    'closed_on': closed_on, 'file_id': file_id, 'row_number': row_number,
                    'extra_columns': extra_columns},
                   {'file_name': file_name, 'row_number': row_number}) AS first
    FROM judged_rows
    WHERE reject_reason IS NULL
      AND key_value IN (SELECT key_value FROM affected_keys)
      AND key_value NOT IN (SELECT key_value FROM key_conflicts)
    GROUP BY key_value
);

UPDATE raw.landing_files SET processed_at = now()
WHERE file_id IN (SELECT file_id FROM batch_files);
