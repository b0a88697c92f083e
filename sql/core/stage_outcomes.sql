-- core.stage_outcomes and core.applications (CONTRACT.md section 4).
--
-- core.stage_outcomes — grain: application (applicant_id, campaign_id) × stage. The
--   outcome is that of the application's accepted event at the stage with the latest
--   occurred_at; ties go to the greatest event_id. A later event supersedes an earlier one.
-- core.applications — grain: application. Its five stage outcomes side by side, its
--   groups (Not stated everywhere when the person has no applicants row), whether it is in
--   the funnel (has an application-stage outcome) and how many of its outcomes are out of
--   sequence (no pass at the stage before).
--
-- core.funnel_cube — counts per campaign × groups × stage (macro funnel_cells), kept up
--   to date here: the recomputed applications' old rows are subtracted, their new rows
--   added, so the marts never rescan applications.
--
-- Incremental: recomputes only the applications in core.dirty_keys (touched by new
-- events) and the applications of people whose applicants row changed, then clears the
-- queue, all in the caller's transaction.

CREATE OR REPLACE TEMP TABLE dirty_applications AS
SELECT applicant_id, campaign_id FROM core.dirty_keys WHERE kind = 'application'
UNION
SELECT a.applicant_id, a.campaign_id
FROM core.applications AS a
WHERE a.applicant_id IN (SELECT applicant_id FROM core.dirty_keys WHERE kind = 'applicant');

DELETE FROM core.stage_outcomes AS s
WHERE EXISTS (SELECT 1 FROM dirty_applications AS d
              WHERE d.applicant_id = s.applicant_id AND d.campaign_id = s.campaign_id);

