// The SQLite store: opening and migrating the file, and every query caad runs
// against it. The schema, and why it looks the way it does, is described at
// the top of schema/0001_init.sql.
//
// Every C resource has one owner. The connection is a unique_ptr closed with
// sqlite3_close_v2. Each SQL text is prepared once per Store, on first use,
// and kept in a cache (Database) that owns the sqlite3_stmt; a Query borrows
// a cached statement for one use and resets it when it goes out of scope, so
// a statement never keeps a read open or holds a stale binding. A Transaction
// rolls back unless committed, so every early `return fail(...)` inside one
// leaves the file as it was: that is how upsert() and write_checks() are all
// or nothing, and how a dry run writes nothing.
//
// Write transactions start with BEGIN IMMEDIATE: the writer takes the lock
// (waiting up to the busy timeout) before it reads anything, so it can never
// fail half-way with SQLITE_BUSY on upgrading a read lock. Readers in other
// processes are not blocked at all: in WAL mode they see the last committed
// state.
//
// Opening checks the file before changing it: a foreign SQLite file (another
// application_id, or no id but tables of its own) and a schema newer than
// this binary are refused before the journal mode is switched. A read_only
// Store never migrates: caad-status must not change the file the daemon owns.
#include "lib/store/store.h"

#include <sqlite3.h>
#include <unistd.h>

#include <algorithm>
#include <cassert>
#include <filesystem>
#include <limits>
#include <map>
#include <string_view>
#include <system_error>
#include <unordered_map>
#include <utility>

#include "lib/store/sqlite_handles.h"
#include "lib/util/text.h"
#include "lib/util/time.h"

namespace caad::store {
namespace {

// One numbered migration, compiled in from schema/NNNN_name.sql.
struct Migration {
  int number;
  const char* name;
  const char* sql;
};

constexpr Migration k_migrations[] = {
#include "lib/store/migrations.inc"
};


// SQLITE_TRANSIENT ("SQLite copies the value") is spelled in sqlite3.h as an
// old-style cast of -1 to a destructor pointer, which -Wold-style-cast
// rejects wherever the macro is expanded; this is the one place it is.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wold-style-cast"
sqlite3_destructor_type transient() {
  return SQLITE_TRANSIENT;
}
#pragma GCC diagnostic pop

// Passes an error from one Result type to another.
Unexpected<Error> propagate(const Error& e) {
  return {e};
}

// A cached prepared statement in use: binds parameters in order (?1, ?2...),
// steps, reads columns. Its destructor resets the statement, which ends its
// read and readies it for the next use.
class Query {
 public:
  Query(sqlite3* db, sqlite3_stmt* stmt) : m_db(db), m_stmt(stmt) {
    // Two Queries on one cached statement at once would step over each other.
    assert(sqlite3_stmt_busy(stmt) == 0);
  }
  Query(Query&& other) noexcept
      : m_db(other.m_db),
        m_stmt(std::exchange(other.m_stmt, nullptr)),
        m_next(other.m_next),
        m_bind_rc(other.m_bind_rc) {}
  Query& operator=(Query&&) = delete;
  ~Query() {
    if (m_stmt == nullptr) return;
    sqlite3_reset(m_stmt);
    sqlite3_clear_bindings(m_stmt);
  }

  Query& bind_int(std::int64_t v) { return note(sqlite3_bind_int64(m_stmt, m_next++, v)); }
  Query& bind_bool(bool v) { return bind_int(v ? 1 : 0); }
  Query& bind_null() { return note(sqlite3_bind_null(m_stmt, m_next++)); }
  Query& bind_text(std::string_view v) {
    // A null pointer would bind NULL; an empty string_view may carry one.
    const char* data = v.data() != nullptr ? v.data() : "";
    return note(sqlite3_bind_text64(m_stmt, m_next++, data, v.size(), transient(), SQLITE_UTF8));
  }
  Query& bind_opt_int(const std::optional<std::int64_t>& v) {
    return v ? bind_int(*v) : bind_null();
  }
  Query& bind_opt_text(const std::optional<std::string>& v) {
    return v ? bind_text(*v) : bind_null();
  }

  // One step: true when a row is ready, false when the statement is done.
  Result<bool> step() {
    if (m_bind_rc != SQLITE_OK) return fail(sqlite3_errstr(m_bind_rc));
    int rc = sqlite3_step(m_stmt);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    return fail(sqlite3_errmsg(m_db));
  }
  // Runs the statement to completion, ignoring any rows.
  Status run() {
    for (;;) {
      auto r = step();
      if (!r) return propagate(r.error());
      if (!*r) return Ok{};
    }
  }

  std::int64_t int_at(int col) const { return sqlite3_column_int64(m_stmt, col); }
  bool bool_at(int col) const { return int_at(col) != 0; }
  bool is_null(int col) const { return sqlite3_column_type(m_stmt, col) == SQLITE_NULL; }
  std::optional<std::int64_t> opt_int_at(int col) const {
    if (is_null(col)) return std::nullopt;
    return int_at(col);
  }
  std::string text_at(int col) const {
    // sqlite3_column_text first, then the byte count, as sqlite3.h asks.
    const unsigned char* p = sqlite3_column_text(m_stmt, col);
    if (p == nullptr) return {};
    int n = sqlite3_column_bytes(m_stmt, col);
    return std::string(reinterpret_cast<const char*>(p), static_cast<std::size_t>(n));
  }
  std::optional<std::string> opt_text_at(int col) const {
    if (is_null(col)) return std::nullopt;
    return text_at(col);
  }

 private:
  Query& note(int rc) {
    if (m_bind_rc == SQLITE_OK) m_bind_rc = rc;
    return *this;
  }

  sqlite3* m_db;
  sqlite3_stmt* m_stmt;
  int m_next = 1;
  int m_bind_rc = SQLITE_OK;  // the first failed bind, reported by step()
};

// The connection and its statement cache.
class Database {
 public:
  Database(std::string path, Connection connection)
      : m_path(std::move(path)), m_connection(std::move(connection)) {}

  const std::string& path() const { return m_path; }
  sqlite3* handle() const { return m_connection.get(); }

  // The statement for `sql`, prepared on its first use. The cache is keyed by
  // the text's address: pass the k_sql_* constants, not built strings.
  Result<Query> query(const char* sql) {
    auto it = m_statements.find(sql);
    if (it == m_statements.end()) {
      sqlite3_stmt* raw = nullptr;
      int rc = sqlite3_prepare_v3(handle(), sql, -1, SQLITE_PREPARE_PERSISTENT, &raw, nullptr);
      StatementPtr stmt(raw);
      if (rc != SQLITE_OK)
        return fail(std::string(sqlite3_errmsg(handle())) + " (preparing: " + sql + ")");
      it = m_statements.emplace(sql, std::move(stmt)).first;
    }
    return Query(handle(), it->second.get());
  }

  // Runs SQL that is used once or rarely (pragmas, transactions, migrations)
  // without caching it.
  Status exec(const std::string& sql) {
    char* raw = nullptr;
    int rc = sqlite3_exec(handle(), sql.c_str(), nullptr, nullptr, &raw);
    SqliteString message(raw);
    if (rc == SQLITE_OK) return Ok{};
    return fail(message ? message.get() : sqlite3_errstr(rc));
  }

