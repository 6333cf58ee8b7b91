// The daemon's loop (see the header). Everything here runs on the loop thread
// except the bodies of DbWorker jobs, which touch only the Store and the
// values captured for them.
//
// A domain is "busy" from the moment it is fetched until its result is
// written: due() keeps returning it until its new next_check_at is committed,
// and the busy set keeps it from being checked twice. Fetches run on a
// read-only connection of their own (`reader`), so they never wait for a
// write (only, every k_status_ms, for the status counts); a fetch may
// therefore read a domain as it was before a write that completes while
// the fetch runs, and the domains written meanwhile
// (`written_while_fetching`) are skipped like busy ones. Results are written
// by one write job at a time: those that arrive while a write runs wait in
// `pending` and go in the next one, so the batches grow when the disk is
// slow (fewer commits, fewer page writes per result); past
// k_max_backlog_batches batches of results waiting, no new lookups start
// until a write completes.
//
// A failed write (disk full, file size limit, I/O error) drops its batch:
// those domains keep their old state and stay due. So that a disk that
// stays full does not turn into a loop of lookups whose results cannot be
// stored, a failed write pauses new lookups, for k_write_retry_min_ms at
// first, doubling up to k_write_retry_max_ms each time the writes after a
// pause fail again. The results of lookups already running are still
// written (their failures do not lengthen the pause), and the first write
// that succeeds ends the pause.
//
// Fetches walk the due domains with a cursor, so that they do not read the
// busy ones again; the walk starts over from the front when it runs out of
// due domains, when a write fails and every few seconds, which is how
// domains that fall due behind the cursor (new and changed domains, failed
// writes) are found.
// After kill -9, results not yet written are simply lost; those domains are
// still due with their old state, so the restart checks them again and
// derives the same events once.
#include "daemon/run/daemon.h"

#include <spdlog/spdlog.h>
#include <uv.h>

#include <algorithm>
#include <array>
#include <csignal>
#include <deque>
#include <fstream>
#include <random>
#include <sstream>
#include <unordered_set>
#include <utility>

#include "daemon/metrics/http_server.h"
#include "daemon/net/resolver_address.h"
#include "daemon/net/uv_transport.h"
#include "daemon/notify/notifier.h"
#include "daemon/run/db_worker.h"
#include "daemon/run/notify.h"
#include "lib/check/check.h"
#include "lib/events/events.h"
#include "lib/lookup/engine.h"
#include "lib/metrics/daemon_metrics.h"
#include "lib/schedule/schedule.h"
#include "lib/store/store.h"

