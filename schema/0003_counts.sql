-- 0003_counts: counting a million domains without reading them.
--
-- The daemon counts domains by verdict and exposure every 15 seconds (for
-- its STATUS line and its metrics), and caad-status does the same for its
-- summary. Without an index that meant reading every domain_state row,
-- about 1 KB each with its result_json: 1.2 GB and about 2 s at a million
-- domains, on the daemon's only database connection, which held up the
-- fetches of due domains and the writes of results behind it.
--
-- domain_state_verdict makes those counts a scan of a small covering index
-- (verdict, exposure and the rowid, which is domain_id). A check that does
-- not change the verdict or the exposure, which is nearly every check,
-- leaves this index alone.
--
-- domains_disabled holds the few disabled domains, so that the counts of
-- enabled domains are the totals less a handful of rows, found without a
-- pass over the domains table.

CREATE INDEX domain_state_verdict ON domain_state (verdict, exposure);
CREATE INDEX domains_disabled ON domains (id) WHERE enabled = 0;