  // The first column of the first row of a one-off statement (0 or "" when
  // there is no row).
  Result<std::int64_t> scalar_int(const std::string& sql) {
    auto stmt = first_row(sql);
    if (!stmt) return propagate(stmt.error());
    return *stmt ? sqlite3_column_int64(stmt->get(), 0) : std::int64_t{0};
  }
  Result<std::string> scalar_text(const std::string& sql) {
    auto stmt = first_row(sql);
    if (!stmt) return propagate(stmt.error());
    const unsigned char* p = *stmt ? sqlite3_column_text(stmt->get(), 0) : nullptr;
    return p == nullptr ? std::string() : std::string(reinterpret_cast<const char*>(p));
  }

 private:
  // Prepares `sql` and steps it once: the statement on a row, null when done.
  Result<StatementPtr> first_row(const std::string& sql) {
    sqlite3_stmt* raw = nullptr;
    int rc = sqlite3_prepare_v2(handle(), sql.c_str(), -1, &raw, nullptr);
    StatementPtr stmt(raw);
    if (rc != SQLITE_OK) return fail(sqlite3_errmsg(handle()));
    rc = sqlite3_step(stmt.get());
    if (rc == SQLITE_DONE) return StatementPtr();
    if (rc != SQLITE_ROW) return fail(sqlite3_errmsg(handle()));
    return stmt;
  }

  std::string m_path;
  Connection m_connection;
  // Declared after the connection, so destroyed (finalized) before it closes.
  std::unordered_map<const char*, StatementPtr> m_statements;
};

// A transaction that rolls back unless committed.
class Transaction {
 public:
  enum class Kind { read, write };

  static Result<Transaction> begin(Database& db, Kind kind) {
    if (auto r = db.exec(kind == Kind::write ? "BEGIN IMMEDIATE" : "BEGIN"); !r) {
      return propagate(r.error());
    }
    return Transaction(db.handle());
  }

  Transaction(Transaction&& other) noexcept : m_db(std::exchange(other.m_db, nullptr)) {}
  Transaction& operator=(Transaction&&) = delete;
  ~Transaction() {
    // SQLite may have rolled back already (some errors do); then there is
    // nothing left to undo and ROLLBACK would only fail.
    if (m_db != nullptr && sqlite3_get_autocommit(m_db) == 0) {
      sqlite3_exec(m_db, "ROLLBACK", nullptr, nullptr, nullptr);
    }
  }

  // On failure the transaction stays open and the destructor rolls it back.
  Status commit() {
    if (sqlite3_exec(m_db, "COMMIT", nullptr, nullptr, nullptr) != SQLITE_OK) {
      return fail(sqlite3_errmsg(m_db));
    }
    m_db = nullptr;
    return Ok{};
  }

 private:
  explicit Transaction(sqlite3* db) : m_db(db) {}
  sqlite3* m_db;  // null once committed or moved from
};

// ---- SQL ----------------------------------------------------------------

constexpr const char k_sql_find_key[] =
    "SELECT id, cas, not_after, renew_at, enabled FROM domains WHERE name = ?1 AND wildcard = ?2";
constexpr const char k_sql_insert_domain[] =
    "INSERT INTO domains (name, wildcard, cas, not_after, renew_at, enabled, added_at, updated_at) "
    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7)";
constexpr const char k_sql_insert_new_state[] =
    "INSERT INTO domain_state (domain_id, next_check_at) VALUES (?1, 0)";
constexpr const char k_sql_update_domain[] =
    "UPDATE domains SET cas = ?2, not_after = ?3, renew_at = ?4, enabled = ?5, updated_at = ?6 "
    "WHERE id = ?1";
// A changed domain is checked at once; a changed renewal starts a new
// renewal_at_risk episode.
constexpr const char k_sql_reschedule[] =
    "INSERT INTO domain_state (domain_id, next_check_at) VALUES (?1, 0) "
    "ON CONFLICT (domain_id) DO UPDATE SET next_check_at = 0, "
    "at_risk_reported = CASE WHEN ?2 THEN 0 ELSE at_risk_reported END";
constexpr const char k_sql_remove[] = "DELETE FROM domains WHERE name = ?1 AND wildcard = ?2";
// Before a remove: the domain's run of checks (domain_state, which the
// remove deletes) becomes a history row, so that the history stays whole.
constexpr const char k_sql_keep_run[] =
    "INSERT INTO check_history (subject, first_checked_at, checked_at, checks, verdict, exposure, "
    "failure_kind, result_json) "
    "SELECT ?3, s.run_started_at, s.last_checked_at, s.run_checks, s.verdict, s.exposure, "
    "s.failure_kind, s.result_json FROM domains AS d JOIN domain_state AS s ON s.domain_id = d.id "
    "WHERE d.name = ?1 AND d.wildcard = ?2 AND s.run_checks > 0";

// Domain columns, in the order read_domain() reads them.
constexpr const char k_sql_list[] =
    "SELECT id, name, wildcard, cas, not_after, renew_at, enabled, added_at, updated_at "
    "FROM domains ORDER BY name, wildcard LIMIT ?1 OFFSET ?2";
constexpr const char k_sql_find[] =
    "SELECT id, name, wildcard, cas, not_after, renew_at, enabled, added_at, updated_at "
    "FROM domains WHERE name = ?1 AND wildcard = ?2";
// Both walk the next_check_at index, whose order is (next_check_at, rowid),
// and stop after LIMIT rows. CROSS JOIN makes SQLite keep domain_state as the
// outer loop; left to itself it may scan every domain and sort. In due(),
// the row value (?3, ?4) is the cursor: SQLite seeks to ?3 in the index and
// skips the entries up to ?4 there without reading their rows; and
// result_json stays on disk, since the daemon compares result_digest
// instead (0004_result_digest.sql).
constexpr const char k_sql_due[] =
    "SELECT d.id, d.name, d.wildcard, d.cas, d.not_after, d.renew_at, d.enabled, d.added_at, "
    "d.updated_at, s.verdict, s.exposure, s.relevant_owner, s.failure_kind, s.reason, "
    "'' AS result_json, "
    "s.last_checked_at, s.changed_at, s.next_check_at, s.consecutive_failures, s.at_risk_reported, "
    "s.result_digest, s.run_started_at, s.run_checks "
    "FROM domain_state AS s CROSS JOIN domains AS d ON d.id = s.domain_id "
    "WHERE s.next_check_at <= ?1 AND (s.next_check_at, s.domain_id) > (?3, ?4) AND d.enabled = 1 "
    "ORDER BY s.next_check_at, s.domain_id LIMIT ?2";
// ORDER BY ... LIMIT 1 rather than MIN(): it stops at the first enabled row
// of the index instead of aggregating over every domain.
constexpr const char k_sql_next_due[] =
    "SELECT s.next_check_at FROM domain_state AS s CROSS JOIN domains AS d ON d.id = s.domain_id "
    "WHERE d.enabled = 1 ORDER BY s.next_check_at, s.domain_id LIMIT 1";

// State columns, in the order bind_state() and read_state() use them, then
// the run. Every domain has its state row from the moment it is added
// (k_sql_insert_new_state), so a domain removed while its check ran is the
// only one without a row to update, and its result is dropped with it.
constexpr const char k_sql_write_state[] =
    "UPDATE domain_state SET verdict = ?2, exposure = ?3, relevant_owner = ?4, failure_kind = ?5, "
    "reason = ?6, result_json = ?7, last_checked_at = ?8, changed_at = ?9, "
    "next_check_at = CASE WHEN ?14 > 0 AND (SELECT updated_at FROM domains WHERE id = ?1) > ?14 "
    "THEN 0 ELSE ?10 END, "
    "consecutive_failures = ?11, at_risk_reported = ?12, result_digest = ?13, "
    "run_started_at = ?15, run_checks = ?16 WHERE domain_id = ?1";
// Before k_sql_write_state, for a result that differs from the stored one:
// the finished run, still in domain_state, becomes a history row.
constexpr const char k_sql_close_run[] =
    "INSERT INTO check_history (subject, first_checked_at, checked_at, checks, verdict, exposure, "
    "failure_kind, result_json) "
    "SELECT ?2, run_started_at, last_checked_at, run_checks, verdict, exposure, failure_kind, "
    "result_json FROM domain_state WHERE domain_id = ?1 AND run_checks > 0";
// The same for a check that found what the state already says
// (CheckWrite::result_changed false): only times and counters change, so
// neither the result nor the CHECKs on it are written again. A domain
// removed meanwhile has no row to update.
constexpr const char k_sql_touch_state[] =
    "UPDATE domain_state SET last_checked_at = ?2, changed_at = ?3, "
    "next_check_at = CASE WHEN ?7 > 0 AND (SELECT updated_at FROM domains WHERE id = ?1) > ?7 "
    "THEN 0 ELSE ?4 END, "
    "consecutive_failures = ?5, at_risk_reported = ?6, run_started_at = ?8, run_checks = ?9 "
    "WHERE domain_id = ?1";
constexpr const char k_sql_write_target[] =
    "INSERT INTO provider_targets (name, verdict, exposure, relevant_owner, failure_kind, reason, "
    "result_json, last_checked_at, changed_at, next_check_at, consecutive_failures, "
    "at_risk_reported, result_digest) "
    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13) "
    "ON CONFLICT (name) DO UPDATE SET "
    "verdict = excluded.verdict, exposure = excluded.exposure, "
    "relevant_owner = excluded.relevant_owner, failure_kind = excluded.failure_kind, "
    "reason = excluded.reason, result_json = excluded.result_json, "
    "last_checked_at = excluded.last_checked_at, changed_at = excluded.changed_at, "
    "next_check_at = excluded.next_check_at, consecutive_failures = excluded.consecutive_failures, "
    "at_risk_reported = excluded.at_risk_reported, result_digest = excluded.result_digest";