namespace caad::run {
namespace {

constexpr std::uint64_t k_tick_ms = 1000;           // deadlines, wake-up checks
constexpr std::uint64_t k_flush_ms = 1000;          // results wait at most this long
constexpr std::uint64_t k_status_ms = 15000;        // STATUS line and heartbeat
constexpr std::int64_t k_idle_poll_s = 30;          // look for new domains this often when idle
constexpr std::int64_t k_prune_every_s = 6 * 3600;  // history retention pass
constexpr std::uint64_t k_stop_grace_ms = 3500;     // in-flight checks may finish within this
constexpr std::uint64_t k_stop_hard_ms = 4700;      // then everything closes, whatever is left
constexpr std::uint64_t k_cursor_restart_ms = 5000;  // the due walk starts over at least this often
constexpr std::size_t k_max_backlog_batches = 8;     // results waiting to be written, in batches
constexpr int k_reader_cache_kib = 8 * 1024;         // the fetches read each due row once
constexpr std::uint64_t k_write_retry_min_ms = 1000;   // no new lookups after a failed write, at first
constexpr std::uint64_t k_write_retry_max_ms = 60000;  // and at most, however many fail in a row

std::vector<store::OutboxRoute> routes_from(const config::Config& c) {
  std::vector<store::OutboxRoute> routes;
  for (const auto& w : c.webhooks) {
    routes.push_back({w.name, w.events, store::parse_severity(w.min_severity).value_or(store::Severity::info)});
  }
  return routes;
}

Result<net::TransportOptions> transport_options(const config::Config& c) {
  net::TransportOptions o;
  for (const auto& text : c.resolvers) {
    auto r = net::parse_resolver(text);
    if (!r) return fail(c.source + ": resolvers: " + r.error().message);
    o.resolvers.push_back(*r);
  }
  if (o.resolvers.empty()) {
    std::ifstream conf("/etc/resolv.conf");
    std::stringstream text;
    text << conf.rdbuf();
    o.resolvers = net::parse_resolv_conf(text.str());
    if (o.resolvers.empty()) {
      return fail("no resolver to ask: /etc/resolv.conf lists none; set resolvers in " + c.source);
    }
  }
  o.attempt_timeout = Duration(c.timeout_ms);
  o.attempts = c.attempts;
  o.max_in_flight = std::max<std::size_t>(c.concurrency, 16);
  o.max_qps_per_resolver = c.max_qps;
  return o;
}

template <class T>
void close_handle(T* handle) {
  auto* h = reinterpret_cast<uv_handle_t*>(handle);
  if (!uv_is_closing(h)) uv_close(h, nullptr);
}

}  // namespace

struct Daemon::Impl {
  config::Config cfg;
  std::optional<std::string> config_path;
  uv_loop_t loop{};
  SteadyClock clock;
  std::unique_ptr<net::UvTransport> transport;
  std::unique_ptr<lookup::Engine> engine;
  std::unique_ptr<DbWorker> db;      // the writer: every job but the due fetches
  std::unique_ptr<DbWorker> reader;  // the due fetches, on a read-only connection
  std::unique_ptr<notify::Notifier> notifier;  // webhook alerts from the outbox
  std::vector<store::OutboxRoute> routes;
  std::vector<check::CaSpec> cas;
  std::mt19937_64 rng{std::random_device{}()};
  // Prometheus metrics (issue 7); the listener exists only with metrics_listen.
  metrics::Registry metrics_registry;
  metrics::DaemonMetrics daemon_metrics{metrics_registry, CAAD_VERSION};
  std::unique_ptr<metrics::HttpServer> metrics_server;

  uv_timer_t tick{}, wake{}, flush_timer{}, status_timer{}, watchdog{}, targets_timer{}, stop_timer{};
  uv_timer_t write_pause{};   // active: writes are failing, no new lookups start
  std::array<uv_timer_t*, 8> timers() {
    return {&tick, &wake, &flush_timer, &status_timer, &watchdog, &targets_timer, &stop_timer, &write_pause};
  }
  unsigned failed_writes = 0;  // in a row
  unsigned write_pauses = 0;   // pauses since the last write that succeeded
  uv_signal_t sigterm{}, sigint{}, sighup{};

  std::unordered_set<std::int64_t> busy;  // fetched, not yet written (in `ready`, checking or pending)
  std::deque<store::DueDomain> ready;     // fetched, waiting for a lookup slot
  std::size_t active = 0;                 // lookups in flight (domains and targets)
  std::vector<store::CheckWrite> pending;  // results not yet handed to the writer
  bool writing = false;                    // a write_checks job is outstanding
  bool flush_after_write = false;          // pending must go out when that write completes
  bool fetching = false;
  std::unordered_set<std::int64_t> written_while_fetching;  // see the top of the file
  bool restart_walk_after_fetch = false;  // a write failed during the fetch: do not keep its cursor
  bool more_due = false;  // the last fetch was full: more may be due now
  std::optional<store::DueCursor> cursor;  // the due walk's position; none: from the front
  std::uint64_t cursor_started_ms = 0;     // when the walk last started from the front
  bool stopping = false;
  bool closed = false;
  UnixSeconds next_wake = 0;
  UnixSeconds last_prune = 0;
  std::uint64_t stop_started_ms = 0;
  std::size_t checks_done = 0;
  std::size_t events_raised = 0;
  int exit_status = 0;

