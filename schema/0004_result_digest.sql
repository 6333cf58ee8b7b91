-- 0004_result_digest: telling an unchanged result without reading it.
--
-- Nearly every check finds what the previous one did. The daemon used to
-- read each due domain's result_json (about 750 bytes), build the new
-- result's JSON and compare the two texts, only to learn that nothing had
-- changed. result_digest is check::result_digest of the stored result: the
-- daemon reads these 8 bytes instead and builds the JSON only for a result
-- that differs, or for an event. 0 means not known (rows written before
-- this migration): the next check of such a row counts as changed and
-- writes its digest.

ALTER TABLE domain_state ADD COLUMN result_digest INTEGER NOT NULL DEFAULT 0;
ALTER TABLE provider_targets ADD COLUMN result_digest INTEGER NOT NULL DEFAULT 0;