constexpr const char k_sql_target_state[] =
    "SELECT verdict, exposure, relevant_owner, failure_kind, reason, result_json, last_checked_at, "
    "changed_at, next_check_at, consecutive_failures, at_risk_reported, result_digest "
    "FROM provider_targets WHERE name = ?1";
// Matches the partial index domain_state_pinned_owner.
constexpr const char k_sql_count_pinned[] =
    "SELECT count(*) FROM domain_state WHERE exposure = 'pinned' AND relevant_owner = ?1";

constexpr const char k_sql_insert_event[] =
    "INSERT INTO events (subject, kind, severity, at, data_json) VALUES (?1, ?2, ?3, ?4, ?5)";
// Two routes naming one endpoint still give it one delivery.
constexpr const char k_sql_insert_outbox[] =
    "INSERT INTO outbox (event_id, endpoint, state, attempts, next_attempt_at, created_at) "
    "VALUES (?1, ?2, 'pending', 0, ?3, ?3) ON CONFLICT (event_id, endpoint) DO NOTHING";

// The sender's batch, asked per endpoint in one read transaction: is the
// endpoint disabled; does a pending row of it wait for a later retry (then
// none of its rows may go: they must not overtake that one); else its first
// `?3` pending rows in id order with their events. INDEXED BY: left to
// itself, SQLite may take the retry index and sort every pending row (and
// read its event) before applying the LIMIT.
constexpr const char k_sql_endpoint_disabled[] = "SELECT count(*) FROM webhook_endpoints WHERE name = ?1";
constexpr const char k_sql_endpoint_waits[] =
    "SELECT count(*) FROM (SELECT 1 FROM outbox INDEXED BY outbox_pending_retry "
    "WHERE endpoint = ?1 AND state = 'pending' AND next_attempt_at > ?2 LIMIT 1)";
constexpr const char k_sql_endpoint_due[] =
    "SELECT o.id, o.event_id, o.endpoint, o.attempts, o.next_attempt_at, o.created_at, o.last_error, "
    "e.subject, e.kind, e.severity, e.at, e.data_json "
    "FROM outbox AS o INDEXED BY outbox_pending_order JOIN events AS e ON e.id = o.event_id "
    "WHERE o.endpoint = ?1 AND o.state = 'pending' AND o.next_attempt_at <= ?2 ORDER BY o.id LIMIT ?3";
// Delivered and dead are final: a late or repeated outcome changes nothing.
constexpr const char k_sql_update_outbox[] =
    "UPDATE outbox SET state = ?2, attempts = attempts + ?3, "
    "next_attempt_at = CASE WHEN ?2 = 'pending' THEN ?4 ELSE next_attempt_at END, "
    "last_error = coalesce(?5, last_error), "
    "delivered_at = CASE WHEN ?2 = 'delivered' THEN ?6 ELSE delivered_at END "
    "WHERE id = ?1 AND state = 'pending'";
constexpr const char k_sql_disable_endpoint[] =
    "INSERT INTO webhook_endpoints (name, url_sha256, disabled_at, reason) VALUES (?1, ?2, ?3, ?4) "
    "ON CONFLICT (name) DO UPDATE SET url_sha256 = excluded.url_sha256, "
    "disabled_at = excluded.disabled_at, reason = excluded.reason";
constexpr const char k_sql_disabled_endpoints[] =
    "SELECT name, url_sha256, disabled_at, reason FROM webhook_endpoints ORDER BY name";
constexpr const char k_sql_enable_endpoint[] = "DELETE FROM webhook_endpoints WHERE name = ?1";

// Store::counts reads indexes only (0003_counts.sql): every state row by
// (verdict, exposure) from domain_state_verdict, the due ones from
// domain_state_next_check, and the few disabled domains, subtracted, from
// domains_disabled.
constexpr const char k_sql_count_domains[] = "SELECT count(*) FROM domains";
constexpr const char k_sql_count_states[] =
    "SELECT verdict, exposure, count(*) FROM domain_state GROUP BY verdict, exposure";
constexpr const char k_sql_count_due[] = "SELECT count(*) FROM domain_state WHERE next_check_at <= ?1";
constexpr const char k_sql_count_disabled[] =
    "SELECT s.verdict, s.exposure, count(*), coalesce(sum(s.next_check_at <= ?1), 0), "
    "coalesce(sum(s.domain_id IS NULL), 0) "
    "FROM domains AS d INDEXED BY domains_disabled LEFT JOIN domain_state AS s ON s.domain_id = d.id "
    "WHERE d.enabled = 0 GROUP BY 1, 2";
