// caad-status's read-only queries (see the header).
//
// The store validates the file first, because it is what knows the schema
// versions and the application id; the queries then run on a connection of
// this module's own, opened with SQLITE_OPEN_READONLY, so that nothing here
// can write the daemon's file (not even a journal-mode switch). Each command
// reads in one transaction, so its figures come from one snapshot even while
// the daemon commits batches.
//
// What is computed here rather than in SQL: the renewal time, which must be
// the daemon's own (schedule::renewal_time, with the configured schedule),
// and therefore the "at risk soonest" order and --renewing-within. The
// summary reads domain_state once (see k_sql_state_counts): at a million
// domains that table is about a gigabyte of result_json, and reading it is
// what the summary costs.
#include "lib/status/reader.h"

#include <sqlite3.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <deque>
#include <filesystem>
#include <fstream>
#include <limits>
#include <system_error>
#include <tuple>
#include <utility>
#include <variant>

#include "lib/dns/name.h"
#include "lib/schedule/schedule.h"
#include "lib/store/sqlite_handles.h"
#include "lib/store/store.h"

namespace caad::status {
namespace {

using store::Connection;
using store::k_busy_timeout_ms;
using store::StatementPtr;

Unexpected<Error> propagate(const Error& e) {
  return {e};
}

using Param = std::variant<std::int64_t, std::string>;

// SQLite's LIMIT: -1 means none.
std::int64_t sql_limit(std::size_t n) {
  constexpr auto k_max = static_cast<std::size_t>(std::numeric_limits<std::int64_t>::max());
  return n == 0 || n > k_max ? -1 : static_cast<std::int64_t>(n);
}

std::size_t to_size(std::int64_t n) {
  return n < 0 ? 0 : static_cast<std::size_t>(n);
}

// One prepared statement, used once: binds in order (?1, ?2...), steps,
// reads columns. Bound text is kept here until the statement is finalized,
// so it is bound without a copy (a null destructor is SQLITE_STATIC, spelled
// without the macro's old-style cast).
class Statement {
 public:
  static Result<Statement> prepare(sqlite3* db, const std::string& sql) {
    sqlite3_stmt* raw = nullptr;
    int rc = sqlite3_prepare_v2(db, sql.c_str(), -1, &raw, nullptr);
    StatementPtr stmt(raw);
    if (rc != SQLITE_OK) return fail(sqlite3_errmsg(db));
    return Statement(db, std::move(stmt));
  }

  Statement& bind(const Param& p) {
    if (const auto* i = std::get_if<std::int64_t>(&p)) return bind_int(*i);
    return bind_text(std::get<std::string>(p));
  }
  Statement& bind_int(std::int64_t v) {
    return note(sqlite3_bind_int64(m_stmt.get(), m_next++, v));
  }
  Statement& bind_text(std::string v) {
    const std::string& kept = m_texts.emplace_back(std::move(v));
    return note(sqlite3_bind_text64(m_stmt.get(), m_next++, kept.data(), kept.size(), nullptr,
                                    SQLITE_UTF8));
  }

  // One step: true when a row is ready, false when the statement is done.
  Result<bool> step() {
    if (m_bind_rc != SQLITE_OK) return fail(sqlite3_errstr(m_bind_rc));
    int rc = sqlite3_step(m_stmt.get());
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    return fail(sqlite3_errmsg(m_db));
  }

  std::int64_t int_at(int col) const { return sqlite3_column_int64(m_stmt.get(), col); }
  bool is_null(int col) const { return sqlite3_column_type(m_stmt.get(), col) == SQLITE_NULL; }
  std::optional<std::int64_t> opt_int_at(int col) const {
    if (is_null(col)) return std::nullopt;
    return int_at(col);
  }
  std::string text_at(int col) const {
    // sqlite3_column_text first, then the byte count, as sqlite3.h asks.
    const unsigned char* p = sqlite3_column_text(m_stmt.get(), col);
    if (p == nullptr) return {};
    int n = sqlite3_column_bytes(m_stmt.get(), col);
    return std::string(reinterpret_cast<const char*>(p), static_cast<std::size_t>(n));
  }
  std::optional<std::string> opt_text_at(int col) const {
    if (is_null(col)) return std::nullopt;
    return text_at(col);
  }

 private:
  Statement(sqlite3* db, StatementPtr stmt) : m_db(db), m_stmt(std::move(stmt)) {}
  Statement& note(int rc) {
    if (m_bind_rc == SQLITE_OK) m_bind_rc = rc;
    return *this;
  }

