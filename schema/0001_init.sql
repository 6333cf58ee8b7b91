-- 0001_init: the first caad schema.
--
-- One SQLite file holds everything the daemon knows and everything caad-status
-- shows. The daemon is its only writer (one connection, one thread);
-- caad-status and `caad domain list` read it at the same time, which WAL mode
-- makes safe: a reader sees the last committed state and never waits for the
-- writer. lib/store/store.cpp applies this file (and every later NNNN_*.sql)
-- in its own transaction and then sets PRAGMA user_version to the file's
-- number and PRAGMA application_id to "caad", so a database is never left
-- half-migrated and a foreign SQLite file is never mistaken for ours.
-- Migrations must not contain BEGIN/COMMIT, and cannot change
-- PRAGMA foreign_keys (it is fixed inside a transaction): a table rebuild has
-- to keep its foreign keys valid at every statement.
--
-- The tables, and why they look the way they do:
--
-- domains: the customer's certificate names, as `caad domain add|import`
-- gives them. The name is canonical (A-labels, lower case, no trailing dot)
-- and never carries "*.": a wildcard is the same name with wildcard = 1, and
-- (name, wildcard) is the key imports upsert by, because "x" and "*.x" are
-- separate certificates that CAs check with different rules. `cas` is a JSON
-- array of CA profile names, primary first (empty: every configured CA).
-- Renewal information is optional: not_after and renew_at are Unix seconds or
-- NULL, and the scheduler derives the renewal time from whichever is known.
--
-- domain_state: one row per domain, the last check's outcome and when to
-- check next. It is apart from `domains` because the two change for
-- different reasons (imports vs. sweeps) and at very different rates: a sweep
-- rewrites state rows without touching the rows imports compare against. It
-- goes away with its domain (ON DELETE CASCADE). next_check_at = 0 means "at
-- once": new and changed domains get it. The index on next_check_at is what
-- the sweep's due() walks, soonest first; the partial index on relevant_owner
-- answers "how many domains are pinned to this provider target", asked when a
-- target breaks.
--
-- check_history: one row per check, for `caad-status show` and audits. It is
-- keyed by the subject text ("*.x" or "x"), not by a foreign key, so that the
-- history of a removed domain survives its removal. Retention deletes old
-- rows by checked_at, hence the second index.
--
-- events: what happened that people should hear about (regression, recovery,
-- lookup failure, renewal at risk, provider target broken or recovered),
-- written in the same transaction as the check that caused it. data_json
-- holds what an alert needs, so a message can be rendered long after the
-- domain's state has moved on.
--
-- outbox: one row per event and webhook endpoint that wants it, written in
-- that same transaction, so an event is never recorded without its
-- deliveries, nor a delivery without its event. The webhook sender walks
-- (state, next_attempt_at); a row is 'pending' until it is 'delivered' or,
-- after too many attempts, 'dead' (kept and shown, never silently dropped).
-- UNIQUE (event_id, endpoint) makes a duplicated delivery row impossible.
-- The foreign key to events has no cascade: an event cannot be deleted while
-- a delivery of it is recorded, so a careless prune fails instead of losing
-- a pending alert.
--
-- provider_targets: the state of the provider's own CNAME targets, which are
-- checked on every sweep; the same columns as domain_state, keyed by name.
--
-- daemon: a single row (id = 1) with the daemon's heartbeat, pid, status line
-- and last sweep, so that caad-status can tell whether the daemon looks alive.
--
-- Ids that leave the database or that in-flight work holds are never reused
-- (AUTOINCREMENT): an outbox id is the webhook-id receivers de-duplicate on,
-- and a domain id is carried by a check while it runs, so a domain removed and
-- another added meanwhile must not inherit its result.
--
-- Every table is STRICT (SQLite 3.37+), and CHECK constraints hold the closed
-- vocabularies (verdicts, exposures, severities, outbox states) and JSON
-- validity, so a bug in the writer fails its transaction instead of storing
-- something caad-status or the webhook sender would choke on later.

CREATE TABLE domains (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  name TEXT NOT NULL CHECK (name <> '' AND substr(name, 1, 1) <> '*'),
  wildcard INTEGER NOT NULL CHECK (wildcard IN (0, 1)),
  cas TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(cas) AND json_type(cas) = 'array'),
  not_after INTEGER,
  renew_at INTEGER,
  enabled INTEGER NOT NULL DEFAULT 1 CHECK (enabled IN (0, 1)),
  added_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  UNIQUE (name, wildcard)
) STRICT;