constexpr const char k_sql_count_outbox[] = "SELECT count(*) FROM outbox WHERE state = ?1";
constexpr const char k_sql_prune_history[] = "DELETE FROM check_history WHERE checked_at < ?1";
constexpr const char k_sql_heartbeat[] =
    "INSERT INTO daemon (id, pid, heartbeat_at, status_line, last_sweep_at) "
    "VALUES (1, ?1, ?2, ?3, ?2) "
    "ON CONFLICT (id) DO UPDATE SET pid = excluded.pid, heartbeat_at = excluded.heartbeat_at, "
    "status_line = excluded.status_line, last_sweep_at = excluded.last_sweep_at";
constexpr const char k_sql_integrity[] = "PRAGMA integrity_check";

// ---- Values ---------------------------------------------------------------

std::string dump_json(const nlohmann::json& j) {
  // replace: a stray invalid UTF-8 byte must not throw out of a write.
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string cas_json(const std::vector<std::string>& cas) {
  return dump_json(nlohmann::json(cas));
}

Result<std::vector<std::string>> parse_cas(const std::string& text) {
  auto j = nlohmann::json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_array())
    return fail("cas is not a JSON array: " + text::quote(text));
  std::vector<std::string> cas;
  cas.reserve(j.size());
  for (const auto& e : j) {
    if (!e.is_string()) return fail("cas holds a non-string: " + text::quote(text));
    cas.push_back(e.get<std::string>());
  }
  return cas;
}

// The sizes SQLite takes: LIMIT -1 means no limit.
std::int64_t sql_count(std::size_t n) {
  constexpr auto k_max = static_cast<std::size_t>(std::numeric_limits<std::int64_t>::max());
  return n > k_max ? -1 : static_cast<std::int64_t>(n);
}

std::size_t to_size(std::int64_t n) {
  return n < 0 ? 0 : static_cast<std::size_t>(n);
}

Result<Domain> read_domain(const Query& q, int col) {
  std::int64_t id = q.int_at(col);
  std::string name = q.text_at(col + 1);
  auto parsed = dns::Name::from_dns(name);
  if (!parsed)
    return fail("domain " + std::to_string(id) + " has a malformed name " + text::quote(name));
  auto cas = parse_cas(q.text_at(col + 3));
  if (!cas) return fail("domain " + name + ": " + cas.error().message);
  DomainSpec spec{dns::DomainRequest{*parsed, q.bool_at(col + 2)}, std::move(*cas),
                  q.opt_int_at(col + 4), q.opt_int_at(col + 5), q.bool_at(col + 6)};
  return Domain{id, std::move(spec), q.int_at(col + 7), q.int_at(col + 8)};
}

DomainState read_state(const Query& q, int col) {
  DomainState s;
  s.verdict = q.text_at(col);
  s.exposure = q.text_at(col + 1);
  s.relevant_owner = q.opt_text_at(col + 2);
  s.failure_kind = q.opt_text_at(col + 3);
  s.reason = q.text_at(col + 4);
  s.result_json = q.text_at(col + 5);
  s.last_checked_at = q.int_at(col + 6);
  s.changed_at = q.int_at(col + 7);
  s.next_check_at = q.int_at(col + 8);
  s.consecutive_failures = static_cast<int>(q.int_at(col + 9));
  s.at_risk_reported = q.bool_at(col + 10);
  s.result_digest = static_cast<std::uint64_t>(q.int_at(col + 11));
  return s;
}

void bind_state(Query& q, const DomainState& s) {
  q.bind_text(s.verdict)
      .bind_text(s.exposure)
      .bind_opt_text(s.relevant_owner)
      .bind_opt_text(s.failure_kind)
      .bind_text(s.reason)
      .bind_text(s.result_json)
      .bind_int(s.last_checked_at)
      .bind_int(s.changed_at)
      .bind_int(s.next_check_at)
      .bind_int(s.consecutive_failures)
      .bind_bool(s.at_risk_reported)
      .bind_int(static_cast<std::int64_t>(s.result_digest));
}

// ---- Upsert reports -------------------------------------------------------

std::string describe_cas(const std::vector<std::string>& cas) {
  if (cas.empty()) return "every configured CA";
  std::string out;
  for (const auto& ca : cas) {
    if (!out.empty()) out += " then ";
    out += ca;
  }
  return out;
}

std::string describe_time(const std::optional<UnixSeconds>& t) {
  return t ? format_timestamp(*t) : std::string("none");
}

// "add shop.example.com (ca letsencrypt, renew_at 2026-12-31T00:00:00Z)"
std::string describe_add(const DomainSpec& spec) {
  std::string line = "add " + spec.request.text() + " (";
  line += spec.cas.empty() ? describe_cas(spec.cas) : "ca " + describe_cas(spec.cas);
  if (spec.not_after) line += ", not_after " + format_timestamp(*spec.not_after);
  if (spec.renew_at) line += ", renew_at " + format_timestamp(*spec.renew_at);
  if (!spec.enabled) line += ", disabled";
  return line + ")";
}

// What a stored domain looked like before an update.
struct StoredSpec {
  std::int64_t id = 0;
  std::string cas_json;
  std::optional<UnixSeconds> not_after;
  std::optional<UnixSeconds> renew_at;
  bool enabled = true;
};

// "update x: renew_at 2026-01-01T00:00:00Z → 2026-12-31T00:00:00Z"
std::string describe_update(const StoredSpec& old, const DomainSpec& spec,
                            const std::string& new_cas_json) {
  std::string line = "update " + spec.request.text() + ":";
  std::string_view sep = " ";
  auto add = [&](const std::string& what) {
    line += sep;
    line += what;
    sep = ", ";
  };
  if (old.cas_json != new_cas_json) {
    auto old_cas = parse_cas(old.cas_json);
    add("ca " + (old_cas ? describe_cas(*old_cas) : old.cas_json) + " → " + describe_cas(spec.cas));
  }
  if (old.not_after != spec.not_after) {
    add("not_after " + describe_time(old.not_after) + " → " + describe_time(spec.not_after));
  }
  if (old.renew_at != spec.renew_at) {
    add("renew_at " + describe_time(old.renew_at) + " → " + describe_time(spec.renew_at));
  }
  if (old.enabled != spec.enabled) add(spec.enabled ? "disabled → enabled" : "enabled → disabled");
  return line;
}