  sqlite3* m_db;
  // Declared before the statement, so destroyed after it is finalized.
  std::deque<std::string> m_texts;  // a deque never moves its elements
  StatementPtr m_stmt;
  int m_next = 1;
  int m_bind_rc = SQLITE_OK;  // the first failed bind, reported by step()
};

// A read transaction: the queries inside it see one snapshot. Ended (with
// ROLLBACK, since nothing was written) when it goes out of scope.
class ReadTransaction {
 public:
  static Result<ReadTransaction> begin(sqlite3* db) {
    if (sqlite3_exec(db, "BEGIN", nullptr, nullptr, nullptr) != SQLITE_OK) {
      return fail(sqlite3_errmsg(db));
    }
    return ReadTransaction(db);
  }
  ReadTransaction(ReadTransaction&& other) noexcept : m_db(std::exchange(other.m_db, nullptr)) {}
  ReadTransaction& operator=(ReadTransaction&&) = delete;
  ~ReadTransaction() {
    if (m_db != nullptr && sqlite3_get_autocommit(m_db) == 0) {
      sqlite3_exec(m_db, "ROLLBACK", nullptr, nullptr, nullptr);
    }
  }

 private:
  explicit ReadTransaction(sqlite3* db) : m_db(db) {}
  sqlite3* m_db;
};

// ---- SQL ----------------------------------------------------------------

// A domain and its state, in the order read_domain() reads them. A domain
// without a state row (possible only in a file written by hand) reads as
// never checked.
constexpr const char k_domain_columns[] =
    "d.id, d.name, d.wildcard, d.cas, d.not_after, d.renew_at, d.enabled, "
    "coalesce(s.verdict, ''), coalesce(s.exposure, 'exposed'), s.relevant_owner, s.failure_kind, "
    "coalesce(s.reason, ''), coalesce(s.last_checked_at, 0), coalesce(s.changed_at, 0), "
    "coalesce(s.next_check_at, 0), coalesce(s.consecutive_failures, 0)";
constexpr int k_domain_column_count = 16;

// The summary is shaped for a million domains, whose state rows carry about
// 1 KB of result_json each, so that domain_state is read once: one pass
// grouped by verdict and exposure gives the counts and, in the same pass,
// the ids of the denied and failing domains, which are then fetched by id
// (an index on (verdict, exposure), should the schema get one, turns that
// pass into a scan of the index alone). "Due" comes from the next_check_at
// index, the total from the smallest index of domains, and the few disabled
// domains are subtracted, found by a pass over domains (which holds no large
// columns) instead of joining every domain to its state.
constexpr const char k_sql_total[] = "SELECT count(*) FROM domains";
constexpr const char k_sql_state_counts[] =
    "SELECT verdict, exposure, count(*), "
    "group_concat(CASE WHEN verdict IN ('denied', 'lookup_failed') THEN domain_id END) "
    "FROM domain_state GROUP BY verdict, exposure";
constexpr const char k_sql_due[] = "SELECT count(*) FROM domain_state WHERE next_check_at <= ?1";
constexpr const char k_sql_disabled_counts[] =
    "SELECT coalesce(s.verdict, ''), coalesce(s.exposure, 'exposed'), count(*), "
    "coalesce(sum(s.next_check_at <= ?1), 0) "
    "FROM domains AS d LEFT JOIN domain_state AS s ON s.domain_id = d.id WHERE d.enabled = 0 "
    "GROUP BY 1, 2";
// The count of pinned domains matches the partial index domain_state_pinned_owner.
constexpr const char k_sql_targets[] =
    "SELECT t.name, t.verdict, t.exposure, t.relevant_owner, t.failure_kind, t.reason, "
    "t.last_checked_at, t.changed_at, t.consecutive_failures, "
    "(SELECT count(*) FROM domain_state AS p WHERE p.exposure = 'pinned' AND "
    "p.relevant_owner = t.name) "
    "FROM provider_targets AS t ORDER BY t.name";
// Both walk the outbox_due index (state, next_attempt_at).
constexpr const char k_sql_outbox_count[] = "SELECT count(*) FROM outbox WHERE state = ?1";
constexpr const char k_sql_daemon[] =
    "SELECT pid, heartbeat_at, status_line, last_sweep_at FROM daemon WHERE id = 1";
// A subject's history, newest first: the run going on, kept in domain_state
// (schema/0005_history_runs.sql), then the finished runs in check_history.
// Rows from before runs are single checks (first_checked_at NULL), and one
// without result_json said what the newest earlier row with one said
// (CheckWrite::result_changed): the reason comes from there.
constexpr const char k_sql_history[] =
    "SELECT first_checked_at, checked_at, checks, verdict, exposure, failure_kind, reason FROM ("
    "SELECT s.run_started_at AS first_checked_at, s.last_checked_at AS checked_at, "
    "s.run_checks AS checks, s.verdict, s.exposure, s.failure_kind, s.reason, 1 AS current, "
    "0 AS id FROM domains AS d JOIN domain_state AS s ON s.domain_id = d.id "
    "WHERE d.name = ?3 AND d.wildcard = ?4 AND s.run_checks > 0 "
    "UNION ALL "
    "SELECT coalesce(h.first_checked_at, h.checked_at), h.checked_at, h.checks, h.verdict, "
    "h.exposure, h.failure_kind, "
    "CASE WHEN h.result_json <> '' THEN json_extract(h.result_json, '$.reason') ELSE "
    "(SELECT json_extract(p.result_json, '$.reason') FROM check_history AS p "
    "WHERE p.subject = h.subject AND p.result_json <> '' AND (p.checked_at, p.id) < (h.checked_at, h.id) "
    "ORDER BY p.checked_at DESC, p.id DESC LIMIT 1) END, 0, h.id "
    "FROM check_history AS h WHERE h.subject = ?1) "
    "ORDER BY checked_at DESC, current DESC, id DESC LIMIT ?2";
constexpr const char k_sql_newest_result[] =
    "SELECT result_json FROM check_history WHERE subject = ?1 AND result_json <> '' "
    "ORDER BY checked_at DESC, id DESC LIMIT 1";
constexpr const char k_sql_subject_events[] =
    "SELECT id, subject, kind, severity, at, data_json FROM events WHERE subject = ?1 "
    "ORDER BY at DESC, id DESC LIMIT ?2";

// ", ?" n times after the first "?": the placeholders of an IN list.
std::string placeholders(std::size_t n) {
  std::string out;
  for (std::size_t i = 0; i < n; ++i) out += i == 0 ? "?" : ", ?";
  return out;
}

// ---- Rows -----------------------------------------------------------------

std::vector<std::string> parse_cas(const std::string& text) {
  std::vector<std::string> out;
  if (text == "[]") return out;  // the common case, without a parse
  auto j = nlohmann::json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_array()) return out;
  for (const auto& e : j) {
    if (e.is_string()) out.push_back(e.get<std::string>());
  }
  return out;
}

// Computes renewal times with the daemon's rule. renewal_time() reads only
// the two dates of a DomainSpec, so one spec with a placeholder name is
// reused instead of parsing every domain's name.
class RenewalRule {
 public:
  explicit RenewalRule(const config::ScheduleConfig& schedule)
      : m_schedule(schedule),
        m_spec{dns::DomainRequest{*dns::Name::from_dns("renewal.invalid"), false},
               {},
               std::nullopt,
               std::nullopt,
               true} {}

