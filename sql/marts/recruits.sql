-- staging.recruits — grain: recruit (docs/CONTRACT.md section 9), shared by marts.retention and
-- marts.workforce_flows; internal (never published).
-- A recruit is a funnel application whose effective outcome at the final stage is
-- 'passed'; its start is that outcome's occurred_at.
-- A leavers row belongs to the person's recruit with the latest start on or before
-- left_on (compared as instants; ties: the greatest campaign_id); a row with no such
-- recruit belongs to none (reported by a data-quality check). A recruit's leaving is the
-- earliest left_on of the rows that belong to it (later ones are reported too).
-- as_of = the latest occurred_at of any accepted event or left_on of any accepted leavers
-- row. duration = leaving − start; without a leaving, the start of the same person's next
-- recruit (by start, then campaign_id) − start if there is one, else as_of − start; exact
-- UTC seconds / 86,400. left = true with a leaving, else false (censored).

CREATE OR REPLACE TEMP TABLE final_stage AS
SELECT stage_order FROM config.stages WHERE is_final;

CREATE OR REPLACE TABLE staging.leaver_assignments AS
SELECT l.applicant_id, l.left_on_delivered, l.left_on,
       arg_max(r.campaign_id, {'started_at': r.occurred_at[f.stage_order], 'campaign_id': r.campaign_id})
           AS campaign_id
FROM core.leavers AS l
CROSS JOIN final_stage AS f
LEFT JOIN core.applications AS r
  ON r.applicant_id = l.applicant_id AND r.in_funnel
 AND r.outcomes[f.stage_order] = 'passed' AND r.occurred_at[f.stage_order] <= l.left_on
GROUP BY l.applicant_id, l.left_on_delivered, l.left_on;

CREATE OR REPLACE TABLE staging.recruits AS
WITH as_of AS (
    SELECT greatest((SELECT max(occurred_at) FROM core.events),
                    (SELECT max(left_on) FROM core.leavers)) AS as_of
),
recruits AS (
    SELECT a.applicant_id, a.campaign_id, a.groups,
           a.occurred_at[f.stage_order] AS started_at,
           coalesce(k.entry_route, $unknown_route) AS entry_route
    FROM core.applications AS a
    CROSS JOIN final_stage AS f
    LEFT JOIN core.campaigns AS k USING (campaign_id)
    WHERE a.in_funnel AND a.outcomes[f.stage_order] = 'passed'
),
leavings AS (
    SELECT applicant_id, campaign_id, min(left_on) AS left_at
    FROM staging.leaver_assignments
    WHERE campaign_id IS NOT NULL
    GROUP BY ALL
),
ordered AS (
    SELECT r.*, v.left_at,
           lead(r.started_at) OVER (PARTITION BY r.applicant_id
                                    ORDER BY r.started_at, r.campaign_id) AS next_start
    FROM recruits AS r
    LEFT JOIN leavings AS v USING (applicant_id, campaign_id)
)
SELECT o.applicant_id, o.campaign_id, o.groups, o.started_at, o.entry_route, o.left_at,
       o.left_at IS NOT NULL AS has_left,
       (epoch_us(coalesce(o.left_at, o.next_start, as_of.as_of)) - epoch_us(o.started_at))
           / 1e6 / 86400.0 AS duration_days
FROM ordered AS o CROSS JOIN as_of;