// Adds or updates one domain; returns its id.
Result<std::int64_t> upsert_one(Database& db, const DomainSpec& spec, UnixSeconds now, UpsertReport& report,
                                std::size_t max_changes) {
  const std::string& name = spec.request.name.text();
  std::string cas = cas_json(spec.cas);

  std::optional<StoredSpec> old;
  {
    auto q = db.query(k_sql_find_key);
    if (!q) return propagate(q.error());
    q->bind_text(name).bind_bool(spec.request.wildcard);
    auto row = q->step();
    if (!row) return propagate(row.error());
    if (*row) {
      old = StoredSpec{q->int_at(0), q->text_at(1), q->opt_int_at(2), q->opt_int_at(3),
                       q->bool_at(4)};
    }
  }

  if (!old) {
    {
      auto q = db.query(k_sql_insert_domain);
      if (!q) return propagate(q.error());
      q->bind_text(name)
          .bind_bool(spec.request.wildcard)
          .bind_text(cas)
          .bind_opt_int(spec.not_after)
          .bind_opt_int(spec.renew_at)
          .bind_bool(spec.enabled)
          .bind_int(now);
      if (auto r = q->run(); !r) return propagate(r.error());
    }
    std::int64_t id = sqlite3_last_insert_rowid(db.handle());
    auto q = db.query(k_sql_insert_new_state);
    if (!q) return propagate(q.error());
    q->bind_int(id);
    if (auto r = q->run(); !r) return propagate(r.error());
    ++report.added;
    if (report.changes.size() < max_changes) report.changes.push_back(describe_add(spec));
    return id;
  }

  bool renewal_changed = old->not_after != spec.not_after || old->renew_at != spec.renew_at;
  if (!renewal_changed && old->cas_json == cas && old->enabled == spec.enabled) {
    ++report.unchanged;
    return old->id;
  }
  {
    auto q = db.query(k_sql_update_domain);
    if (!q) return propagate(q.error());
    q->bind_int(old->id)
        .bind_text(cas)
        .bind_opt_int(spec.not_after)
        .bind_opt_int(spec.renew_at)
        .bind_bool(spec.enabled)
        .bind_int(now);
    if (auto r = q->run(); !r) return propagate(r.error());
  }
  {
    auto q = db.query(k_sql_reschedule);
    if (!q) return propagate(q.error());
    q->bind_int(old->id).bind_bool(renewal_changed);
    if (auto r = q->run(); !r) return propagate(r.error());
  }
  ++report.updated;
  if (report.changes.size() < max_changes) report.changes.push_back(describe_update(*old, spec, cas));
  return old->id;
}

// Inserts events and their outbox rows; `subject` stands in for an event
// that names none.
Status insert_events(Database& db, std::span<const Event> events, const std::string& subject,
                     std::span<const OutboxRoute> routes) {
  for (const Event& e : events) {
    {
      auto q = db.query(k_sql_insert_event);
      if (!q) return propagate(q.error());
      q->bind_text(e.subject.empty() ? subject : e.subject)
          .bind_text(e.kind)
          .bind_text(to_string(e.severity))
          .bind_int(e.at)
          .bind_text(e.data.is_null() ? std::string("{}") : dump_json(e.data));
      if (auto r = q->run(); !r) return fail("event " + e.kind + ": " + r.error().message);
    }
    std::int64_t event_id = sqlite3_last_insert_rowid(db.handle());
    for (const OutboxRoute& route : routes) {
      if (!route.wants(e)) continue;
      auto q = db.query(k_sql_insert_outbox);
      if (!q) return propagate(q.error());
      q->bind_int(event_id).bind_text(route.endpoint).bind_int(e.at);
      if (auto r = q->run(); !r)
        return fail("outbox for " + route.endpoint + ": " + r.error().message);
    }
  }
  return Ok{};
}

// Reads one count from a single-row query.
Result<std::size_t> count_query(Database& db, const char* sql, const std::optional<std::string>& arg = std::nullopt) {
  auto q = db.query(sql);
  if (!q) return propagate(q.error());
  if (arg) q->bind_text(*arg);
  auto row = q->step();
  if (!row) return propagate(row.error());
  return *row ? to_size(q->int_at(0)) : std::size_t{0};
}

}  // namespace

// ---- Store ----------------------------------------------------------------

struct Store::Impl {
  Impl(Database d, Mode m) : db(std::move(d)), mode(m) {}

  Database db;
  Mode mode;
  int version = 0;

  Status writable(std::string_view doing) const {
    if (mode == Mode::read_only) {
      return fail("cannot " + std::string(doing) + ": " + db.path() + " is open read-only");
    }
    return Ok{};
  }

  // "cannot <doing> <path>: <why>"
  Unexpected<Error> error(std::string_view doing, const Error& e) const {
    return fail("cannot " + std::string(doing) + " " + db.path() + ": " + e.message);
  }

  Status configure(int cache_kib);
  Status migrate();
};

Status Store::Impl::configure(int cache_kib) {
  const std::string& path = db.path();
  if (auto r = db.exec("PRAGMA foreign_keys = ON"); !r) return error("open", r.error());

  // Look before changing anything: the WAL switch below writes the header.
  auto application_id = db.scalar_int("PRAGMA application_id");
  if (!application_id) {
    if ((sqlite3_errcode(db.handle()) & 0xff) == SQLITE_NOTADB) {
      return fail(path + " is not a caad database (it is not an SQLite database at all)");
    }
    return error("read", application_id.error());
  }
  auto user_version = db.scalar_int("PRAGMA user_version");
  if (!user_version) return error("read", user_version.error());
  auto objects = db.scalar_int("SELECT count(*) FROM sqlite_schema");
  if (!objects) return error("read", objects.error());

  bool empty = *application_id == 0 && *user_version == 0 && *objects == 0;
  if (*application_id != k_application_id && !empty) return fail(path + " is not a caad database");
  version = static_cast<int>(*user_version);
  int latest = latest_schema_version();
  if (*user_version > latest) {
    return fail(path + " was written by a newer caad (schema " + std::to_string(*user_version) +
                ", this caad knows up to " + std::to_string(latest) + "); upgrade caad");
  }
  if (mode == Mode::read_only && version < latest) {
    if (empty) {
      return fail(path +
                  " holds no caad data yet; the daemon (caad run) must create its schema first");
    }
    return fail(path + " has schema " + std::to_string(version) + ", older than this caad's " +
                std::to_string(latest) + "; the daemon (caad run) must migrate it first");
  }

  if (mode == Mode::read_write) {
    auto journal = db.scalar_text("PRAGMA journal_mode = WAL");
    if (!journal) return error("switch to WAL mode", journal.error());
    if (*journal != "wal") {
      return fail("cannot switch " + path + " to WAL mode (it stays in " + *journal + " mode)");
    }
  }
  if (auto r = db.exec("PRAGMA synchronous = NORMAL"); !r) return error("configure", r.error());
  if (auto r = db.exec("PRAGMA cache_size = -" + std::to_string(cache_kib)); !r) {
    return error("configure", r.error());
  }
  if (mode == Mode::read_write) return migrate();
  return Ok{};
}