  std::optional<UnixSeconds> operator()(std::optional<UnixSeconds> not_after,
                                        std::optional<UnixSeconds> renew_at) {
    m_spec.not_after = not_after;
    m_spec.renew_at = renew_at;
    return schedule::renewal_time(m_spec, m_schedule);
  }

 private:
  const config::ScheduleConfig& m_schedule;
  store::DomainSpec m_spec;
};

DomainRow read_domain(const Statement& q, RenewalRule& renewal) {
  DomainRow d;
  d.id = q.int_at(0);
  d.name = q.text_at(1);
  d.wildcard = q.int_at(2) != 0;
  d.subject = d.wildcard ? "*." + d.name : d.name;
  d.cas = parse_cas(q.text_at(3));
  d.not_after = q.opt_int_at(4);
  d.renew_at = q.opt_int_at(5);
  d.enabled = q.int_at(6) != 0;
  d.verdict = q.text_at(7);
  d.exposure = q.text_at(8);
  d.relevant_owner = q.opt_text_at(9);
  d.failure_kind = q.opt_text_at(10);
  d.reason = q.text_at(11);
  d.last_checked_at = q.int_at(12);
  d.changed_at = q.int_at(13);
  d.next_check_at = q.int_at(14);
  d.consecutive_failures = static_cast<int>(q.int_at(15));
  d.renewal = renewal(d.not_after, d.renew_at);
  return d;
}

EventRow read_event(const Statement& q) {
  EventRow e;
  e.id = q.int_at(0);
  e.subject = q.text_at(1);
  e.kind = q.text_at(2);
  e.severity = q.text_at(3);
  e.at = q.int_at(4);
  // The schema keeps data_json valid; an object is still checked for, so a
  // renderer can index it without care.
  e.data = nlohmann::json::parse(q.text_at(5), nullptr, false);
  if (e.data.is_discarded() || !e.data.is_object()) e.data = nlohmann::json::object();
  return e;
}

// Renewal order: known renewals soonest first, unknown ones after; then by name.
bool renewal_before(const DomainRow& a, const DomainRow& b) {
  if (a.renewal.has_value() != b.renewal.has_value()) return a.renewal.has_value();
  if (a.renewal && *a.renewal != *b.renewal) return *a.renewal < *b.renewal;
  return std::tie(a.name, a.wildcard) < std::tie(b.name, b.wildcard);
}

bool comes_before(SortKey key, const DomainRow& a, const DomainRow& b) {
  switch (key) {
    case SortKey::name:
      break;
    case SortKey::renewal:
      return renewal_before(a, b);
    case SortKey::changed:
      // Most recent change first; never checked (0) last.
      if (a.changed_at != b.changed_at) return a.changed_at > b.changed_at;
      break;
    case SortKey::verdict:
      if (verdict_rank(a.verdict) != verdict_rank(b.verdict)) {
        return verdict_rank(a.verdict) < verdict_rank(b.verdict);
      }
      return renewal_before(a, b);
  }
  return std::tie(a.name, a.wildcard) < std::tie(b.name, b.wildcard);
}

// Sorts by `key` and keeps the first `limit` (0: all). A partial sort when
// the limit is small: the summary wants the ten soonest of many.
void sort_and_limit(std::vector<DomainRow>& rows, SortKey key, std::size_t limit) {
  auto less = [key](const DomainRow& a, const DomainRow& b) { return comes_before(key, a, b); };
  if (limit > 0 && limit < rows.size()) {
    std::partial_sort(rows.begin(), rows.begin() + static_cast<std::ptrdiff_t>(limit), rows.end(),
                      less);
    rows.resize(limit);
  } else {
    std::sort(rows.begin(), rows.end(), less);
  }
}

// The verdicts `filter` asks for, as stored ("" for unchecked); an empty set
// means any. --failing narrows --verdict to the problems.
std::vector<std::string> wanted_verdicts(const ListFilter& filter, bool& none) {
  std::vector<std::string> out;
  for (const auto& v : filter.verdicts) out.push_back(v == "unchecked" ? std::string() : v);
  none = false;
  if (filter.failing) {
    if (out.empty()) return {"denied", "lookup_failed"};
    std::erase_if(out, [](const std::string& v) { return v != "denied" && v != "lookup_failed"; });
    none = out.empty();
  }
  return out;
}

// A WAL-mode file can be read only with its -shm file, which SQLite creates
// on first open and removes when the last connection closes. With the daemon
// stopped, a user who may read the database but not write its directory
// (the caad group, for instance) cannot get one, and SQLite would only say
// "attempt to write a readonly database". This says what is going on.
std::optional<std::string> wal_unreadable(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  char header[20] = {};
  // Bytes 18 and 19 of the header: the read and write format versions, 2 in WAL mode.
  if (!file.read(header, sizeof header) || header[18] != 2 || header[19] != 2) return std::nullopt;
  std::error_code ec;
  if (std::filesystem::exists(path + "-shm", ec) || ec) return std::nullopt;
  std::filesystem::path dir = std::filesystem::path(path).parent_path();
  if (dir.empty()) dir = ".";
  if (::access(dir.c_str(), W_OK) == 0) return std::nullopt;
  return "cannot read database " + path + " while the daemon is stopped: SQLite needs to create " +
         path + "-shm and this user may not write to " + dir.string() +
         " (run caad-status while caad run runs, or as the user it runs as)";
}

}  // namespace

