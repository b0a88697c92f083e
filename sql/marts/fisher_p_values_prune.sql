-- After every mart is built (same transaction): drop cached Fisher p-values that no
-- mart of this build used, so core.fisher_p_values stays the size of one build.
DELETE FROM core.fisher_p_values WHERE used_at < now();