Status Store::Impl::migrate() {
  for (const Migration& m : k_migrations) {
    if (m.number <= version) continue;
    // "cannot migrate /var/lib/caad/caad.db to schema 2 (0002_x): <why>"
    auto failed = [&](const Error& e) {
      return fail("cannot migrate " + db.path() + " to schema " + std::to_string(m.number) + " (" +
                  m.name + "): " + e.message);
    };
    auto tx = Transaction::begin(db, Transaction::Kind::write);
    if (!tx) return failed(tx.error());
    // Another caad may have migrated while this one waited for the lock.
    auto current = db.scalar_int("PRAGMA user_version");
    if (!current) return failed(current.error());
    if (*current >= m.number) {
      version = static_cast<int>(*current);
      continue;
    }
    if (auto r = db.exec(m.sql); !r) return failed(r.error());
    if (auto r = db.exec("PRAGMA user_version = " + std::to_string(m.number)); !r)
      return failed(r.error());
    if (auto r = db.exec("PRAGMA application_id = " + std::to_string(k_application_id)); !r) {
      return failed(r.error());
    }
    if (auto r = tx->commit(); !r) return failed(r.error());
    version = m.number;
  }
  return Ok{};
}

Store::Store(std::unique_ptr<Impl> impl) : m_impl(std::move(impl)) {}
Store::~Store() = default;

Result<std::unique_ptr<Store>> Store::open(const std::string& path, Mode mode, int cache_kib) {
  if (path.empty()) return fail("the database path is empty");
  if (cache_kib < 1) return fail("the page cache size for " + path + " must be at least 1 KiB");
  if (mode == Mode::read_only) {
    std::error_code ec;
    // On an error (no permission to look), let SQLite say what is wrong.
    if (!std::filesystem::exists(path, ec) && !ec)
      return fail("database " + path + " does not exist");
  }
  // NOMUTEX: a Store is used by one thread at a time, so SQLite's own
  // per-connection mutex would only cost time.
  int flags = (mode == Mode::read_only ? SQLITE_OPEN_READONLY
                                       : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE) |
              SQLITE_OPEN_NOMUTEX;
  sqlite3* raw = nullptr;
  int rc = sqlite3_open_v2(path.c_str(), &raw, flags, nullptr);
  Connection connection(raw);  // sqlite3_open_v2 allocates a handle even when it fails
  if (rc != SQLITE_OK) {
    return fail("cannot open database " + path + ": " +
                (raw != nullptr ? sqlite3_errmsg(raw) : sqlite3_errstr(rc)));
  }
  sqlite3_busy_timeout(raw, k_busy_timeout_ms);

  auto impl = std::make_unique<Impl>(Database(path, std::move(connection)), mode);
  if (auto r = impl->configure(cache_kib); !r) return propagate(r.error());
  return std::unique_ptr<Store>(new Store(std::move(impl)));
}

int Store::schema_version() const {
  return m_impl->version;
}

int Store::latest_schema_version() {
  return std::size(k_migrations) == 0 ? 0 : std::end(k_migrations)[-1].number;
}

Result<UpsertReport> Store::upsert(std::span<const DomainSpec> specs, UnixSeconds now, bool dry_run,
                                   std::size_t max_changes) {
  constexpr std::string_view k_doing = "update the domains in";
  if (auto r = m_impl->writable("update the domains"); !r) return propagate(r.error());
  Database& db = m_impl->db;
  auto tx = Transaction::begin(db, Transaction::Kind::write);
  if (!tx) return m_impl->error(k_doing, tx.error());

  UpsertReport report;
  // Domain id → position in `specs`: a name given twice in one batch is
  // refused, since its report (added, then updated) would be nonsense.
  std::unordered_map<std::int64_t, std::size_t> seen;
  seen.reserve(specs.size());
  for (std::size_t i = 0; i < specs.size(); ++i) {
    const DomainSpec& spec = specs[i];
    auto id = upsert_one(db, spec, now, report, max_changes);
    if (!id) {
      return fail("cannot update the domains in " + db.path() + " (at " + spec.request.text() +
                  "): " + id.error().message + "; nothing was written");
    }
    auto [it, inserted] = seen.emplace(*id, i);
    if (!inserted) {
      return fail(spec.request.text() + " is given twice (entries " +
                  std::to_string(it->second + 1) + " and " + std::to_string(i + 1) +
                  "); nothing was written");
    }
  }
  if (dry_run) return report;  // the transaction rolls back
  if (auto r = tx->commit(); !r) return m_impl->error(k_doing, r.error());
  return report;
}

Result<bool> Store::remove(const dns::DomainRequest& request) {
  const std::string doing = "remove " + request.text() + " from";
  if (auto r = m_impl->writable("remove " + request.text()); !r) return propagate(r.error());
  Database& db = m_impl->db;
  auto tx = Transaction::begin(db, Transaction::Kind::write);
  if (!tx) return m_impl->error(doing, tx.error());
  {
    auto q = db.query(k_sql_keep_run);
    if (!q) return m_impl->error(doing, q.error());
    q->bind_text(request.name.text()).bind_bool(request.wildcard).bind_text(request.text());
    if (auto r = q->run(); !r) return m_impl->error(doing, r.error());
  }
  auto q = db.query(k_sql_remove);
  if (!q) return m_impl->error(doing, q.error());
  q->bind_text(request.name.text()).bind_bool(request.wildcard);
  if (auto r = q->run(); !r) return m_impl->error(doing, r.error());
  const bool removed = sqlite3_changes64(db.handle()) > 0;
  if (auto r = tx->commit(); !r) return m_impl->error(doing, r.error());
  return removed;
}

Result<std::vector<Domain>> Store::list(std::size_t limit, std::size_t offset) const {
  Database& db = m_impl->db;
  auto q = db.query(k_sql_list);
  if (!q) return m_impl->error("list the domains in", q.error());
  q->bind_int(sql_count(limit)).bind_int(sql_count(offset));
  std::vector<Domain> out;
  for (;;) {
    auto row = q->step();
    if (!row) return m_impl->error("list the domains in", row.error());
    if (!*row) break;
    auto d = read_domain(*q, 0);
    if (!d) return m_impl->error("list the domains in", d.error());
    out.push_back(std::move(*d));
  }
  return out;
}

Result<std::optional<Domain>> Store::find(const dns::DomainRequest& request) const {
  Database& db = m_impl->db;
  auto q = db.query(k_sql_find);
  if (!q) return m_impl->error("read", q.error());
  q->bind_text(request.name.text()).bind_bool(request.wildcard);
  auto row = q->step();
  if (!row) return m_impl->error("read", row.error());
  if (!*row) return std::optional<Domain>();
  auto d = read_domain(*q, 0);
  if (!d) return m_impl->error("read", d.error());
  return std::optional<Domain>(std::move(*d));
}

Result<std::vector<DueDomain>> Store::due(UnixSeconds now, std::size_t limit,
                                          std::optional<DueCursor> after) const {
  Database& db = m_impl->db;
  auto q = db.query(k_sql_due);
  if (!q) return m_impl->error("read the due domains from", q.error());
  constexpr std::int64_t k_before_all = std::numeric_limits<std::int64_t>::min();
  q->bind_int(now)
      .bind_int(sql_count(limit))
      .bind_int(after ? after->next_check_at : k_before_all)
      .bind_int(after ? after->domain_id : k_before_all);
  std::vector<DueDomain> out;
  for (;;) {
    auto row = q->step();
    if (!row) return m_impl->error("read the due domains from", row.error());
    if (!*row) break;
    auto d = read_domain(*q, 0);
    if (!d) return m_impl->error("read the due domains from", d.error());
    DueDomain due{std::move(*d), read_state(*q, 9)};
    due.state.run_started_at = q->int_at(21);
    due.state.run_checks = q->int_at(22);
    out.push_back(std::move(due));
  }
  return out;
}