// ---- Reader ---------------------------------------------------------------

struct Reader::Impl {
  std::string path;
  int version = 0;
  Connection db;

  // "cannot read /var/lib/caad/caad.db: <why>"
  Unexpected<Error> error(const std::string& why) const {
    return fail("cannot read " + path + ": " + why);
  }
  Result<Statement> prepare(const std::string& sql) const {
    auto s = Statement::prepare(db.get(), sql);
    if (!s) return error(s.error().message);
    return s;
  }
  // Runs `q` and calls `row` for each result row.
  template <class F>
  Status each(Statement& q, F&& row) const {
    for (;;) {
      auto more = q.step();
      if (!more) return error(more.error().message);
      if (!*more) return Ok{};
      row(q);
    }
  }
  Result<std::size_t> count(const char* sql, const std::string& arg) const {
    auto q = prepare(sql);
    if (!q) return propagate(q.error());
    q->bind_text(arg);
    std::size_t n = 0;
    if (auto r = each(*q, [&](const Statement& s) { n = to_size(s.int_at(0)); }); !r) {
      return propagate(r.error());
    }
    return n;
  }
  // Also collects the ids of denied and failing domains, comma-separated.
  Status read_counts(UnixSeconds now, DomainCounts& c, std::string& problem_ids) const;
  Result<ReadTransaction> begin() const {
    auto tx = ReadTransaction::begin(db.get());
    if (!tx) return error(tx.error().message);
    return tx;
  }
};

