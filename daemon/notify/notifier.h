// The webhook sender of `caad run`. The outbox is the truth: every second,
// and at once when new rows were written (kick), it reads the deliverable
// rows through the database worker, lets the delivery policy
// (lib/alerts/delivery) decide what to send, renders and signs each message
// (lib/alerts/payload, signature), POSTs it on the loop (HttpClient), and
// records each outcome back through the database worker. Nothing is kept
// only in memory: after a restart, pending rows, their attempts and their
// next attempt times are all in the outbox, and disabled endpoints in
// webhook_endpoints.
#pragma once

#include <uv.h>

#include <functional>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "daemon/notify/http_client.h"
#include "daemon/run/db_worker.h"
#include "lib/alerts/delivery.h"
#include "lib/config/config.h"

namespace caad::notify {

class Notifier {
 public:
  Notifier(uv_loop_t* loop, run::DbWorker& db, const std::vector<config::WebhookConfig>& webhooks);
  // close() must have been called, and the loop run until its handles closed.
  ~Notifier();
  Notifier(const Notifier&) = delete;
  Notifier& operator=(const Notifier&) = delete;

  // Reads which endpoints are disabled, then polls the outbox every second.
  void start();
  // New outbox rows were written: look now rather than within a second.
  void kick();
  // SIGHUP: new endpoints, URLs, secrets and limits; state of those that stay is kept.
  void reconfigure(const std::vector<config::WebhookConfig>& webhooks);
  // Aborts requests in flight (their rows stay pending and go after a
  // restart, with the same webhook-id) and closes the timers.
  void close();

  // Told the result of every delivery attempt ("delivered", "retry",
  // "rate_limited", "rejected", "gone") and of every row dead-lettered
  // without a send ("dead_lettered"): the daemon's metrics.
  using DeliveryObserver = std::function<void(std::string_view result)>;
  void on_delivery(DeliveryObserver observer) { m_observer = std::move(observer); }

 private:
  struct Endpoint {
    config::WebhookConfig config;
    std::optional<std::string> key;  // the signing secret's bytes, when secret_file is set
    std::string url_sha256;
  };

  void configure(const std::vector<config::WebhookConfig>& webhooks);
  void sync_disabled();
  void poll();
  void dispatch();
  void arm_dispatch_timer();
  void start_send(alerts::Send send);
  void on_sent(const alerts::Send& send, const alerts::HttpOutcome& outcome, bool redispatch);
  void record(std::vector<store::OutboxUpdate> updates, std::optional<store::DisabledEndpoint> disable);
  static alerts::UnixMillis now_ms();

  static void on_poll_timer(uv_timer_t* handle);
  static void on_dispatch_timer(uv_timer_t* handle);

  uv_loop_t* m_loop;
  run::DbWorker& m_db;
  HttpClient m_http;
  alerts::Dispatcher m_dispatcher;
  std::map<std::string, Endpoint> m_endpoints;  // usable ones only
  std::mt19937_64 m_rng{std::random_device{}()};
  uv_timer_t m_poll_timer{};
  uv_timer_t m_dispatch_timer{};
  bool m_fetching = false;
  bool m_fetch_again = false;
  bool m_closed = false;
  std::string m_last_fetch_error;  // logged once, not every second
  DeliveryObserver m_observer;
};

}  // namespace caad::notify
