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

INSERT INTO core.stage_outcomes BY NAME
SELECT
    applicant_id, campaign_id, stage_order,
    latest.stage AS stage, latest.outcome AS outcome,
    latest.occurred_at AS occurred_at, latest.event_id AS event_id
FROM (
    SELECT e.applicant_id, e.campaign_id, e.stage_order,
           -- struct order = occurred_at, then event_id: "latest, ties to the greatest id"
           max({'occurred_at': e.occurred_at, 'event_id': e.event_id,
                'stage': e.stage, 'outcome': e.outcome}) AS latest
    FROM core.events AS e
    SEMI JOIN dirty_applications AS d
        ON d.applicant_id = e.applicant_id AND d.campaign_id = e.campaign_id
    GROUP BY ALL
);

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
        s.applicant_id, s.campaign_id,
        max(s.outcome)     FILTER (WHERE s.stage_order = 1) AS outcome_1,
        max(s.outcome)     FILTER (WHERE s.stage_order = 2) AS outcome_2,
        max(s.outcome)     FILTER (WHERE s.stage_order = 3) AS outcome_3,
        max(s.outcome)     FILTER (WHERE s.stage_order = 4) AS outcome_4,
        max(s.outcome)     FILTER (WHERE s.stage_order = 5) AS outcome_5,
        max(s.occurred_at) FILTER (WHERE s.stage_order = 1) AS occurred_at_1,
        max(s.occurred_at) FILTER (WHERE s.stage_order = 2) AS occurred_at_2,
        max(s.occurred_at) FILTER (WHERE s.stage_order = 3) AS occurred_at_3,
        max(s.occurred_at) FILTER (WHERE s.stage_order = 4) AS occurred_at_4,
        max(s.occurred_at) FILTER (WHERE s.stage_order = 5) AS occurred_at_5
    FROM core.stage_outcomes AS s
    SEMI JOIN dirty_applications AS d
        ON d.applicant_id = s.applicant_id AND d.campaign_id = s.campaign_id
    GROUP BY ALL
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