namespace {

// Counts of state rows by verdict and exposure, or the part of them that
// belongs to disabled domains.
struct VerdictTally {
  std::size_t permitted = 0, denied = 0, lookup_failed = 0, pinned = 0, exposed = 0, due = 0;

  void add(const std::string& verdict, const std::string& exposure, std::size_t n) {
    if (verdict.empty()) return;  // never checked: no verdict, no exposure yet
    if (verdict == "permitted") permitted += n;
    if (verdict == "denied") denied += n;
    if (verdict == "lookup_failed") lookup_failed += n;
    if (exposure == "pinned") pinned += n;
    if (exposure == "exposed") exposed += n;
  }
};

// a - b, never below zero (the two come from one snapshot, so b <= a).
std::size_t minus(std::size_t a, std::size_t b) {
  return a > b ? a - b : 0;
}

}  // namespace

// The domain counts (see k_sql_total), inside the caller's transaction.
Status Reader::Impl::read_counts(UnixSeconds now, DomainCounts& c, std::string& problem_ids) const {
  const Impl& m = *this;
  auto total = m.prepare(k_sql_total);
  if (!total) return propagate(total.error());
  if (auto r = m.each(*total, [&](const Statement& row) { c.total = to_size(row.int_at(0)); });
      !r) {
    return r;
  }
  VerdictTally all, disabled;
  std::size_t disabled_domains = 0;
  auto states = m.prepare(k_sql_state_counts);
  if (!states) return propagate(states.error());
  auto r = m.each(*states, [&](const Statement& row) {
    all.add(row.text_at(0), row.text_at(1), to_size(row.int_at(2)));
    if (!row.is_null(3)) {
      if (!problem_ids.empty()) problem_ids += ',';
      problem_ids += row.text_at(3);
    }
  });
  if (!r) return r;
  auto due = m.prepare(k_sql_due);
  if (!due) return propagate(due.error());
  due->bind_int(now);
  if (r = m.each(*due, [&](const Statement& row) { all.due = to_size(row.int_at(0)); }); !r)
    return r;
  auto off = m.prepare(k_sql_disabled_counts);
  if (!off) return propagate(off.error());
  off->bind_int(now);
  r = m.each(*off, [&](const Statement& row) {
    const std::size_t n = to_size(row.int_at(2));
    disabled_domains += n;
    disabled.add(row.text_at(0), row.text_at(1), n);
    disabled.due += to_size(row.int_at(3));
  });
  if (!r) return r;

  c.enabled = minus(c.total, disabled_domains);
  c.permitted = minus(all.permitted, disabled.permitted);
  c.denied = minus(all.denied, disabled.denied);
  c.lookup_failed = minus(all.lookup_failed, disabled.lookup_failed);
  c.pinned = minus(all.pinned, disabled.pinned);
  c.exposed = minus(all.exposed, disabled.exposed);
  c.due = minus(all.due, disabled.due);
  // Never checked, or (in a file written by hand) without a state row.
  c.unchecked = minus(c.enabled, c.permitted + c.denied + c.lookup_failed);
  return Ok{};
}

Reader::Reader(std::unique_ptr<Impl> impl) : m_impl(std::move(impl)) {}
Reader::~Reader() = default;

const std::string& Reader::path() const {
  return m_impl->path;
}

int Reader::schema_version() const {
  return m_impl->version;
}