  Impl(config::Config c, std::optional<std::string> path) : cfg(std::move(c)), config_path(std::move(path)) {
    uv_loop_init(&loop);
  }

  void apply_config() {
    routes = routes_from(cfg);
    cas.clear();
    for (const auto& ca : cfg.cas) cas.push_back({ca.name, ca.profile});
  }

  int run() {
    // Past a file size limit (systemd's LimitFSIZE=, ulimit -f) a write
    // fails with EFBIG, which SQLite reports as a full disk or an I/O error
    // and the write path handles; the signal that comes with it would kill
    // the daemon.
    std::signal(SIGXFSZ, SIG_IGN);
    auto opened = store::Store::open(cfg.database, store::Mode::read_write);
    if (!opened) {
      spdlog::critical("{}", opened.error().message);
      return 1;
    }
    // After the writer: it creates and migrates the file the reader needs.
    auto read_only = store::Store::open(cfg.database, store::Mode::read_only, k_reader_cache_kib);
    if (!read_only) {
      spdlog::critical("{}", read_only.error().message);
      return 1;
    }
    auto to = transport_options(cfg);
    if (!to) {
      spdlog::critical("{}", to.error().message);
      return 1;
    }
    spdlog::info("caad: database {} (schema {}), {} resolver(s), {} CA(s), {} provider target(s), {} webhook(s)",
                 cfg.database, (*opened)->schema_version(), to->resolvers.size(), cfg.cas.size(),
                 cfg.provider_targets.size(), cfg.webhooks.size());
    if (!cfg.metrics_listen.empty()) {
      auto server = metrics::HttpServer::listen(&loop, cfg.metrics_listen,
                                                [this](std::string_view path) { return serve_metrics(path); });
      if (!server) {
        spdlog::critical("{}", server.error().message);
        uv_run(&loop, UV_RUN_NOWAIT);  // lets the failed listener's close callback free it
        return 1;
      }
      metrics_server = std::move(*server);
      spdlog::info("caad: metrics on http://{}/metrics", cfg.metrics_listen);
    }
    db = std::make_unique<DbWorker>(&loop, std::move(*opened));
    reader = std::make_unique<DbWorker>(&loop, std::move(*read_only), "caad-db-read", 0);
    transport = std::make_unique<net::UvTransport>(&loop, std::move(*to));
    engine = std::make_unique<lookup::Engine>(*transport, clock);
    apply_config();
    notifier = std::make_unique<notify::Notifier>(&loop, *db, cfg.webhooks);
    notifier->on_delivery([this](std::string_view result) { daemon_metrics.count_webhook_delivery(result); });
    notifier->start();

    for (uv_timer_t* t : timers()) {
      uv_timer_init(&loop, t);
      t->data = this;
    }
    for (uv_signal_t* s : {&sigterm, &sigint, &sighup}) {
      uv_signal_init(&loop, s);
      s->data = this;
    }
    uv_signal_start(&sigterm, &Impl::on_stop_signal, SIGTERM);
    uv_signal_start(&sigint, &Impl::on_stop_signal, SIGINT);
    uv_signal_start(&sighup, &Impl::on_hup, SIGHUP);
    uv_timer_start(&tick, &Impl::on_tick, k_tick_ms, k_tick_ms);
    uv_timer_start(&status_timer, &Impl::on_status, 0, k_status_ms);
    if (!cfg.provider_targets.empty()) uv_timer_start(&targets_timer, &Impl::on_targets, 0, 0);
    if (auto period = watchdog_period()) {
      auto ms = static_cast<std::uint64_t>(std::max<std::int64_t>(period->count(), 100));
      uv_timer_start(&watchdog, &Impl::on_watchdog, 0, ms);
    }

    notify_ready("started; checking due domains");
    spdlog::info("caad: ready");
    maybe_fetch();
    uv_run(&loop, UV_RUN_DEFAULT);

    engine.reset();
    transport.reset();
    notifier.reset();
    reader.reset();
    db.reset();
    metrics_server.reset();
    if (uv_loop_close(&loop) != 0) spdlog::warn("caad: event loop closed with handles still open");
    spdlog::info("caad: stopped after {} checks, {} events", checks_done, events_raised);
    return exit_status;
  }