CREATE TABLE domain_state (
  domain_id INTEGER PRIMARY KEY REFERENCES domains (id) ON DELETE CASCADE,
  verdict TEXT NOT NULL DEFAULT ''
    CHECK (verdict IN ('', 'permitted', 'denied', 'lookup_failed')),
  exposure TEXT NOT NULL DEFAULT 'exposed' CHECK (exposure IN ('pinned', 'exposed')),
  relevant_owner TEXT,
  failure_kind TEXT,
  reason TEXT NOT NULL DEFAULT '',
  result_json TEXT NOT NULL DEFAULT '' CHECK (result_json = '' OR json_valid(result_json)),
  last_checked_at INTEGER NOT NULL DEFAULT 0,
  changed_at INTEGER NOT NULL DEFAULT 0,
  next_check_at INTEGER NOT NULL DEFAULT 0,
  consecutive_failures INTEGER NOT NULL DEFAULT 0 CHECK (consecutive_failures >= 0),
  at_risk_reported INTEGER NOT NULL DEFAULT 0 CHECK (at_risk_reported IN (0, 1))
) STRICT;
CREATE INDEX domain_state_next_check ON domain_state (next_check_at);
CREATE INDEX domain_state_pinned_owner ON domain_state (relevant_owner)
  WHERE exposure = 'pinned';

CREATE TABLE check_history (
  id INTEGER PRIMARY KEY,
  subject TEXT NOT NULL,
  checked_at INTEGER NOT NULL,
  verdict TEXT NOT NULL CHECK (verdict IN ('permitted', 'denied', 'lookup_failed')),
  exposure TEXT NOT NULL CHECK (exposure IN ('pinned', 'exposed')),
  failure_kind TEXT,
  result_json TEXT NOT NULL CHECK (result_json = '' OR json_valid(result_json))
) STRICT;
CREATE INDEX check_history_subject ON check_history (subject, checked_at);
CREATE INDEX check_history_checked_at ON check_history (checked_at);

CREATE TABLE events (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  subject TEXT NOT NULL,
  kind TEXT NOT NULL CHECK (kind <> ''),
  severity TEXT NOT NULL CHECK (severity IN ('info', 'warning', 'critical')),
  at INTEGER NOT NULL,
  data_json TEXT NOT NULL CHECK (json_valid(data_json))
) STRICT;
CREATE INDEX events_at ON events (at);
CREATE INDEX events_subject ON events (subject, at);

CREATE TABLE outbox (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  event_id INTEGER NOT NULL REFERENCES events (id),
  endpoint TEXT NOT NULL CHECK (endpoint <> ''),
  state TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'delivered', 'dead')),
  attempts INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
  next_attempt_at INTEGER NOT NULL,
  last_error TEXT,
  created_at INTEGER NOT NULL,
  delivered_at INTEGER,
  UNIQUE (event_id, endpoint)
) STRICT;
CREATE INDEX outbox_due ON outbox (state, next_attempt_at);

CREATE TABLE provider_targets (
  name TEXT PRIMARY KEY NOT NULL CHECK (name <> ''),
  verdict TEXT NOT NULL DEFAULT ''
    CHECK (verdict IN ('', 'permitted', 'denied', 'lookup_failed')),
  exposure TEXT NOT NULL DEFAULT 'exposed' CHECK (exposure IN ('pinned', 'exposed')),
  relevant_owner TEXT,
  failure_kind TEXT,
  reason TEXT NOT NULL DEFAULT '',
  result_json TEXT NOT NULL DEFAULT '' CHECK (result_json = '' OR json_valid(result_json)),
  last_checked_at INTEGER NOT NULL DEFAULT 0,
  changed_at INTEGER NOT NULL DEFAULT 0,
  next_check_at INTEGER NOT NULL DEFAULT 0,
  consecutive_failures INTEGER NOT NULL DEFAULT 0 CHECK (consecutive_failures >= 0),
  at_risk_reported INTEGER NOT NULL DEFAULT 0 CHECK (at_risk_reported IN (0, 1))
) STRICT, WITHOUT ROWID;

CREATE TABLE daemon (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  pid INTEGER,
  heartbeat_at INTEGER NOT NULL DEFAULT 0,
  status_line TEXT NOT NULL DEFAULT '',
  last_sweep_at INTEGER NOT NULL DEFAULT 0
) STRICT;
INSERT INTO daemon (id) VALUES (1);
