// The SQLite store: customer domains, their current CAA state, the history of
// checks, events and the webhook outbox. One file, WAL mode, so that
// caad-status reads while the daemon writes. Schema changes are numbered
// migrations (schema/NNNN_*.sql, compiled in) applied in order under
// PRAGMA user_version; a database newer than the binary is refused.
#pragma once

#include <cstddef>
#include <cstdint>
#include <limits>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "lib/store/types.h"
#include "lib/util/result.h"

namespace caad::store {

inline constexpr std::int32_t k_application_id = 0x63616164;  // "caad"

enum class Mode { read_write, read_only };

// The page cache per connection, in KiB. SQLite's default (2 MB) makes a
// large import thrash the name index; 32 MB keeps a million domains' hot
// pages in memory and stays well inside the daemon's memory budget.
inline constexpr int k_default_cache_kib = 32 * 1024;

struct UpsertReport {
  std::size_t added = 0, updated = 0, unchanged = 0;
  // One line per added or updated name, for people; at most the
  // `max_changes` given to upsert() (the counts above are always complete).
  std::vector<std::string> changes;
};

struct DueDomain {
  Domain domain;
  DomainState state;
};

// Where a walk through the due domains got to: the position of the last row
// returned, in the order due() returns them.
struct DueCursor {
  UnixSeconds next_check_at = 0;
  std::int64_t domain_id = 0;
};

// One check's result to persist, with the events it caused.
struct CheckWrite {
  std::int64_t domain_id = 0;
  std::string subject;  // domain text, kept in history and events after a remove
  DomainState state;    // the new state (result_json included)
  std::vector<Event> events;
  // The domain's updated_at when due() read it. When an import or `caad
  // domain add` changed the domain while its check ran, the stored
  // next_check_at becomes 0 instead: the change is checked at once. 0: not
  // known, the check's own schedule stands.
  UnixSeconds seen_updated_at = 0;
  // False when the check found what the stored state already says
  // (events::same_result). Then only the times and counters of the state
  // are written, the run in domain_state grows by one check, and no
  // history is written, so that a million daily checks neither rewrite nor
  // store a million copies of the same result. True: the finished run,
  // with its result, moves from domain_state to a check_history row, and
  // the new result starts a run.
  bool result_changed = true;
};

// Verdict and exposure counts cover enabled domains only (disabled ones are
// not watched): permitted + denied + failing + unchecked == enabled, and
// pinned + exposed == enabled - unchecked.
// Enabled domains by (verdict, exposure), for the caad_domains metric;
// verdict "unchecked" (exposure "unknown") for domains not checked yet.
struct VerdictExposureCount {
  std::string verdict, exposure;
  std::size_t count = 0;
};

// Domain figures are of enabled domains, except `domains` (all of them).
// Checked domains are counted as pinned or exposed.
struct Counts {
  std::size_t domains = 0, enabled = 0, due = 0, permitted = 0, denied = 0, failing = 0, unchecked = 0;
  std::size_t pinned = 0, exposed = 0, outbox_pending = 0, outbox_dead = 0;
  std::vector<VerdictExposureCount> by_verdict_exposure;  // the counts above, by both
};

// One connection to the database file. A Store is not synchronised: one
// thread at a time uses it (the daemon keeps one read_write Store for its
// writer thread; every reader, such as caad-status, opens its own).
class Store {
 public:
  // Opens (creating in read_write mode) and migrates. Errors name the file:
  // missing (read_only), not a caad database, newer than this binary, locked.
  // `cache_kib` bounds this connection's page cache.
  static Result<std::unique_ptr<Store>> open(const std::string& path, Mode mode,
                                             int cache_kib = k_default_cache_kib);
  ~Store();
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  int schema_version() const;
  static int latest_schema_version();

  // Adds or updates domains by name, all in one transaction: on any error
  // nothing is written. With dry_run the report is filled and nothing is
  // written. A changed domain is scheduled for an immediate check. The
  // report keeps at most `max_changes` change lines.
  Result<UpsertReport> upsert(std::span<const DomainSpec> specs, UnixSeconds now, bool dry_run,
                              std::size_t max_changes = std::numeric_limits<std::size_t>::max());
  // Removes a domain and its current state; history and events stay.
  Result<bool> remove(const dns::DomainRequest& request);
  Result<std::vector<Domain>> list(std::size_t limit, std::size_t offset) const;
  Result<std::optional<Domain>> find(const dns::DomainRequest& request) const;

  // Enabled domains whose next check is due at `now`, soonest first (by
  // next_check_at, then id). With `after`, only those past that position: a
  // caller walking the due domains in pages reads each row once, instead of
  // reading again the ones it took and has not yet written back.
  Result<std::vector<DueDomain>> due(UnixSeconds now, std::size_t limit,
                                     std::optional<DueCursor> after = std::nullopt) const;
  // When the next enabled domain falls due (nullopt: none).
  Result<std::optional<UnixSeconds>> next_due() const;

  // Writes a batch of checks in one transaction: each domain's state, a
  // history row for each run of equal results that a check ended, its
  // events, and an outbox row per event and matching route. All or nothing.
  Status write_checks(std::span<const CheckWrite> checks, std::span<const OutboxRoute> routes);

  // Provider targets' own state, checked every sweep.
  Result<std::optional<DomainState>> target_state(const std::string& target) const;
  Status write_target(const std::string& target, const DomainState& state, std::span<const Event> events,
                      std::span<const OutboxRoute> routes);
  // Domains pinned to `target`: their relevant RRset is there.
  Result<std::size_t> count_pinned_to(const std::string& target) const;

  Result<Counts> counts(UnixSeconds now) const;
  // Deletes history rows older than `before`; returns how many.
  Result<std::size_t> prune_history(UnixSeconds before);
  // Records that a sweep ran (caad-status shows it) and the daemon's pid/heartbeat.
  Status note_heartbeat(UnixSeconds now, const std::string& status_line);

  // PRAGMA integrity_check == "ok".
  Result<bool> integrity_ok() const;

  // The webhook sender's side of the outbox. Rows to attempt now, with their
  // events, in id order: pending, due at `now`, for one of `endpoints`, whose
  // endpoint is not disabled and has no pending row waiting for a later
  // retry (so that nothing overtakes a row that waits, even after a
  // restart); at most `per_endpoint` rows per endpoint.
  Result<std::vector<OutboxRow>> deliverable(UnixSeconds now, std::span<const std::string> endpoints,
                                             std::size_t per_endpoint) const;
  // Applies delivery outcomes, and an endpoint disable, in one transaction.
  // A row that is no longer pending (delivered, dead) is left as it is.
  Status record_deliveries(std::span<const OutboxUpdate> updates,
                           const std::optional<DisabledEndpoint>& disable);
  // Endpoints disabled by a 410 Gone, by name.
  Result<std::vector<DisabledEndpoint>> disabled_endpoints() const;
  // Re-enables an endpoint (its URL changed): its pending rows go out again.
  Status enable_endpoint(const std::string& name);


 private:
  struct Impl;
  explicit Store(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> m_impl;
};

}  // namespace caad::store