Result<std::unique_ptr<Reader>, OpenError> Reader::open(const std::string& path) {
  using Kind = OpenError::Kind;
  auto failed = [](Kind kind, std::string message) {
    return Unexpected<OpenError>{OpenError{kind, std::move(message)}};
  };
  if (path.empty()) return failed(Kind::missing, "the database path is empty");
  std::error_code ec;
  auto st = std::filesystem::status(path, ec);
  if (st.type() == std::filesystem::file_type::not_found) {
    return failed(Kind::missing, "database " + path + " does not exist");
  }
  if (st.type() == std::filesystem::file_type::directory) {
    return failed(Kind::unreadable, path + " is a directory, not a caad database");
  }
  // SQLite would only say "unable to open database file".
  if (::access(path.c_str(), R_OK) != 0) {
    const int e = errno;
    return failed(Kind::missing, "cannot read database " + path + ": " + std::strerror(e));
  }
  if (auto why = wal_unreadable(path)) return failed(Kind::missing, *why);
  int version = 0;
  {
    auto store = store::Store::open(path, store::Mode::read_only);
    if (!store) return failed(Kind::unreadable, store.error().message);
    version = (*store)->schema_version();
  }
  sqlite3* raw = nullptr;
  int rc = sqlite3_open_v2(path.c_str(), &raw, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, nullptr);
  Connection connection(raw);  // sqlite3_open_v2 allocates a handle even when it fails
  if (rc != SQLITE_OK) {
    return failed(Kind::unreadable,
                  "cannot open database " + path + ": " +
                      (raw != nullptr ? sqlite3_errmsg(raw) : sqlite3_errstr(rc)));
  }
  sqlite3_busy_timeout(raw, k_busy_timeout_ms);
  auto impl = std::make_unique<Impl>(Impl{path, version, std::move(connection)});
  return std::unique_ptr<Reader>(new Reader(std::move(impl)));
}

Result<Summary> Reader::summary(UnixSeconds now, const config::ScheduleConfig& schedule,
                                std::size_t at_risk_limit) {
  const Impl& m = *m_impl;
  auto tx = m.begin();
  if (!tx) return propagate(tx.error());
  Summary s;
  // The absolute path: "caad.db" alone would not say which directory.
  std::error_code ec;
  auto absolute = std::filesystem::absolute(m.path, ec);
  s.database = ec ? m.path : absolute.string();
  s.schema = m.version;

  std::string problem_ids;
  if (auto r = m.read_counts(now, s.domains, problem_ids); !r) return propagate(r.error());
  {
    auto q = m.prepare(std::string("SELECT ") + k_domain_columns +
                       " FROM domains AS d LEFT JOIN domain_state AS s ON s.domain_id = d.id "
                       "WHERE d.id IN (SELECT value FROM json_each(?1)) AND d.enabled = 1");
    if (!q) return propagate(q.error());
    q->bind_text("[" + problem_ids + "]");
    RenewalRule renewal(schedule);
    auto r = m.each(*q, [&](const Statement& row) {
      s.at_risk.push_back(read_domain(row, renewal));
      if (!s.at_risk.back().renewal) ++s.at_risk_unknown_renewal;
    });
    if (!r) return propagate(r.error());
    s.at_risk_total = s.at_risk.size();
    sort_and_limit(s.at_risk, SortKey::renewal, at_risk_limit);
  }
  {
    auto q = m.prepare(k_sql_targets);
    if (!q) return propagate(q.error());
    auto r = m.each(*q, [&](const Statement& row) {
      TargetRow t;
      t.name = row.text_at(0);
      t.verdict = row.text_at(1);
      t.exposure = row.text_at(2);
      t.relevant_owner = row.opt_text_at(3);
      t.failure_kind = row.opt_text_at(4);
      t.reason = row.text_at(5);
      t.last_checked_at = row.int_at(6);
      t.changed_at = row.int_at(7);
      t.consecutive_failures = static_cast<int>(row.int_at(8));
      t.pinned_domains = to_size(row.int_at(9));
      s.targets.push_back(std::move(t));
    });
    if (!r) return propagate(r.error());
  }
  auto pending = m.count(k_sql_outbox_count, "pending");
  if (!pending) return propagate(pending.error());
  auto dead = m.count(k_sql_outbox_count, "dead");
  if (!dead) return propagate(dead.error());
  s.outbox = OutboxCounts{*pending, *dead};
  {
    auto q = m.prepare(k_sql_daemon);
    if (!q) return propagate(q.error());
    auto r = m.each(*q, [&](const Statement& row) {
      s.daemon.pid = row.opt_int_at(0);
      s.daemon.heartbeat_at = row.int_at(1);
      s.daemon.status_line = row.text_at(2);
      s.daemon.last_sweep_at = row.int_at(3);
    });
    if (!r) return propagate(r.error());
  }
  return s;
}

