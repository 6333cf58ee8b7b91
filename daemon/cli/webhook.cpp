// `caad webhook test NAME`: renders the sample alert (or digest) in the
// endpoint's format, signs it like the daemon does, POSTs it with the
// daemon's own HTTP client on a loop of its own, and reports the answer and
// what `caad run` would make of it. It does not touch the database.
#include "daemon/cli/webhook.h"

#include <uv.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <ostream>
#include <random>
#include <vector>

#include "daemon/cli/config_file.h"
#include "daemon/cli/exit_codes.h"
#include "daemon/notify/http_client.h"
#include "lib/alerts/delivery.h"
#include "lib/alerts/payload.h"
#include "lib/alerts/signature.h"
#include "lib/util/time.h"

namespace caad::cli {
namespace {

constexpr int k_exit_not_delivered = 1;

// What `caad run` does with such an answer.
std::string meaning(const alerts::Classified& c) {
  switch (c.kind) {
    case alerts::OutcomeKind::delivered: return "delivered";
    case alerts::OutcomeKind::rate_limited: return "rate limited; caad run would wait (Retry-After) and send again";
    case alerts::OutcomeKind::rejected:
      return "the receiver rejected the message; caad run would give such an alert up (dead)";
    case alerts::OutcomeKind::gone:
      return "the webhook is gone; caad run would disable this endpoint until its url changes";
    case alerts::OutcomeKind::retry: break;
  }
  return "not delivered; caad run would retry with backoff";
}

// The sample digest: three sample alerts of different urgency.
std::vector<store::OutboxRow> sample_digest(UnixSeconds now) {
  std::vector<store::OutboxRow> rows;
  for (int i = 0; i < 3; ++i) {
    store::OutboxRow r = alerts::sample_row(now);
    r.id = i + 1;
    r.event_id = i + 1;
    r.event.data["domain"] = "shop" + std::to_string(i + 1) + ".customer.example";
    r.event.subject = r.event.data["domain"].get<std::string>();
    r.event.data["days_left"] = 12 + 10 * i;
    if (i == 2) r.event.severity = store::Severity::warning;
    rows.push_back(std::move(r));
  }
  return rows;
}

}  // namespace

CLI::App* add_webhook_command(CLI::App& app, WebhookOptions& o) {
  CLI::App* webhook = app.add_subcommand("webhook", "Work with the configured webhook endpoints");
  webhook->require_subcommand(1);
  CLI::App* test = webhook->add_subcommand(
      "test",
      "Send a sample alert to the [[webhook]] named NAME now and report the HTTP outcome. Exit status: 0 when "
      "the receiver answered 2xx, 1 otherwise, 64 for an unknown NAME, 78 for a bad configuration or secret file.");
  test->add_option("NAME", o.name, "The webhook's name in the configuration")->required();
  test->add_option("--config", o.config,
                   "Configuration file (default: /etc/caad/caad.toml when it exists, else built-in defaults)");
  test->add_flag("--digest", o.digest, "Send a sample digest (the summary a burst of alerts becomes) instead");
  return test;
}

int run_webhook_test(const WebhookOptions& o, std::ostream& out, std::ostream& err) {
  auto loaded = load_config(o.config);
  if (!loaded) {
    err << "caad webhook test: " << loaded.error().message << "\n";
    return k_exit_config;
  }
  const config::Config& cfg = loaded->config;
  const config::WebhookConfig* hook = nullptr;
  std::string names;
  for (const config::WebhookConfig& w : cfg.webhooks) {
    if (w.name == o.name) hook = &w;
    names += (names.empty() ? "" : ", ") + w.name;
  }
  if (hook == nullptr) {
    err << "caad webhook test: " << cfg.source << " has no [[webhook]] named " << o.name
        << (names.empty() ? std::string(" (it has none)") : " (it has " + names + ")") << "\n";
    return k_exit_usage;
  }
  std::optional<std::string> key;
  if (hook->secret_file) {
    auto read = alerts::read_secret_file(*hook->secret_file);
    if (!read) {
      err << "caad webhook test: webhook " << hook->name << ": " << read.error().message << "\n";
      return k_exit_config;
    }
    key = std::move(*read);
  }

  const alerts::Format format = alerts::parse_format(hook->format).value_or(alerts::Format::generic);
  const UnixSeconds now = unix_now();
  std::vector<store::OutboxRow> rows = o.digest ? sample_digest(now) : std::vector{alerts::sample_row(now)};
  // A fresh id each time: a receiver that de-duplicates must not drop a second test.
  const std::string id = "caad-test-" + std::to_string(now) + "-" + std::to_string(std::random_device{}() % 1000000);
  notify::HttpRequest request;
  request.url = hook->url;
  request.body = o.digest ? alerts::render_digest(format, rows, hook->name, now) : alerts::render(format, rows.front());
  request.headers.push_back("webhook-id: " + id);
  request.headers.push_back("webhook-timestamp: " + std::to_string(now));
  if (key) request.headers.push_back("webhook-signature: " + alerts::sign(*key, id, now, request.body));
  request.timeout = std::chrono::seconds(hook->timeout);

  const std::string who = "webhook " + hook->name + " (" + hook->format + ", " + alerts::redact_url(hook->url) + ")";
  uv_loop_t loop;
  uv_loop_init(&loop);
  std::optional<alerts::HttpOutcome> outcome;
  std::string not_started;
  {
    notify::HttpClient client(&loop);
    Status started = client.post(std::move(request), [&](alerts::HttpOutcome got) { outcome = std::move(got); });
    if (!started) {
      not_started = started.error().message;
    } else {
      while (!outcome && uv_run(&loop, UV_RUN_ONCE) != 0) {
      }
    }
    client.close();
    uv_run(&loop, UV_RUN_DEFAULT);
  }
  uv_loop_close(&loop);

  if (!outcome) {
    out << who << ": not sent: " << (not_started.empty() ? "the request never finished" : not_started) << "\n";
    return k_exit_not_delivered;
  }
  const alerts::Classified c = alerts::classify(*outcome);
  if (outcome->failure != alerts::HttpOutcome::Failure::none) {
    out << who << ": " << c.description << " (after " << outcome->elapsed_ms << " ms): " << meaning(c) << "\n";
    return k_exit_not_delivered;
  }
  out << who << ": HTTP " << outcome->status << " in " << outcome->elapsed_ms << " ms: " << meaning(c);
  if (c.kind != alerts::OutcomeKind::delivered) out << " (" << c.description << ")";
  if (outcome->retry_after && c.kind != alerts::OutcomeKind::delivered) out << " [Retry-After: " << *outcome->retry_after << "]";
  out << "\n";
  return c.kind == alerts::OutcomeKind::delivered ? 0 : k_exit_not_delivered;
}

}  // namespace caad::cli
