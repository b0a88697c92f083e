-- The retention curves of charts/retention: docs/CONTRACT.md section 9's Kaplan–Meier estimate,
-- evaluated at whole months (a query, not a table; aggregates only).
-- Grain: characteristic (and 'all') × group with at least one recruit × month k = 0, 1, …
-- up to the last month some recruit of the group is followed to (past it the contract's
-- S(t) is NULL), and at most $max_months: an event dated far in the future (counted, as
-- the contract says, and named by a warning check) must not stretch the grid to thousands
-- of months (the running product is quadratic in them). A month is 365/12 days, so months 12 and 24 are days 365 and 730: the
-- two points of marts.retention.
--   retained       — S(t_k): the product over distinct leaving durations u ≤ t_k of
--                    (1 − d_u / n_u), d_u recruits of the group leaving at duration u, n_u
--                    those whose duration is ≥ u; 1 before the first leaving
--   at_risk        — recruits of the group whose duration is ≥ t_k (still followed)
--   recruits, leavers — of the group, as marts.retention counts them
--   leavers_loaded — accepted rows in core.leavers (0: no leavers file, nothing to measure)
--   observed_until — the latest instant a recruit is followed to (start + duration)
-- Reads staging.survival_steps, the Kaplan–Meier steps marts.retention is computed from
-- (sql/marts/retention.sql), so the curves and the mart's two points cannot disagree; and
-- staging.recruits for the follow-up's end. Set-based: each leaving duration's factor is
-- multiplied into its month (u in (t_(k−1), t_k] → month k), then the months into a
-- running product, so the work grows with recruits, not recruits × months.

WITH month_factors AS (
    SELECT characteristic, group_name, ceil(duration_days * 12 / 365)::BIGINT AS month,
           list_reduce(list(1 - leaving / n_at_risk ORDER BY duration_days),
                       lambda x, y: x * y) AS factor
    FROM staging.survival_steps
    WHERE leaving > 0
    GROUP BY ALL
),
-- recruits followed to at least month k but not month k + 1
followed AS (
    SELECT characteristic, group_name,
           least(floor(duration_days * 12 / 365)::BIGINT, $max_months) AS month,
           sum(at_duration)::BIGINT AS followed
    FROM staging.survival_steps
    GROUP BY ALL
),
group_totals AS (
    SELECT characteristic, group_name, sum(at_duration)::BIGINT AS recruits,
           sum(leaving)::BIGINT AS leavers,
           least(floor(max(duration_days) * 12 / 365)::BIGINT, $max_months) AS last_month
    FROM staging.survival_steps
    GROUP BY ALL
),
grid AS (
    SELECT characteristic, group_name, recruits, leavers,
           unnest(range(0, last_month + 1)) AS month
    FROM group_totals
),
curves AS (
    SELECT g.characteristic, g.group_name, g.month, g.recruits, g.leavers,
           list_reduce(list(coalesce(f.factor, 1.0)) OVER running, lambda x, y: x * y)
               AS retained,
           sum(coalesce(w.followed, 0)) OVER still_followed AS at_risk
    FROM grid AS g
    LEFT JOIN month_factors AS f USING (characteristic, group_name, month)
    LEFT JOIN followed AS w USING (characteristic, group_name, month)
    WINDOW running AS (PARTITION BY g.characteristic, g.group_name ORDER BY g.month
                       ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW),
           still_followed AS (PARTITION BY g.characteristic, g.group_name ORDER BY g.month DESC
                              ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)
)
SELECT c.characteristic, c.group_name, c.month, c.retained, c.at_risk::BIGINT AS at_risk,
       c.recruits, c.leavers,
       (SELECT count(*) FROM core.leavers) AS leavers_loaded,
       (SELECT max(started_at + to_microseconds((duration_days * 86400e6)::BIGINT))
          FROM staging.recruits) AS observed_until
FROM curves AS c
LEFT JOIN config.characteristics AS ch USING (characteristic)
LEFT JOIN config.groups AS g USING (characteristic, group_name)
ORDER BY c.characteristic = $all_characteristic DESC, ch.position, g.position, c.group_name,
         c.month;
