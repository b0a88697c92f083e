-- publish/annual_publication, second step: staging.publication_leaver_counts — UNSUPPRESSED
-- counts of leavers for the publication (issue 17). Never exported: publication.py applies
-- the same disclosure control as to the recruitment counts (jointly: a leaver is a
-- recruit, counted in `appointed`) and writes staging.publication_leavers.
-- Read from marts.workforce_flows (docs/CONTRACT.md section 9), flow 'leavers': recruits whose
-- leaving falls in the financial year of that left_on, with the recruit's route and groups.
-- Grain: characteristic × group × financial year ('2024/25'), for every financial year
-- from the first to the last with a leaver (zeros included). Characteristics: the
-- configured ones, every canonical group and Not stated (total − stated), plus
-- 'entry_route' (only the routes with a leaver that year), and a 'Total' row per
-- characteristic (every leaver of the year, the same for every characteristic).
-- No leavers at all (no leavers file, or none accepted) → no rows: not available.

-- include: publish/publication_as_of.sql

CREATE OR REPLACE TABLE staging.publication_leaver_counts AS
WITH flows AS (
    SELECT * FROM marts.workforce_flows WHERE flow = 'leavers'
),
span AS (
    SELECT min(left(financial_year, 4)::INTEGER) AS first_fy,
           max(left(financial_year, 4)::INTEGER) AS last_fy
    FROM flows
),
years AS (
    SELECT fy_start::VARCHAR || '/' || lpad(((fy_start + 1) % 100)::VARCHAR, 2, '0') AS financial_year
    FROM span, range(span.first_fy, span.last_fy + 1) AS r(fy_start)
    WHERE span.first_fy IS NOT NULL
),
everyone AS (  -- one row per (year, characteristic): the leavers, and those who stated it
    SELECT financial_year, characteristic, any_value(total) AS total, any_value(stated) AS stated
    FROM flows WHERE entry_route = $all_routes
    GROUP BY financial_year, characteristic
),
counted AS (
    SELECT characteristic, group_name, financial_year, group_count AS leavers
    FROM flows WHERE entry_route = $all_routes
    UNION ALL
    SELECT characteristic, $not_stated, financial_year, total - stated FROM everyone
),
year_totals AS (
    SELECT financial_year, any_value(total) AS leavers FROM everyone GROUP BY financial_year
),
routes AS (
    SELECT entry_route AS group_name, financial_year, any_value(total) AS leavers
    FROM flows WHERE entry_route <> $all_routes
    GROUP BY entry_route, financial_year
),
characteristics AS (
    SELECT characteristic, position FROM config.characteristics
    UNION ALL SELECT 'entry_route', 1000
),
cells AS (
    SELECT ch.position AS characteristic_position, ch.characteristic, g.position AS group_position,
           g.group_name, y.financial_year, coalesce(c.leavers, 0)::BIGINT AS leavers
    FROM config.groups AS g
    JOIN characteristics AS ch USING (characteristic)
    CROSS JOIN years AS y
    LEFT JOIN counted AS c
      ON c.characteristic = g.characteristic AND c.group_name = g.group_name
     AND c.financial_year = y.financial_year
    UNION ALL
    SELECT 1000, 'entry_route', dense_rank() OVER (ORDER BY r.group_name), r.group_name,
           r.financial_year, r.leavers::BIGINT
    FROM routes AS r
    UNION ALL
    SELECT ch.position, ch.characteristic, 100000, 'Total', y.financial_year,
           coalesce(t.leavers, 0)::BIGINT
    FROM characteristics AS ch CROSS JOIN years AS y
    LEFT JOIN year_totals AS t USING (financial_year)
)
SELECT *, financial_year = (SELECT financial_year FROM publication_as_of) AS provisional
FROM cells
ORDER BY characteristic_position, financial_year, group_position;