  // Keeps due domains at hand for the lookups: while fewer than
  // concurrency + batch_size domains wait in `ready`, it asks the reader
  // for up to batch_size more, so that the lookups do not run dry while a
  // fetch runs.
  void maybe_fetch() {
    if (stopping || fetching || writes_paused()) return;
    if (ready.size() >= cfg.concurrency + cfg.batch_size) return;
    const std::uint64_t now_ms = uv_now(&loop);
    if (!cursor || now_ms - cursor_started_ms >= k_cursor_restart_ms) {
      cursor.reset();
      cursor_started_ms = now_ms;
    }
    const std::size_t limit = std::max<std::size_t>(cfg.batch_size, 1);
    fetching = true;
    written_while_fetching.clear();
    struct Payload {
      std::vector<store::DueDomain> due;
      std::optional<UnixSeconds> next;
      std::string error;
    };
    auto payload = std::make_shared<Payload>();
    UnixSeconds now = unix_now();
    reader->submit(
        [payload, now, limit, after = cursor](store::Store& s) {
          auto due = s.due(now, limit, after);
          if (!due) {
            payload->error = due.error().message;
            return;
          }
          payload->due = std::move(*due);
          auto next = s.next_due();
          if (next) payload->next = *next;
        },
        [this, payload, now, limit](const std::string& error) {
          fetching = false;
          std::unordered_set<std::int64_t> written = std::move(written_while_fetching);
          written_while_fetching.clear();
          const bool restart_walk = std::exchange(restart_walk_after_fetch, false);
          if (stopping) return;
          if (!error.empty() || !payload->error.empty()) {
            spdlog::error("caad: reading due domains: {}", error.empty() ? payload->error : error);
            arm_wake(now + 5);
            return;
          }
          more_due = payload->due.size() >= limit;
          if (more_due && restart_walk) {
            cursor.reset();  // a write failed while this fetch ran: its domains are behind
          } else if (more_due) {
            cursor = store::DueCursor{payload->due.back().state.next_check_at, payload->due.back().domain.id};
          } else {
            cursor.reset();  // ran out: the next walk starts from the front
          }
          std::size_t taken = 0;
          for (auto& d : payload->due) {
            // Read again after the walk started over: still being checked;
            // or written while the fetch ran: perhaps read as it was before.
            if (written.contains(d.domain.id) || !busy.insert(d.domain.id).second) continue;
            ready.push_back(std::move(d));
            ++taken;
          }
          start_ready();
          if (more_due) {
            maybe_fetch();  // on from the cursor, if `ready` is still short
          } else if (taken == 0) {
            UnixSeconds next = payload->next.value_or(now + k_idle_poll_s);
            arm_wake(std::min(std::max(next, now + 1), now + k_idle_poll_s));
          }
        });
  }

  bool writes_paused() const {
    return uv_is_active(reinterpret_cast<const uv_handle_t*>(&write_pause)) != 0;
  }

  // Starts lookups for waiting domains while there are free slots, and
  // while the writer is keeping up (and not failing).
  void start_ready() {
    if (writes_paused()) return;
    const std::size_t max_backlog = k_max_backlog_batches * std::max<std::size_t>(cfg.batch_size, 1);
    while (!stopping && active < cfg.concurrency && !ready.empty() && pending.size() < max_backlog) {
      start_check(std::move(ready.front()));
      ready.pop_front();
    }
  }

  void arm_wake(UnixSeconds at) {
    next_wake = at;
    UnixSeconds now = unix_now();
    auto ms = static_cast<std::uint64_t>(std::max<UnixSeconds>(at - now, 0) * 1000);
    uv_timer_start(&wake, &Impl::on_wake, ms, 0);
  }

