-- Fills core.fisher_p_values for the 2x2 tables in temp table fisher_needed (a, b, c, d),
-- included by every mart that reports a Fisher exact p-value. Only tables not tested
-- before call the Python UDF fisher_exact_p (scipy, milliseconds each); the others are
-- looked up. used_at = this transaction's time, so fisher_p_values_prune.sql can drop
-- what the current marts no longer use.

UPDATE core.fisher_p_values AS f SET used_at = now()
FROM fisher_needed AS n
WHERE f.a = n.a AND f.b = n.b AND f.c = n.c AND f.d = n.d;

INSERT INTO core.fisher_p_values (a, b, c, d, p_value, used_at)
SELECT n.a, n.b, n.c, n.d, fisher_exact_p(n.a, n.b, n.c, n.d), now()
FROM fisher_needed AS n
WHERE NOT EXISTS (SELECT 1 FROM core.fisher_p_values AS f
                  WHERE f.a = n.a AND f.b = n.b AND f.c = n.c AND f.d = n.d);