Result<std::vector<DomainRow>> Reader::list(const ListFilter& filter, UnixSeconds now,
                                            const config::ScheduleConfig& schedule) {
  const Impl& m = *m_impl;
  bool none = false;
  std::vector<std::string> verdicts = wanted_verdicts(filter, none);
  if (none) return std::vector<DomainRow>();

  std::string sql = std::string("SELECT ") + k_domain_columns +
                    " FROM domains AS d LEFT JOIN domain_state AS s ON s.domain_id = d.id WHERE 1";
  std::vector<Param> params;
  auto in_list = [&](const std::string& column, const std::vector<std::string>& values) {
    sql += " AND " + column + " IN (" + placeholders(values.size()) + ")";
    for (const auto& v : values) params.emplace_back(v);
  };
  if (filter.exposure) {
    sql += " AND coalesce(s.verdict, '') <> '' AND s.exposure = ?";
    params.emplace_back(*filter.exposure);
  }
  if (filter.changed_since) {
    sql += " AND coalesce(s.verdict, '') <> '' AND s.changed_at >= ?";
    params.emplace_back(now - *filter.changed_since);
  }
  if (!filter.ca) {
    if (!verdicts.empty()) in_list("coalesce(s.verdict, '')", verdicts);
  } else {
    // The CA's own verdict in the last result; or never checked and
    // configured for the CA (an empty ca list means every CA).
    std::vector<std::string> checked = verdicts;
    std::erase(checked, std::string());
    const bool any = verdicts.empty();
    const bool unchecked = any || std::find(verdicts.begin(), verdicts.end(), "") != verdicts.end();
    std::string branch_checked = "0";
    if (any || !checked.empty()) {
      // CASE keeps json_each from ever seeing the empty result_json of a
      // domain that was never checked.
      branch_checked =
          "EXISTS (SELECT 1 FROM json_each(CASE WHEN coalesce(s.result_json, '') = '' THEN '{}' "
          "ELSE s.result_json END, '$.cas') AS j WHERE json_extract(j.value, '$.ca') = ?";
      params.emplace_back(*filter.ca);
      if (!any) {
        branch_checked +=
            " AND json_extract(j.value, '$.verdict') IN (" + placeholders(checked.size()) + ")";
        for (const auto& v : checked) params.emplace_back(v);
      }
      branch_checked += ")";
    }
    std::string branch_unchecked = "0";
    if (unchecked) {
      branch_unchecked =
          "(coalesce(s.verdict, '') = '' AND (json_array_length(d.cas) = 0 OR "
          "EXISTS (SELECT 1 FROM json_each(d.cas) AS c WHERE c.value = ?)))";
      params.emplace_back(*filter.ca);
    }
    sql += " AND (" + branch_checked + " OR " + branch_unchecked + ")";
  }

  auto tx = m.begin();
  if (!tx) return propagate(tx.error());
  auto q = m.prepare(sql);
  if (!q) return propagate(q.error());
  for (const auto& p : params) q->bind(p);
  std::vector<DomainRow> rows;
  RenewalRule renewal(schedule);
  auto r = m.each(*q, [&](const Statement& row) {
    DomainRow d = read_domain(row, renewal);
    if (filter.renewing_within && (!d.renewal || *d.renewal > now + *filter.renewing_within)) {
      return;
    }
    rows.push_back(std::move(d));
  });
  if (!r) return propagate(r.error());
  sort_and_limit(rows, filter.sort, filter.limit);
  return rows;
}

