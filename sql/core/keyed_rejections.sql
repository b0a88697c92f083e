-- Shared step of the keyed optional inputs (campaigns, population, interventions;
-- docs/CONTRACT.md section 6): included by their SQL files after they build `judged_rows`.
--
-- Expects temp tables `batch_files` and `judged_rows` (every row of every loaded file of
-- the kind: file_id, row_number, file_name, in_batch, key_value, content, row_data,
-- reject_reason) and parameters $kind and $conflict_reason. Produces `affected_keys`
-- (valid keys this batch mentions) and `key_conflicts` (keys with two contents, now or
-- before), and records rejections: this batch's rows failing a row rule, and every
-- valid copy, in any file, of a conflicting key (once; identical copies count once).

INSERT INTO quality.rejected_rows (file_id, row_number, kind, file_name, reason, row_data, rejected_at)
SELECT file_id, row_number, $kind, file_name, reject_reason, row_data, now()
FROM judged_rows
WHERE in_batch AND reject_reason IS NOT NULL;

CREATE OR REPLACE TEMP TABLE affected_keys AS
SELECT DISTINCT key_value FROM judged_rows WHERE in_batch AND reject_reason IS NULL;

CREATE OR REPLACE TEMP TABLE key_conflicts AS
SELECT key_value
FROM judged_rows
WHERE reject_reason IS NULL AND key_value IN (SELECT key_value FROM affected_keys)
GROUP BY key_value
HAVING count(DISTINCT content) > 1
UNION
SELECT key_value FROM quality.conflicting_keys
WHERE kind = $kind AND key_value IN (SELECT key_value FROM affected_keys);

INSERT INTO quality.rejected_rows (file_id, row_number, kind, file_name, reason, row_data, rejected_at)
SELECT j.file_id, j.row_number, $kind, j.file_name, $conflict_reason, j.row_data, now()
FROM judged_rows AS j
WHERE j.reject_reason IS NULL
  AND j.key_value IN (SELECT key_value FROM key_conflicts)
  AND NOT EXISTS (SELECT 1 FROM quality.rejected_rows AS q
                  WHERE q.file_id = j.file_id AND q.row_number = j.row_number);

INSERT INTO quality.conflicting_keys (kind, key_value)
SELECT $kind, key_value FROM key_conflicts
EXCEPT SELECT kind, key_value FROM quality.conflicting_keys;
