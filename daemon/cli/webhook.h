// `caad webhook test NAME`: sends a sample alert to one configured webhook,
// right now, and says what the receiver answered.
#pragma once

#include <iosfwd>
#include <optional>
#include <string>

namespace CLI {
class App;
}

namespace caad::cli {

struct WebhookOptions {
  std::string name;
  std::optional<std::string> config;
  bool digest = false;  // a sample digest instead of a single alert
};

CLI::App* add_webhook_command(CLI::App& app, WebhookOptions& options);
// Exit status: 0 when the receiver answered 2xx, 1 otherwise; 64 for a name
// the configuration does not have, 78 for a bad configuration or secret.
int run_webhook_test(const WebhookOptions& options, std::ostream& out, std::ostream& err);

}  // namespace caad::cli
