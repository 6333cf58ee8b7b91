-- 0002_webhooks: what the webhook sender needs besides the outbox itself.
--
-- webhook_endpoints: endpoints whose receiver answered 410 Gone ("this
-- webhook no longer exists": a deleted Slack app, an archived channel).
-- Sending there again is pointless, so caad stops, and says so here and on
-- the rows' last_error; the rows stay pending, not dead, because the alerts
-- are still owed to someone. The endpoint comes back when its configured URL
-- changes: url_sha256 is the fingerprint of the URL that was gone. Only the
-- fingerprint is kept because a chat webhook URL is itself the credential,
-- and this file is read by caad-status and by whoever can read the
-- database. A row here means "disabled"; re-enabling deletes it.
--
-- outbox_pending_order, outbox_pending_retry: the sender asks, per endpoint,
-- whether a pending row waits for a later retry (which holds every later row
-- of that endpoint back, so that alerts about a domain never overtake each
-- other, even across a restart), then takes the first pending rows in id
-- order, a batch at a time. Each question is a seek in one of these partial
-- indexes, which hold only pending rows: a backlog of 100,000 rows after an
-- outage costs a batch per read, and the delivered and dead history does not
-- slow the sender down as it grows.

CREATE TABLE webhook_endpoints (
  name TEXT PRIMARY KEY NOT NULL CHECK (name <> ''),
  url_sha256 TEXT NOT NULL CHECK (length(url_sha256) = 64),
  disabled_at INTEGER NOT NULL,
  reason TEXT NOT NULL
) STRICT, WITHOUT ROWID;

CREATE INDEX outbox_pending_order ON outbox (endpoint, id) WHERE state = 'pending';
CREATE INDEX outbox_pending_retry ON outbox (endpoint, next_attempt_at) WHERE state = 'pending';
