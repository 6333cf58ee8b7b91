// caad-status's window on the database: read-only queries that return the
// plain values of lib/status/model.h. The file is first validated by the
// store (Store::open in read_only mode: missing, not a caad database, a
// schema newer or older than this caad), then read on a connection of its own
// opened with SQLITE_OPEN_READONLY, so caad-status can never change the file
// the daemon owns. In WAL mode it reads while the daemon writes, and sees the
// last committed state.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "lib/config/config.h"
#include "lib/status/model.h"
#include "lib/util/result.h"

namespace caad::status {

// Why the database could not be opened: the command's exit status follows it.
struct OpenError {
  enum class Kind {
    missing,     // no such file, or no permission to read it
    unreadable,  // not a caad database, another schema, corrupt, locked
  };
  Kind kind = Kind::unreadable;
  std::string message;  // one sentence that names the file
};

enum class SortKey { name, renewal, changed, verdict };

// `caad-status list` filters. Verdicts are "permitted", "denied",
// "lookup_failed" and "unchecked".
struct ListFilter {
  std::vector<std::string> verdicts;  // any of these; empty: every verdict
  bool failing = false;               // denied or lookup_failed (narrows `verdicts`)
  std::optional<std::string> exposure;
  // Domains checked for this CA (their last result has a verdict for it), or
  // never checked and configured for it (their ca list names it or is
  // empty). With verdicts or failing, the CA's own verdict is what is
  // matched, not the worst over the domain's CAs.
  std::optional<std::string> ca;
  std::optional<std::int64_t>
      renewing_within;  // seconds; renewal known and at most now + this (past included)
  std::optional<std::int64_t> changed_since;  // seconds; verdict changed at or after now - this
  SortKey sort = SortKey::name;
  std::size_t limit = 0;  // 0: no limit
};

struct EventFilter {
  UnixSeconds since = 0;           // events at or after this time
  std::vector<std::string> kinds;  // empty: every kind
  std::size_t limit = 0;           // 0: no limit; else the newest this many
};

struct OutboxFilter {
  std::vector<std::string> states;  // "pending" | "dead" | "delivered"; empty: pending and dead
  std::size_t limit = 0;            // 0: no limit; else the newest this many
};

class Reader {
 public:
  // Validates the file with the store, then opens it read-only.
  static Result<std::unique_ptr<Reader>, OpenError> open(const std::string& path);
  ~Reader();
  Reader(const Reader&) = delete;
  Reader& operator=(const Reader&) = delete;

  const std::string& path() const;
  int schema_version() const;

  // The summary screen, from one snapshot; at most `at_risk_limit` domains in
  // at_risk (0: all of them). `schedule` decides renewal times as the daemon does.
  Result<Summary> summary(UnixSeconds now, const config::ScheduleConfig& schedule,
                          std::size_t at_risk_limit);
  // Domains matching `filter`, sorted and limited.
  Result<std::vector<DomainRow>> list(const ListFilter& filter, UnixSeconds now,
                                      const config::ScheduleConfig& schedule);
  // A domain ("x" or "*.x", canonical), its last result, its newest
  // `limit` checks and events; nullopt when the database knows nothing of it.
  Result<std::optional<DomainDetail>> show(const std::string& subject,
                                           const config::ScheduleConfig& schedule,
                                           std::size_t limit);
  // Events oldest first.
  Result<std::vector<EventRow>> events(const EventFilter& filter);
  // Webhook deliveries oldest first, with their event's kind and subject.
  Result<std::vector<OutboxRow>> outbox(const OutboxFilter& filter);

 private:
  struct Impl;
  explicit Reader(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> m_impl;
};

}  // namespace caad::status