  std::vector<check::CaSpec> cas_for(const store::DomainSpec& spec) const {
    if (spec.cas.empty()) return cas;
    std::vector<check::CaSpec> out;
    for (const auto& name : spec.cas) {
      if (const config::CaConfig* ca = cfg.find_ca(name)) {
        out.push_back({ca->name, ca->profile});
      } else {
        spdlog::warn("caad: {} names CA '{}', which the configuration no longer has; skipped",
                     spec.request.text(), name);
      }
    }
    return out.empty() ? cas : out;
  }

  void start_check(store::DueDomain d) {
    ++active;
    dns::DomainRequest request = d.domain.spec.request;
    std::uint64_t started_ns = uv_hrtime();
    engine->lookup(request, [this, d = std::move(d), started_ns](lookup::LookupResult r) mutable {
      on_checked(std::move(d), std::move(r), started_ns);
    });
  }

  void on_checked(store::DueDomain d, lookup::LookupResult r, std::uint64_t started_ns) {
    --active;
    if (closed) return;
    UnixSeconds now = unix_now();
    check::CheckResult result = check::assess(std::move(r), cas_for(d.domain.spec), cfg.provider_targets);
    auto renewal = schedule::renewal_time(d.domain.spec, cfg.schedule);
    events::Transition t = events::apply(d.state, result, renewal, now, cfg.schedule);
    t.state.next_check_at = schedule::next_check(now, renewal, t.state.consecutive_failures, cfg.schedule, rng());
    for (const auto& e : t.events) {
      spdlog::log(e.severity == store::Severity::info ? spdlog::level::info : spdlog::level::warn,
                  "caad: {} {}: {}", e.kind, e.subject, result.reason);
    }
    spdlog::debug("caad: checked {}: {} ({} queries), next check in {} s", d.domain.spec.request.text(),
                  check::to_string(result.verdict), result.lookup.queries, t.state.next_check_at - now);
    events_raised += t.events.size();
    ++checks_done;
    daemon_metrics.record_check({d.domain.spec.request.text(), t.state.verdict, t.state.failure_kind, renewal,
                          static_cast<double>(uv_hrtime() - started_ns) / 1e9});
    pending.push_back(store::CheckWrite{d.domain.id, d.domain.spec.request.text(), std::move(t.state),
                                        std::move(t.events), d.domain.updated_at, t.result_changed});
    // A full batch goes at once, and so does the last of a sweep: nothing
    // else is being checked, so waiting would add nothing to it.
    if (pending.size() >= cfg.batch_size || (active == 0 && ready.empty())) {
      flush();
    } else {
      arm_flush_timer();
    }
    start_ready();
    if (more_due || (active == 0 && ready.empty())) maybe_fetch();
    if (stopping) maybe_finish_stop();
  }

  // Results wait at most k_flush_ms for their batch to fill.
  void arm_flush_timer() {
    if (!uv_is_active(reinterpret_cast<uv_handle_t*>(&flush_timer))) {
      uv_timer_start(&flush_timer, &Impl::on_flush, k_flush_ms, 0);
    }
  }

  void flush() {
    uv_timer_stop(&flush_timer);
    if (pending.empty()) return;
    if (writing) {
      flush_after_write = true;
      return;
    }
    writing = true;
    flush_after_write = false;
    auto batch = std::make_shared<std::vector<store::CheckWrite>>(std::move(pending));
    pending.clear();
    auto error = std::make_shared<std::string>();
    auto routes_copy = routes;
    db->submit(
        [batch, error, routes_copy](store::Store& s) {
          auto st = s.write_checks(*batch, routes_copy);
          if (!st) *error = st.error().message;
        },
        [this, batch, error](const std::string& job_error) {
          const std::string& e = job_error.empty() ? *error : job_error;
          note_write_outcome(batch->size(), e);
          writing = false;
          for (const auto& w : *batch) {
            busy.erase(w.domain_id);
            if (fetching) written_while_fetching.insert(w.domain_id);
          }
          if (e.empty() && notifier) notifier->kick();  // new outbox rows, perhaps
          if (!pending.empty()) {
            if (flush_after_write || stopping || pending.size() >= cfg.batch_size) {
              flush();
            } else {
              arm_flush_timer();
            }
          }
          if (stopping) {
            maybe_finish_stop();
          } else {
            start_ready();
            maybe_fetch();
          }
        });
  }

