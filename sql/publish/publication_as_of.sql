-- publish/publication_as_of (included by the publication's count files): the as-of time of
-- docs/CONTRACT.md section 9 — the latest occurred_at of any accepted event or left_on of any
-- accepted leavers row — and the calendar and financial year it falls in. A published
-- year or financial year that holds it is provisional: it was not over when the data
-- were extracted, and applications of it are still moving through the stages.
-- Financial years run 1 April – 31 March (UTC), labelled '2024/25' as in
-- marts.workforce_flows.

CREATE OR REPLACE TEMP TABLE publication_as_of AS
WITH t AS (
    SELECT greatest((SELECT max(occurred_at) FROM core.events),
                    (SELECT max(left_on) FROM core.leavers)) AS as_of
),
fy AS (
    SELECT as_of, year(as_of) AS calendar_year,
           CASE WHEN month(as_of) >= 4 THEN year(as_of) ELSE year(as_of) - 1 END AS fy_start
    FROM t
)
SELECT as_of, calendar_year,
       fy_start::VARCHAR || '/' || lpad(((fy_start + 1) % 100)::VARCHAR, 2, '0') AS financial_year
FROM fy;