Result<std::optional<UnixSeconds>> Store::next_due() const {
  Database& db = m_impl->db;
  auto q = db.query(k_sql_next_due);
  if (!q) return m_impl->error("read", q.error());
  auto row = q->step();
  if (!row) return m_impl->error("read", row.error());
  if (!*row) return std::optional<UnixSeconds>();
  return std::optional<UnixSeconds>(q->int_at(0));
}

Status Store::write_checks(std::span<const CheckWrite> checks,
                           std::span<const OutboxRoute> routes) {
  if (auto r = m_impl->writable("write check results"); !r) return r;
  Database& db = m_impl->db;
  auto tx = Transaction::begin(db, Transaction::Kind::write);
  if (!tx) return m_impl->error("write check results to", tx.error());
  auto failed = [&](const std::string& subject, const Error& e) {
    return fail("cannot write check results to " + db.path() + " (at " + subject +
                "): " + e.message + "; nothing of this batch was written");
  };
  for (const CheckWrite& c : checks) {
    if (c.result_changed) {
      {
        auto q = db.query(k_sql_close_run);
        if (!q) return failed(c.subject, q.error());
        q->bind_int(c.domain_id).bind_text(c.subject);
        if (auto r = q->run(); !r) return failed(c.subject, r.error());
      }
      auto q = db.query(k_sql_write_state);
      if (!q) return failed(c.subject, q.error());
      q->bind_int(c.domain_id);
      bind_state(*q, c.state);
      q->bind_int(c.seen_updated_at).bind_int(c.state.run_started_at).bind_int(c.state.run_checks);
      if (auto r = q->run(); !r) return failed(c.subject, r.error());
    } else {
      auto q = db.query(k_sql_touch_state);
      if (!q) return failed(c.subject, q.error());
      q->bind_int(c.domain_id)
          .bind_int(c.state.last_checked_at)
          .bind_int(c.state.changed_at)
          .bind_int(c.state.next_check_at)
          .bind_int(c.state.consecutive_failures)
          .bind_bool(c.state.at_risk_reported)
          .bind_int(c.seen_updated_at)
          .bind_int(c.state.run_started_at)
          .bind_int(c.state.run_checks);
      if (auto r = q->run(); !r) return failed(c.subject, r.error());
    }
    if (auto r = insert_events(db, c.events, c.subject, routes); !r)
      return failed(c.subject, r.error());
  }
  if (auto r = tx->commit(); !r) return m_impl->error("write check results to", r.error());
  return Ok{};
}

Result<std::optional<DomainState>> Store::target_state(const std::string& target) const {
  Database& db = m_impl->db;
  auto q = db.query(k_sql_target_state);
  if (!q) return m_impl->error("read", q.error());
  q->bind_text(target);
  auto row = q->step();
  if (!row) return m_impl->error("read", row.error());
  if (!*row) return std::optional<DomainState>();
  return std::optional<DomainState>(read_state(*q, 0));
}

Status Store::write_target(const std::string& target, const DomainState& state,
                           std::span<const Event> events, std::span<const OutboxRoute> routes) {
  std::string doing = "write the state of provider target " + target + " to";
  if (auto r = m_impl->writable("write the state of provider target " + target); !r) return r;
  Database& db = m_impl->db;
  auto tx = Transaction::begin(db, Transaction::Kind::write);
  if (!tx) return m_impl->error(doing, tx.error());
  {
    auto q = db.query(k_sql_write_target);
    if (!q) return m_impl->error(doing, q.error());
    q->bind_text(target);
    bind_state(*q, state);
    if (auto r = q->run(); !r) return m_impl->error(doing, r.error());
  }
  if (auto r = insert_events(db, events, target, routes); !r)
    return m_impl->error(doing, r.error());
  if (auto r = tx->commit(); !r) return m_impl->error(doing, r.error());
  return Ok{};
}

Result<std::size_t> Store::count_pinned_to(const std::string& target) const {
  auto n = count_query(m_impl->db, k_sql_count_pinned, target);
  if (!n) return m_impl->error("count the domains pinned to " + target + " in", n.error());
  return n;
}

Result<Counts> Store::counts(UnixSeconds now) const {
  constexpr std::string_view k_doing = "count the domains in";
  Database& db = m_impl->db;
  // One read transaction: the figures come from one snapshot.
  auto tx = Transaction::begin(db, Transaction::Kind::read);
  if (!tx) return m_impl->error(k_doing, tx.error());
  Counts c;
  // (verdict, exposure) → count, of enabled domains; "" is "never checked".
  std::map<std::pair<std::string, std::string>, std::int64_t> groups;
  std::int64_t with_state = 0, due = 0, disabled = 0, disabled_due = 0, disabled_without_state = 0;
  {
    auto q = db.query(k_sql_count_states);
    if (!q) return m_impl->error(k_doing, q.error());
    for (;;) {
      auto row = q->step();
      if (!row) return m_impl->error(k_doing, row.error());
      if (!*row) break;
      groups[{q->text_at(0), q->text_at(1)}] += q->int_at(2);
      with_state += q->int_at(2);
    }
  }
  {
    auto q = db.query(k_sql_count_disabled);
    if (!q) return m_impl->error(k_doing, q.error());
    q->bind_int(now);
    for (;;) {
      auto row = q->step();
      if (!row) return m_impl->error(k_doing, row.error());
      if (!*row) break;
      const std::int64_t n = q->int_at(2), without_state = q->int_at(4);
      if (n > without_state) groups[{q->text_at(0), q->text_at(1)}] -= n - without_state;
      disabled += n;
      disabled_due += q->int_at(3);
      disabled_without_state += without_state;
    }
  }
  auto total = count_query(db, k_sql_count_domains);
  if (!total) return m_impl->error(k_doing, total.error());
  {
    auto q = db.query(k_sql_count_due);
    if (!q) return m_impl->error(k_doing, q.error());
    q->bind_int(now);
    auto row = q->step();
    if (!row) return m_impl->error(k_doing, row.error());
    if (*row) due = q->int_at(0);
  }
  c.domains = *total;
  c.enabled = c.domains - to_size(disabled);
  c.due = to_size(due - disabled_due);
  // A domain without a state row (only in a file edited by hand) has never
  // been checked.
  const std::int64_t enabled_without_state =
      static_cast<std::int64_t>(c.domains) - with_state - disabled_without_state;
  if (enabled_without_state > 0) groups[{"", "exposed"}] += enabled_without_state;
  for (const auto& [key, n] : groups) {
    if (n <= 0) continue;
    const auto& [verdict, exposure] = key;
    const std::size_t count = to_size(n);
    if (verdict.empty()) {
      c.unchecked += count;
      c.by_verdict_exposure.push_back({"unchecked", "unknown", count});
      continue;
    }
    if (verdict == "permitted") c.permitted += count;
    if (verdict == "denied") c.denied += count;
    if (verdict == "lookup_failed") c.failing += count;
    (exposure == "pinned" ? c.pinned : c.exposed) += count;
    c.by_verdict_exposure.push_back({verdict, exposure, count});
  }
  auto pending = count_query(db, k_sql_count_outbox, "pending");
  if (!pending) return m_impl->error(k_doing, pending.error());
  auto dead = count_query(db, k_sql_count_outbox, "dead");
  if (!dead) return m_impl->error(k_doing, dead.error());
  c.outbox_pending = *pending;
  c.outbox_dead = *dead;
  if (auto r = tx->commit(); !r) return m_impl->error(k_doing, r.error());
  return c;
}