  // After each write: a failure starts a pause of new lookups (see the top
  // of the file) unless one is running; a success ends it.
  void note_write_outcome(std::size_t results, const std::string& error) {
    if (error.empty()) {
      if (failed_writes == 0) return;
      spdlog::info("caad: results are written again, after {} failed writes", failed_writes);
      failed_writes = 0;
      write_pauses = 0;
      uv_timer_stop(&write_pause);
      return;
    }
    ++failed_writes;
    cursor.reset();  // those domains are due behind the cursor now
    if (fetching) restart_walk_after_fetch = true;
    if (stopping || writes_paused()) {
      // Results of lookups that were running when the pause began.
      spdlog::error("caad: writing {} results: {}; those domains stay due ({} failed writes in a row)", results,
                    error, failed_writes);
      return;
    }
    ++write_pauses;
    const std::uint64_t pause =
        std::min(k_write_retry_max_ms, k_write_retry_min_ms << std::min(write_pauses - 1, 6U));
    spdlog::error("caad: writing {} results: {}; those domains stay due; no new checks for {} s ({} failed "
                  "writes in a row)",
                  results, error, pause / 1000, failed_writes);
    uv_timer_start(&write_pause, &Impl::on_write_pause_end, pause, 0);
  }

  void check_targets() {
    for (const dns::Name& target : cfg.provider_targets) {
      ++active;
      engine->lookup(dns::DomainRequest{target, false}, [this, target](lookup::LookupResult r) {
        --active;
        if (closed) return;
        auto result = std::make_shared<check::CheckResult>(check::assess(std::move(r), cas, {}));
        auto error = std::make_shared<std::string>();
        auto events = std::make_shared<std::vector<store::Event>>();
        auto routes_copy = routes;
        UnixSeconds now = unix_now();
        db->submit(
            [result, error, events, routes_copy, now, name = target.text()](store::Store& s) {
              auto prev = s.target_state(name);
              auto pinned = s.count_pinned_to(name);
              if (!prev || !pinned) {
                *error = !prev ? prev.error().message : pinned.error().message;
                return;
              }
              events::Transition t =
                  events::apply_target(prev->value_or(store::DomainState{}), *result, *pinned, now);
              auto st = s.write_target(name, t.state, t.events, routes_copy);
              if (!st) *error = st.error().message;
              *events = std::move(t.events);
            },
            [this, error, events, name = target.text()](const std::string& job_error) {
              const std::string& e = job_error.empty() ? *error : job_error;
              if (!e.empty()) spdlog::error("caad: provider target {}: {}", name, e);
              for (const auto& ev : *events) {
                spdlog::warn("caad: {} {}: {}", ev.kind, ev.subject, ev.data.value("reason", ""));
              }
              events_raised += events->size();
              if (!events->empty() && notifier) notifier->kick();
              if (stopping) maybe_finish_stop();
            });
      });
    }
  }

