// The webhook sender (see the header). Everything here runs on the loop
// thread except the bodies of DbWorker jobs, which touch only the Store and
// the values captured for them. Every libuv callback catches: no exception
// crosses into C.
#include "daemon/notify/notifier.h"

#include <spdlog/spdlog.h>

#include <chrono>
#include <exception>
#include <memory>
#include <utility>

#include "lib/alerts/payload.h"
#include "lib/alerts/signature.h"
#include "lib/util/time.h"

namespace caad::notify {
namespace {

constexpr std::uint64_t k_poll_ms = 1000;
// Rows read per endpoint at once; also the most one digest covers (a bigger
// burst becomes a few digests, never thousands of messages).
constexpr std::size_t k_batch = 1000;

void log(const alerts::LogLine& line) {
  switch (line.level) {
    case alerts::LogLevel::debug: spdlog::debug("{}", line.text); return;
    case alerts::LogLevel::info: spdlog::info("{}", line.text); return;
    case alerts::LogLevel::warn: spdlog::warn("{}", line.text); return;
    case alerts::LogLevel::error: break;
  }
  spdlog::error("{}", line.text);
}

template <class F>
void guarded(const char* what, F&& f) {
  try {
    f();
  } catch (const std::exception& e) {
    spdlog::error("webhooks: internal error in {}: {}", what, e.what());
  } catch (...) {
    spdlog::error("webhooks: internal error in {}", what);
  }
}

}  // namespace

Notifier::Notifier(uv_loop_t* loop, run::DbWorker& db, const std::vector<config::WebhookConfig>& webhooks)
    : m_loop(loop), m_db(db), m_http(loop) {
  uv_timer_init(m_loop, &m_poll_timer);
  m_poll_timer.data = this;
  uv_timer_init(m_loop, &m_dispatch_timer);
  m_dispatch_timer.data = this;
  configure(webhooks);
}

Notifier::~Notifier() = default;

alerts::UnixMillis Notifier::now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

void Notifier::configure(const std::vector<config::WebhookConfig>& webhooks) {
  m_endpoints.clear();
  std::vector<alerts::EndpointPolicy> policies;
  for (const config::WebhookConfig& hook : webhooks) {
    Endpoint e{hook, std::nullopt, alerts::sha256_hex(hook.url)};
    if (hook.secret_file) {
      auto key = alerts::read_secret_file(*hook.secret_file);
      if (!key) {
        // Its rows wait in the outbox: an unsigned request would be refused anyway.
        spdlog::error("webhook {}: {}; its alerts wait in the outbox until this is fixed (then SIGHUP)", hook.name,
                      key.error().message);
        continue;
      }
      e.key = std::move(*key);
    }
    spdlog::info("webhook {}: {} to {}, rate {}, a digest when more than {} wait", hook.name, hook.format,
                 alerts::redact_url(hook.url),
                 hook.rate_per_minute == 0 ? std::string("no limit") : std::to_string(hook.rate_per_minute) + " a minute",
                 hook.digest_threshold);
    policies.push_back(alerts::policy_for(hook));
    m_endpoints.emplace(hook.name, std::move(e));
  }
  m_dispatcher.set_endpoints(std::move(policies));
}

void Notifier::start() {
  if (m_closed || m_endpoints.empty()) return;
  sync_disabled();
  uv_timer_start(&m_poll_timer, &Notifier::on_poll_timer, 0, k_poll_ms);
}

void Notifier::kick() {
  if (!m_closed && !m_endpoints.empty()) poll();
}

void Notifier::reconfigure(const std::vector<config::WebhookConfig>& webhooks) {
  if (m_closed) return;
  configure(webhooks);
  sync_disabled();
  if (m_endpoints.empty()) {
    uv_timer_stop(&m_poll_timer);
  } else if (!uv_is_active(reinterpret_cast<uv_handle_t*>(&m_poll_timer))) {
    uv_timer_start(&m_poll_timer, &Notifier::on_poll_timer, 0, k_poll_ms);
  }
}

void Notifier::close() {
  if (m_closed) return;
  m_closed = true;
  if (m_dispatcher.in_flight() > 0) {
    spdlog::info("webhooks: aborting {} request(s) in flight; their alerts stay pending and go after the restart",
                 m_http.in_flight());
  }
  m_http.close();
  uv_close(reinterpret_cast<uv_handle_t*>(&m_poll_timer), nullptr);
  uv_close(reinterpret_cast<uv_handle_t*>(&m_dispatch_timer), nullptr);
}

// Which endpoints a 410 disabled: those keep waiting while their URL is the
// one that was gone; a new URL enables them again.
void Notifier::sync_disabled() {
  auto rows = std::make_shared<std::vector<store::DisabledEndpoint>>();
  auto error = std::make_shared<std::string>();
  m_db.submit(
      [rows, error](store::Store& s) {
        auto r = s.disabled_endpoints();
        if (!r) {
          *error = r.error().message;
          return;
        }
        *rows = std::move(*r);
      },
      [this, rows, error](const std::string& job_error) {
        if (m_closed) return;
        const std::string& e = job_error.empty() ? *error : job_error;
        if (!e.empty()) {
          spdlog::error("webhooks: {}", e);
          return;
        }
        for (const auto& [name, endpoint] : m_endpoints) {
          const store::DisabledEndpoint* disabled = nullptr;
          for (const store::DisabledEndpoint& d : *rows) {
            if (d.name == name) disabled = &d;
          }
          if (disabled == nullptr) {
            m_dispatcher.enable(name);
          } else if (disabled->url_sha256 == endpoint.url_sha256) {
            m_dispatcher.disable(name);
            spdlog::warn("webhook {}: disabled since {} ({}: the receiver says the webhook is gone); its alerts wait "
                         "in the outbox until its url changes (then SIGHUP)",
                         name, format_timestamp(disabled->disabled_at), disabled->reason);
          } else {
            spdlog::info("webhook {}: its url changed since the receiver said it was gone; enabled again", name);
            m_dispatcher.enable(name);
            m_db.submit(
                [name = std::string(name)](store::Store& s) {
                  if (auto r = s.enable_endpoint(name); !r) spdlog::error("webhooks: {}", r.error().message);
                },
                [](const std::string&) {});
          }
        }
        poll();
      });
}

void Notifier::poll() {
  if (m_closed) return;
  if (m_fetching) {
    m_fetch_again = true;
    return;
  }
  std::vector<std::string> names = m_dispatcher.active_endpoints();
  if (names.empty()) return;
  m_fetching = true;
  struct Payload {
    std::vector<store::OutboxRow> rows;
    std::string error;
  };
  auto payload = std::make_shared<Payload>();
  const UnixSeconds now = unix_now();
  m_db.submit(
      [payload, names = std::move(names), now](store::Store& s) {
        auto rows = s.deliverable(now, names, k_batch);
        if (!rows) {
          payload->error = rows.error().message;
          return;
        }
        payload->rows = std::move(*rows);
      },
      [this, payload](const std::string& job_error) {
        m_fetching = false;
        if (m_closed) return;
        const std::string& e = job_error.empty() ? payload->error : job_error;
        if (!e.empty()) {
          if (e != m_last_fetch_error) spdlog::error("webhooks: {}; trying again every second", e);
          m_last_fetch_error = e;
        } else {
          m_last_fetch_error.clear();
          m_dispatcher.offer(payload->rows, now_ms());
          dispatch();
        }
        if (m_fetch_again) {
          m_fetch_again = false;
          poll();
        }
      });
}

void Notifier::dispatch() {
  if (m_closed) return;
  alerts::Plan plan = m_dispatcher.plan(now_ms());
  for (const alerts::LogLine& line : plan.log) log(line);
  if (m_observer) {
    for (std::size_t i = 0; i < plan.dead.size(); ++i) m_observer("dead_lettered");
  }
  if (!plan.dead.empty()) record(std::move(plan.dead), std::nullopt);
  for (alerts::Send& s : plan.sends) start_send(std::move(s));
  arm_dispatch_timer();
}

void Notifier::arm_dispatch_timer() {
  if (m_closed) return;
  auto at = m_dispatcher.next_wakeup();
  if (!at) {
    uv_timer_stop(&m_dispatch_timer);
    return;
  }
  // Never a zero delay: plan() just ran, so "now" means "after this turn".
  const alerts::UnixMillis delay = std::max<alerts::UnixMillis>(*at - now_ms(), 10);
  uv_timer_start(&m_dispatch_timer, &Notifier::on_dispatch_timer, static_cast<std::uint64_t>(delay), 0);
}

void Notifier::start_send(alerts::Send send) {
  auto shared = std::make_shared<alerts::Send>(std::move(send));
  auto it = m_endpoints.find(shared->policy.name);
  if (it == m_endpoints.end()) {
    alerts::HttpOutcome o;
    o.failure = alerts::HttpOutcome::Failure::network;
    o.error = "the endpoint is no longer configured";
    on_sent(*shared, o, false);
    return;
  }
  const Endpoint& e = it->second;
  const alerts::Format format = shared->policy.format;
  const UnixSeconds now = unix_now();
  HttpRequest request;
  request.url = e.config.url;
  request.body = shared->digest ? alerts::render_digest(format, shared->rows, e.config.name, now)
                                : alerts::render(format, shared->rows.front());
  // Standard Webhooks headers: the id stays the same on every retry, the
  // timestamp is the send time (receivers reject stale ones), the signature
  // covers both and the body.
  request.headers.push_back("webhook-id: " + shared->webhook_id);
  request.headers.push_back("webhook-timestamp: " + std::to_string(now));
  if (e.key) request.headers.push_back("webhook-signature: " + alerts::sign(*e.key, shared->webhook_id, now, request.body));
  request.timeout = std::chrono::seconds(e.config.timeout);
  spdlog::debug("webhook {}: sending {} ({} bytes) to {}", e.config.name, shared->webhook_id, request.body.size(),
                alerts::redact_url(e.config.url));
  Status started = m_http.post(std::move(request), [this, shared](alerts::HttpOutcome o) {
    guarded("a delivery's completion", [&] { on_sent(*shared, o, true); });
  });
  if (!started) {
    alerts::HttpOutcome o;
    o.failure = alerts::HttpOutcome::Failure::network;
    o.error = started.error().message;
    on_sent(*shared, o, false);
  }
}

void Notifier::on_sent(const alerts::Send& send, const alerts::HttpOutcome& outcome, bool redispatch) {
  if (m_closed) return;
  alerts::Disposition d = m_dispatcher.complete(send, outcome, now_ms(), m_rng());
  if (m_observer) m_observer(alerts::to_string(alerts::classify(outcome).kind));
  log(d.log);
  if (d.disable) {
    auto it = m_endpoints.find(send.policy.name);
    if (it != m_endpoints.end()) {
      d.disable->url_sha256 = it->second.url_sha256;
    } else {
      d.disable.reset();
    }
  }
  record(std::move(d.updates), std::move(d.disable));
  // From inside dispatch() (a send that never started) the caller arms the timer.
  if (redispatch) dispatch();
}

void Notifier::record(std::vector<store::OutboxUpdate> updates, std::optional<store::DisabledEndpoint> disable) {
  auto rows = std::make_shared<std::vector<store::OutboxUpdate>>(std::move(updates));
  auto error = std::make_shared<std::string>();
  m_db.submit(
      [rows, disable = std::move(disable), error](store::Store& s) {
        if (auto r = s.record_deliveries(*rows, disable); !r) *error = r.error().message;
      },
      [this, rows, error](const std::string& job_error) {
        const std::string& e = job_error.empty() ? *error : job_error;
        if (!e.empty()) {
          spdlog::error("webhooks: {}; {} outbox row(s) keep their old state and may be sent again", e, rows->size());
        }
        if (m_closed) return;
        m_dispatcher.recorded(*rows);
      });
}

void Notifier::on_poll_timer(uv_timer_t* handle) {
  guarded("the outbox poll", [&] { static_cast<Notifier*>(handle->data)->poll(); });
}

void Notifier::on_dispatch_timer(uv_timer_t* handle) {
  guarded("the webhook dispatch", [&] { static_cast<Notifier*>(handle->data)->dispatch(); });
}

}  // namespace caad::notify