Result<std::optional<DomainDetail>> Reader::show(const std::string& subject,
                                                 const config::ScheduleConfig& schedule,
                                                 std::size_t limit) {
  const Impl& m = *m_impl;
  const bool wildcard = subject.starts_with("*.");
  const std::string name = wildcard ? subject.substr(2) : subject;
  auto tx = m.begin();
  if (!tx) return propagate(tx.error());

  DomainDetail detail;
  detail.subject = subject;
  {
    auto q = m.prepare(std::string("SELECT ") + k_domain_columns +
                       ", coalesce(s.result_json, '') FROM domains AS d "
                       "LEFT JOIN domain_state AS s ON s.domain_id = d.id "
                       "WHERE d.name = ?1 AND d.wildcard = ?2");
    if (!q) return propagate(q.error());
    q->bind_text(name).bind_int(wildcard ? 1 : 0);
    RenewalRule renewal(schedule);
    auto r = m.each(*q, [&](const Statement& row) {
      detail.domain = read_domain(row, renewal);
      detail.last_check = parse_check_detail(row.text_at(k_domain_column_count));
    });
    if (!r) return propagate(r.error());
  }
  {
    auto q = m.prepare(k_sql_history);
    if (!q) return propagate(q.error());
    q->bind_text(subject).bind_int(sql_limit(limit)).bind_text(name).bind_int(wildcard ? 1 : 0);
    auto r = m.each(*q, [&](const Statement& row) {
      detail.history.push_back(HistoryRow{row.int_at(0), row.int_at(1), row.int_at(2),
                                          row.text_at(3), row.text_at(4), row.opt_text_at(5),
                                          row.text_at(6)});
    });
    if (!r) return propagate(r.error());
  }
  if (!detail.last_check) {
    // Removed (or its state lost): the newest recorded check still says
    // what the CA would have seen.
    auto q = m.prepare(k_sql_newest_result);
    if (!q) return propagate(q.error());
    q->bind_text(subject);
    auto r = m.each(
        *q, [&](const Statement& row) { detail.last_check = parse_check_detail(row.text_at(0)); });
    if (!r) return propagate(r.error());
  }
  {
    auto q = m.prepare(k_sql_subject_events);
    if (!q) return propagate(q.error());
    q->bind_text(subject).bind_int(sql_limit(limit));
    auto r = m.each(*q, [&](const Statement& row) { detail.events.push_back(read_event(row)); });
    if (!r) return propagate(r.error());
  }
  if (!detail.domain && detail.history.empty() && detail.events.empty()) {
    return std::optional<DomainDetail>();
  }
  return std::optional<DomainDetail>(std::move(detail));
}

Result<std::vector<EventRow>> Reader::events(const EventFilter& filter) {
  const Impl& m = *m_impl;
  std::string sql = "SELECT id, subject, kind, severity, at, data_json FROM events WHERE at >= ?";
  std::vector<Param> params{filter.since};
  if (!filter.kinds.empty()) {
    sql += " AND kind IN (" + placeholders(filter.kinds.size()) + ")";
    for (const auto& k : filter.kinds) params.emplace_back(k);
  }
  // The newest `limit`, shown oldest first.
  sql += " ORDER BY at DESC, id DESC LIMIT ?";
  params.emplace_back(sql_limit(filter.limit));
  auto q = m.prepare(sql);
  if (!q) return propagate(q.error());
  for (const auto& p : params) q->bind(p);
  std::vector<EventRow> rows;
  auto r = m.each(*q, [&](const Statement& row) { rows.push_back(read_event(row)); });
  if (!r) return propagate(r.error());
  std::reverse(rows.begin(), rows.end());
  return rows;
}

Result<std::vector<OutboxRow>> Reader::outbox(const OutboxFilter& filter) {
  const Impl& m = *m_impl;
  std::vector<std::string> states = filter.states;
  if (states.empty()) states = {"pending", "dead"};
  std::string sql =
      "SELECT o.id, o.event_id, o.endpoint, o.state, o.attempts, o.next_attempt_at, o.last_error, "
      "o.created_at, o.delivered_at, coalesce(e.kind, ''), coalesce(e.subject, ''), "
      "coalesce(e.severity, '') FROM outbox AS o LEFT JOIN events AS e ON e.id = o.event_id "
      "WHERE o.state IN (" +
      placeholders(states.size()) + ") ORDER BY o.id DESC LIMIT ?";
  auto q = m.prepare(sql);
  if (!q) return propagate(q.error());
  for (const auto& s : states) q->bind_text(s);
  q->bind_int(sql_limit(filter.limit));
  std::vector<OutboxRow> rows;
  auto r = m.each(*q, [&](const Statement& row) {
    OutboxRow o;
    o.id = row.int_at(0);
    o.event_id = row.int_at(1);
    o.endpoint = row.text_at(2);
    o.state = row.text_at(3);
    o.attempts = static_cast<int>(row.int_at(4));
    o.next_attempt_at = row.int_at(5);
    o.last_error = row.opt_text_at(6);
    o.created_at = row.int_at(7);
    o.delivered_at = row.opt_int_at(8);
    o.event_kind = row.text_at(9);
    o.subject = row.text_at(10);
    o.severity = row.text_at(11);
    rows.push_back(std::move(o));
  });
  if (!r) return propagate(r.error());
  std::reverse(rows.begin(), rows.end());
  return rows;
}

}  // namespace caad::status