  // Counts the domains on the reader, so that the writer never waits for a
  // count (at a million domains it reads a few indexes whole), then writes
  // the heartbeat, with the same STATUS line, on the writer.
  void report_status() {
    struct Payload {
      store::Counts counts;
      std::string error;
    };
    auto p = std::make_shared<Payload>();
    const UnixSeconds now = unix_now();
    reader->submit(
        [p, now](store::Store& s) {
          auto c = s.counts(now);
          if (!c) {
            p->error = c.error().message;
            return;
          }
          p->counts = *c;
        },
        [this, p, now](const std::string& error) {
          if (!error.empty() || !p->error.empty()) {
            spdlog::warn("caad: status: {}", error.empty() ? p->error : error);
            return;
          }
          const store::Counts& c = p->counts;
          std::vector<metrics::DomainCount> by_verdict_exposure;
          for (const auto& row : c.by_verdict_exposure) {
            by_verdict_exposure.push_back({row.verdict, row.exposure, row.count});
          }
          daemon_metrics.set_domains(by_verdict_exposure);
          daemon_metrics.set_outbox_depth(c.outbox_pending);
          const std::string line = "domains " + std::to_string(c.enabled) + ", due " + std::to_string(c.due) +
                                   ", denied " + std::to_string(c.denied) + ", failing " +
                                   std::to_string(c.failing);
          const std::string trouble =
              failed_writes > 0
                  ? "; results cannot be written (" + std::to_string(failed_writes) + " failed writes in a row)"
                  : "";
          notify_status(line + trouble);
          if (!stopping) {
            write_heartbeat(now, line + ", checks " + std::to_string(checks_done) + ", in flight " +
                                     std::to_string(active) + trouble);
          }
        });
  }

  // The heartbeat and status line for caad-status, and now and then the
  // history retention pass.
  void write_heartbeat(UnixSeconds now, std::string line) {
    const bool prune = now - last_prune >= k_prune_every_s;
    if (prune) last_prune = now;
    const std::int64_t retention = cfg.history_retention;
    auto swept = std::make_shared<bool>(false);
    db->submit(
        [now, line = std::move(line), prune, retention, swept](store::Store& s) {
          *swept = s.note_heartbeat(now, line).has_value();
          if (prune) (void)s.prune_history(now - retention);
        },
        [this, now, swept](const std::string&) {
          if (*swept) daemon_metrics.set_last_sweep(now);
        });
  }

  void reload() {
    if (!config_path) {
      spdlog::info("caad: SIGHUP: running on built-in defaults, nothing to reload");
      return;
    }
    notify_reloading();
    auto fresh = config::load(*config_path);
    if (!fresh) {
      spdlog::error("caad: SIGHUP: keeping the old configuration: {}", fresh.error().message);
      notify_ready("reload failed; old configuration kept");
      return;
    }
    if (fresh->database != cfg.database || fresh->resolvers != cfg.resolvers ||
        fresh->timeout_ms != cfg.timeout_ms || fresh->attempts != cfg.attempts || fresh->max_qps != cfg.max_qps) {
      spdlog::warn("caad: SIGHUP: database, resolvers, timeout_ms, attempts and max_qps take effect after a "
                   "restart; the rest is applied now");
      fresh->database = cfg.database;
      fresh->resolvers = cfg.resolvers;
      fresh->timeout_ms = cfg.timeout_ms;
      fresh->attempts = cfg.attempts;
      fresh->max_qps = cfg.max_qps;
    }
    cfg = std::move(*fresh);
    apply_config();
    if (notifier) notifier->reconfigure(cfg.webhooks);
    uv_timer_stop(&targets_timer);
    if (!cfg.provider_targets.empty()) uv_timer_start(&targets_timer, &Impl::on_targets, 0, 0);
    spdlog::info("caad: SIGHUP: configuration reloaded from {}", *config_path);
    notify_ready("configuration reloaded");
    start_ready();
    maybe_fetch();
  }

  // GET /metrics and /healthz. /healthz answers from the loop thread itself,
  // so an answer at all means the loop is turning.
  metrics::HttpResponse serve_metrics(std::string_view path) {
    if (path == "/healthz") {
      if (stopping) return {503, "text/plain; charset=utf-8", "stopping\n"};
      return {200, "text/plain; charset=utf-8", "ok\n"};
    }
    if (path == "/metrics") {
      if (transport) daemon_metrics.set_dns_answers(transport->counters().by_rcode);
      return {200, std::string(metrics::k_content_type), metrics_registry.render()};
    }
    return {404, "text/plain; charset=utf-8", "not found; try /metrics or /healthz\n"};
  }