-- the latest accepted event of each dirty application at each stage, in one pass over its
-- events grouped by application (one group per application, not per application × stage:
-- the 10M-event rebuild's largest aggregate). Struct order = occurred_at, then event_id:
-- "latest, ties to the greatest id" (event ids are unique among accepted events).
CREATE OR REPLACE TEMP TABLE latest_events AS
SELECT
    e.applicant_id, e.campaign_id,
    max({'occurred_at': e.occurred_at, 'event_id': e.event_id, 'outcome': e.outcome})
        FILTER (WHERE e.stage_order = 1) AS latest_1,
    max({'occurred_at': e.occurred_at, 'event_id': e.event_id, 'outcome': e.outcome})
        FILTER (WHERE e.stage_order = 2) AS latest_2,
    max({'occurred_at': e.occurred_at, 'event_id': e.event_id, 'outcome': e.outcome})
        FILTER (WHERE e.stage_order = 3) AS latest_3,
    max({'occurred_at': e.occurred_at, 'event_id': e.event_id, 'outcome': e.outcome})
        FILTER (WHERE e.stage_order = 4) AS latest_4,
    max({'occurred_at': e.occurred_at, 'event_id': e.event_id, 'outcome': e.outcome})
        FILTER (WHERE e.stage_order = 5) AS latest_5
FROM core.events AS e
SEMI JOIN dirty_applications AS d
    ON d.applicant_id = e.applicant_id AND d.campaign_id = e.campaign_id
GROUP BY e.applicant_id, e.campaign_id;

INSERT INTO core.stage_outcomes BY NAME
WITH stages AS (
    SELECT DISTINCT canonical AS stage, stage_order FROM core.vocabulary WHERE domain = 'stage'
),
long AS (
    SELECT applicant_id, campaign_id, 1 AS stage_order, latest_1 AS latest FROM latest_events
    UNION ALL
    SELECT applicant_id, campaign_id, 2, latest_2 FROM latest_events
    UNION ALL
    SELECT applicant_id, campaign_id, 3, latest_3 FROM latest_events
    UNION ALL
    SELECT applicant_id, campaign_id, 4, latest_4 FROM latest_events
    UNION ALL
    SELECT applicant_id, campaign_id, 5, latest_5 FROM latest_events
)
SELECT l.applicant_id, l.campaign_id, l.stage_order, s.stage,
       l.latest.outcome AS outcome, l.latest.occurred_at AS occurred_at,
       l.latest.event_id AS event_id
FROM long AS l
JOIN stages AS s USING (stage_order)
WHERE l.latest IS NOT NULL;

-- a warehouse from before core.funnel_cube existed: build the cube once from every
-- application (the dirty ones' old rows included: they are subtracted below)
INSERT INTO core.funnel_cube BY NAME
SELECT * FROM funnel_cells('core.applications', 1)
WHERE NOT EXISTS (SELECT 1 FROM core.funnel_cube);

-- the rows about to be replaced, for the cube (none on a first build)
CREATE OR REPLACE TEMP TABLE replaced_applications AS
SELECT a.* FROM core.applications AS a
SEMI JOIN dirty_applications AS d
    ON d.applicant_id = a.applicant_id AND d.campaign_id = a.campaign_id;

DELETE FROM core.applications AS a
WHERE EXISTS (SELECT 1 FROM dirty_applications AS d
              WHERE d.applicant_id = a.applicant_id AND d.campaign_id = a.campaign_id);

INSERT INTO core.applications BY NAME
WITH wide AS (
    SELECT
        applicant_id, campaign_id,
        latest_1.outcome AS outcome_1,
        latest_2.outcome AS outcome_2,
        latest_3.outcome AS outcome_3,
        latest_4.outcome AS outcome_4,
        latest_5.outcome AS outcome_5,
        latest_1.occurred_at AS occurred_at_1,
        latest_2.occurred_at AS occurred_at_2,
        latest_3.occurred_at AS occurred_at_3,
        latest_4.occurred_at AS occurred_at_4,
        latest_5.occurred_at AS occurred_at_5
    FROM latest_events
)
SELECT
    w.*,
    w.outcome_1 IS NOT NULL AS in_funnel,
    p.applicant_id IS NOT NULL AS has_applicant_row,
    coalesce(p.sex, 'Not stated')                AS sex,
    coalesce(p.ethnicity, 'Not stated')          AS ethnicity,
    coalesce(p.ethnic_minority, 'Not stated')    AS ethnic_minority,
    coalesce(p.disability, 'Not stated')         AS disability,
    coalesce(p.sexual_orientation, 'Not stated') AS sexual_orientation,
    coalesce(p.lgbt_plus, 'Not stated')          AS lgbt_plus,
    (  (w.outcome_2 IS NOT NULL AND w.outcome_1 IS DISTINCT FROM 'passed')::INTEGER
     + (w.outcome_3 IS NOT NULL AND w.outcome_2 IS DISTINCT FROM 'passed')::INTEGER
     + (w.outcome_4 IS NOT NULL AND w.outcome_3 IS DISTINCT FROM 'passed')::INTEGER
     + (w.outcome_5 IS NOT NULL AND w.outcome_4 IS DISTINCT FROM 'passed')::INTEGER
    ) AS out_of_sequence_stages
FROM wide AS w
LEFT JOIN core.applicants AS p ON p.applicant_id = w.applicant_id;

CREATE OR REPLACE TEMP VIEW recomputed_applications AS
SELECT a.* FROM core.applications AS a
SEMI JOIN dirty_applications AS d
    ON d.applicant_id = a.applicant_id AND d.campaign_id = a.campaign_id;

CREATE OR REPLACE TEMP TABLE merged_cube AS
SELECT campaign_id, sex, ethnicity, ethnic_minority, disability, sexual_orientation, lgbt_plus,
       stage, stage_order,
       sum(applications) AS applications, sum(passed) AS passed, sum(failed) AS failed,
       sum(withdrawn) AS withdrawn, sum(pending) AS pending
FROM (
    SELECT * FROM core.funnel_cube
    UNION ALL BY NAME
    SELECT * FROM funnel_cells('replaced_applications', -1)
    UNION ALL BY NAME
    SELECT * FROM funnel_cells('recomputed_applications', 1)
)
GROUP BY ALL
HAVING sum(applications) <> 0;

DELETE FROM core.funnel_cube;
INSERT INTO core.funnel_cube BY NAME SELECT * FROM merged_cube;

DELETE FROM core.dirty_keys;
