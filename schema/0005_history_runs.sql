-- 0005_history_runs: the check history as runs of equal results.
--
-- check_history held one row per check. With a million domains checked
-- daily and 90 days of retention that is 90 million rows, nearly all of them
-- saying "the same as yesterday", and every check inserted one at a random
-- place in the check_history_subject index: about a page of WAL and of
-- checkpoint writes per check, more than the rest of the check's write.
--
-- Now a row stands for a run: consecutive checks of one subject that found
-- the same result (same result_digest, see 0004). The run going on is kept
-- in domain_state, which the daemon writes anyway: run_started_at is the
-- first check of the run and run_checks how many checks it holds so far
-- (last_checked_at is its last). When a check finds something else, the
-- daemon first copies the finished run, with its result_json, from
-- domain_state to a new check_history row, in the same transaction as the
-- new state. A check that finds what the last one did writes no history.
-- Removing a domain copies its run to check_history before the row goes,
-- so that a removed domain keeps its whole history.
--
-- check_history: first_checked_at and checks describe the run; checked_at
-- stays the run's last check (retention deletes by it, as before).
-- Rows written before this migration are single checks: first_checked_at
-- NULL (read as checked_at) and checks 1, and an empty result_json still
-- means "as the newest earlier row with one said".
--
-- domain_state: run_checks 0 means no run is recorded here yet. That is a
-- domain never checked, and also every domain at this migration, whose
-- checks so far are all in check_history already: its next check starts a
-- new run, so nothing is counted twice.

ALTER TABLE check_history ADD COLUMN first_checked_at INTEGER;
ALTER TABLE check_history ADD COLUMN checks INTEGER NOT NULL DEFAULT 1 CHECK (checks >= 1);
ALTER TABLE domain_state ADD COLUMN run_started_at INTEGER NOT NULL DEFAULT 0;
ALTER TABLE domain_state ADD COLUMN run_checks INTEGER NOT NULL DEFAULT 0 CHECK (run_checks >= 0);