  void begin_stop(const char* why) {
    if (stopping) return;
    stopping = true;
    stop_started_ms = uv_now(&loop);
    spdlog::info("caad: {}: stopping; {} checks in flight", why, active);
    // Not started: they stay due in the database, as they were.
    for (const auto& d : ready) busy.erase(d.domain.id);
    ready.clear();
    notify_stopping();
    for (uv_timer_t* t : {&tick, &wake, &status_timer, &targets_timer, &write_pause}) uv_timer_stop(t);
    uv_timer_start(&stop_timer, &Impl::on_stop_timer, 100, 100);
    maybe_finish_stop();
  }

  void maybe_finish_stop() {
    if (closed) return;
    std::uint64_t elapsed = uv_now(&loop) - stop_started_ms;
    if (active > 0 && elapsed < k_stop_grace_ms) return;
    if (active > 0) {
      spdlog::warn("caad: dropping {} unfinished checks; those domains are checked after the restart", active);
      engine.reset();  // drops the lookups; their handlers never run
      active = 0;
    }
    if (!pending.empty()) flush();
    if ((!db->idle() || !reader->idle()) && elapsed < k_stop_hard_ms) return;
    close_everything();
  }

  void close_everything() {
    if (closed) return;
    closed = true;
    engine.reset();
    if (transport) transport->close();
    if (notifier) notifier->close();
    if (metrics_server) metrics_server->close();
    if (db) db->close();  // once its last completion has run
    if (reader) reader->close();
    for (uv_timer_t* t : timers()) close_handle(t);
    for (uv_signal_t* s : {&sigterm, &sigint, &sighup}) close_handle(s);
  }

  static Impl* self(void* data) { return static_cast<Impl*>(data); }

  // libuv callbacks: each catches, so that no exception crosses into C.
  template <class F>
  static void guarded(const char* what, F&& f) {
    try {
      f();
    } catch (const std::exception& e) {
      spdlog::error("caad: internal error in {}: {}", what, e.what());
    }
  }
  static void on_tick(uv_timer_t* t) {
    guarded("tick", [&] {
      Impl* s = self(t->data);
      s->engine->expire_deadlines();
      if (!s->fetching && s->next_wake != 0 && unix_now() >= s->next_wake) s->maybe_fetch();
    });
  }
  static void on_wake(uv_timer_t* t) { guarded("wake", [&] { self(t->data)->maybe_fetch(); }); }
  static void on_flush(uv_timer_t* t) { guarded("flush", [&] { self(t->data)->flush(); }); }
  static void on_write_pause_end(uv_timer_t* t) {
    guarded("write pause", [&] {
      Impl* s = self(t->data);
      s->start_ready();
      s->maybe_fetch();
    });
  }
  static void on_status(uv_timer_t* t) { guarded("status", [&] { self(t->data)->report_status(); }); }
  static void on_watchdog(uv_timer_t*) { notify_watchdog(); }
  static void on_targets(uv_timer_t* t) {
    guarded("provider targets", [&] {
      Impl* s = self(t->data);
      s->check_targets();
      auto ms = static_cast<std::uint64_t>(std::max<std::int64_t>(s->cfg.schedule.target_interval, 1) * 1000);
      uv_timer_start(&s->targets_timer, &Impl::on_targets, ms, 0);
    });
  }
  static void on_stop_timer(uv_timer_t* t) { guarded("stop", [&] { self(t->data)->maybe_finish_stop(); }); }
  static void on_stop_signal(uv_signal_t* h, int signum) {
    guarded("signal", [&] { self(h->data)->begin_stop(signum == SIGTERM ? "SIGTERM" : "SIGINT"); });
  }
  static void on_hup(uv_signal_t* h, int) { guarded("SIGHUP", [&] { self(h->data)->reload(); }); }
};

Daemon::Daemon(config::Config config, std::optional<std::string> config_path)
    : m_impl(std::make_unique<Impl>(std::move(config), std::move(config_path))) {}

Daemon::~Daemon() = default;

int Daemon::run() { return m_impl->run(); }

}  // namespace caad::run
