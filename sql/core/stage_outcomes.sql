-- core.stage_outcomes (docs/CONTRACT.md section 4) — grain: application (applicant_id,
-- campaign_id) × configured stage. The outcome is that of the application's accepted
-- event at the stage with the latest occurred_at; ties go to the greatest event_id. A
-- later event supersedes an earlier one.
--
-- Incremental: recomputes only the applications in core.dirty_keys (touched by new
-- events) and the applications of people whose applicants row changed. Leaves
-- `dirty_applications` and `latest_by_stage` for core/applications.sql, which runs next
-- in the same transaction.

CREATE OR REPLACE TEMP TABLE dirty_applications AS
SELECT applicant_id, campaign_id FROM core.dirty_keys WHERE kind = 'application_key'
UNION
SELECT a.applicant_id, a.campaign_id
FROM core.applications AS a
WHERE a.applicant_id IN (SELECT applicant_id FROM core.dirty_keys WHERE kind = 'applicant_key');

DELETE FROM core.stage_outcomes AS s
WHERE EXISTS (SELECT 1 FROM dirty_applications AS d
              WHERE d.applicant_id = s.applicant_id AND d.campaign_id = s.campaign_id);

-- the latest accepted event of each dirty application at each stage, in one pass over its
-- events grouped by application (one group per application, not per application × stage:
-- the 10M-event rebuild's largest aggregate); one line per configured stage. Struct order
-- = occurred_at, then event_id: "latest, ties to the greatest id" (event ids are unique
-- among accepted events).
CREATE OR REPLACE TEMP TABLE latest_events AS
SELECT
    e.applicant_id, e.campaign_id,
    max({'occurred_at': e.occurred_at, 'event_id': e.event_id, 'outcome': e.outcome}) FILTER (WHERE e.stage_order = {stage}) AS latest_{stage},
FROM core.events AS e
SEMI JOIN dirty_applications AS d
    ON d.applicant_id = e.applicant_id AND d.campaign_id = e.campaign_id
GROUP BY e.applicant_id, e.campaign_id;

-- the same as one list per application, indexed by stage_order
CREATE OR REPLACE TEMP TABLE latest_by_stage AS
SELECT applicant_id, campaign_id, list_value(*COLUMNS('^latest_\d+$')) AS latest
FROM latest_events;

INSERT INTO core.stage_outcomes BY NAME
SELECT l.applicant_id, l.campaign_id, s.stage_order, s.stage,
       l.latest[s.stage_order].outcome AS outcome,
       l.latest[s.stage_order].occurred_at AS occurred_at,
       l.latest[s.stage_order].event_id AS event_id
FROM latest_by_stage AS l
CROSS JOIN config.stages AS s
WHERE l.latest[s.stage_order] IS NOT NULL;