Result<std::size_t> Store::prune_history(UnixSeconds before) {
  constexpr std::string_view k_doing = "prune the check history in";
  if (auto r = m_impl->writable("prune the check history"); !r) return propagate(r.error());
  Database& db = m_impl->db;
  auto q = db.query(k_sql_prune_history);
  if (!q) return m_impl->error(k_doing, q.error());
  q->bind_int(before);
  if (auto r = q->run(); !r) return m_impl->error(k_doing, r.error());
  return to_size(sqlite3_changes64(db.handle()));
}

Status Store::note_heartbeat(UnixSeconds now, const std::string& status_line) {
  constexpr std::string_view k_doing = "record the heartbeat in";
  if (auto r = m_impl->writable("record the heartbeat"); !r) return r;
  auto q = m_impl->db.query(k_sql_heartbeat);
  if (!q) return m_impl->error(k_doing, q.error());
  q->bind_int(getpid()).bind_int(now).bind_text(status_line);
  if (auto r = q->run(); !r) return m_impl->error(k_doing, r.error());
  return Ok{};
}

Result<bool> Store::integrity_ok() const {
  auto q = m_impl->db.query(k_sql_integrity);
  if (!q) return m_impl->error("check", q.error());
  // One row "ok", or one row per problem found.
  std::size_t rows = 0;
  bool ok = false;
  for (;;) {
    auto row = q->step();
    if (!row) return m_impl->error("check", row.error());
    if (!*row) break;
    ++rows;
    ok = q->text_at(0) == "ok";
  }
  return rows == 1 && ok;
}

Result<std::vector<OutboxRow>> Store::deliverable(UnixSeconds now, std::span<const std::string> endpoints,
                                                  std::size_t per_endpoint) const {
  constexpr std::string_view k_doing = "read the webhook outbox in";
  std::vector<OutboxRow> out;
  if (endpoints.empty() || per_endpoint == 0) return out;
  Database& db = m_impl->db;
  // One snapshot: a row written between the questions would break the order.
  auto tx = Transaction::begin(db, Transaction::Kind::read);
  if (!tx) return m_impl->error(k_doing, tx.error());
  for (const std::string& endpoint : endpoints) {
    auto disabled = count_query(db, k_sql_endpoint_disabled, endpoint);
    if (!disabled) return m_impl->error(k_doing, disabled.error());
    if (*disabled > 0) continue;
    {
      auto q = db.query(k_sql_endpoint_waits);
      if (!q) return m_impl->error(k_doing, q.error());
      q->bind_text(endpoint).bind_int(now);
      auto row = q->step();
      if (!row) return m_impl->error(k_doing, row.error());
      if (*row && q->int_at(0) > 0) continue;
    }
    auto q = db.query(k_sql_endpoint_due);
    if (!q) return m_impl->error(k_doing, q.error());
    q->bind_text(endpoint).bind_int(now).bind_int(sql_count(per_endpoint));
    for (;;) {
      auto row = q->step();
      if (!row) return m_impl->error(k_doing, row.error());
      if (!*row) break;
      OutboxRow r;
      r.id = q->int_at(0);
      r.event_id = q->int_at(1);
      r.endpoint = q->text_at(2);
      r.attempts = static_cast<int>(q->int_at(3));
      r.next_attempt_at = q->int_at(4);
      r.created_at = q->int_at(5);
      r.last_error = q->opt_text_at(6);
      r.event.subject = q->text_at(7);
      r.event.kind = q->text_at(8);
      // The schema's CHECKs hold severity and JSON validity; the fallbacks
      // only keep a hand-edited row from stopping every delivery.
      r.event.severity = parse_severity(q->text_at(9)).value_or(Severity::warning);
      r.event.at = q->int_at(10);
      r.event.data = nlohmann::json::parse(q->text_at(11), nullptr, false);
      if (r.event.data.is_discarded()) r.event.data = nlohmann::json::object();
      out.push_back(std::move(r));
    }
  }
  if (auto r = tx->commit(); !r) return m_impl->error(k_doing, r.error());
  std::sort(out.begin(), out.end(), [](const OutboxRow& a, const OutboxRow& b) { return a.id < b.id; });
  return out;
}

Status Store::record_deliveries(std::span<const OutboxUpdate> updates,
                                const std::optional<DisabledEndpoint>& disable) {
  constexpr std::string_view k_doing = "record webhook deliveries in";
  if (auto r = m_impl->writable("record webhook deliveries"); !r) return r;
  Database& db = m_impl->db;
  auto tx = Transaction::begin(db, Transaction::Kind::write);
  if (!tx) return m_impl->error(k_doing, tx.error());
  for (const OutboxUpdate& u : updates) {
    auto q = db.query(k_sql_update_outbox);
    if (!q) return m_impl->error(k_doing, q.error());
    q->bind_int(u.id)
        .bind_text(to_string(u.state))
        .bind_int(u.attempted ? 1 : 0)
        .bind_int(u.next_attempt_at)
        .bind_opt_text(u.last_error)
        .bind_int(u.at);
    if (auto r = q->run(); !r) return m_impl->error(k_doing, r.error());
  }
  if (disable) {
    auto q = db.query(k_sql_disable_endpoint);
    if (!q) return m_impl->error(k_doing, q.error());
    q->bind_text(disable->name).bind_text(disable->url_sha256).bind_int(disable->disabled_at).bind_text(disable->reason);
    if (auto r = q->run(); !r) return m_impl->error(k_doing, r.error());
  }
  if (auto r = tx->commit(); !r) return m_impl->error(k_doing, r.error());
  return Ok{};
}

Result<std::vector<DisabledEndpoint>> Store::disabled_endpoints() const {
  constexpr std::string_view k_doing = "read the disabled webhook endpoints in";
  auto q = m_impl->db.query(k_sql_disabled_endpoints);
  if (!q) return m_impl->error(k_doing, q.error());
  std::vector<DisabledEndpoint> out;
  for (;;) {
    auto row = q->step();
    if (!row) return m_impl->error(k_doing, row.error());
    if (!*row) break;
    out.push_back({q->text_at(0), q->text_at(1), q->int_at(2), q->text_at(3)});
  }
  return out;
}

Status Store::enable_endpoint(const std::string& name) {
  const std::string doing = "re-enable webhook endpoint " + name + " in";
  if (auto r = m_impl->writable("re-enable webhook endpoint " + name); !r) return r;
  auto q = m_impl->db.query(k_sql_enable_endpoint);
  if (!q) return m_impl->error(doing, q.error());
  q->bind_text(name);
  if (auto r = q->run(); !r) return m_impl->error(doing, r.error());
  return Ok{};
}

}  // namespace caad::store
