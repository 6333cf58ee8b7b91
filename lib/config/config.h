// caad's configuration: /etc/caad/caad.toml (or --config FILE), parsed with
// toml++ into plain values with defaults. Unknown keys and bad values are
// errors that name the file, the line and the key; nothing is guessed.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "lib/caa/policy.h"
#include "lib/dns/name.h"
#include "lib/util/result.h"

namespace caad::config {

inline constexpr const char* k_default_path = "/etc/caad/caad.toml";

// One CA the provider renews with ([[ca]] tables, in order: primary first).
struct CaConfig {
  std::string name;  // short name used in domains' "ca" lists and in reports
  caa::CaProfile profile;
};

// Check cadence against renewal (all in seconds).
struct ScheduleConfig {
  std::int64_t interval_far = 24 * 3600;     // renewal more than `window_near` away
  std::int64_t interval_near = 6 * 3600;     // within window_near (30 days)
  std::int64_t interval_week = 3600;         // within window_week (7 days)
  std::int64_t interval_day = 15 * 60;       // within window_day (24 hours), and past renewal
  std::int64_t window_near = 30 * 86400;
  std::int64_t window_week = 7 * 86400;
  std::int64_t window_day = 86400;
  std::int64_t assumed_lifetime = 90 * 86400;  // when only not_after is known
  double renew_fraction = 1.0 / 3.0;           // renew when this part of the lifetime is left
  std::int64_t failure_retry_min = 5 * 60;     // first re-check after a lookup failure
  std::int64_t failure_retry_max = 3600;       // backoff cap (never beyond the cadence)
  double jitter = 0.1;                         // +/- this fraction of each interval
  std::int64_t target_interval = 5 * 60;       // provider targets re-checked this often
  std::int64_t at_risk_window = 14 * 86400;    // "renewal at risk" when not permitted this close
};

// One [[webhook]] table: where alerts go and how they are delivered.
struct WebhookConfig {
  std::string name;
  std::string format;       // slack | discord | teams | mattermost | generic
  std::string url;
  std::optional<std::string> secret_file;
  std::vector<std::string> events;  // event kinds wanted; empty: all
  std::string min_severity = "info";  // info | warning | critical
  // Messages per minute at most; 0: no limit. Default by format (see
  // default_rate_per_minute): chat services throttle about one a second.
  unsigned rate_per_minute = 0;
  unsigned max_attempts = 10;           // then the row is dead-lettered
  std::int64_t max_age = 24 * 3600;     // seconds; older undelivered rows are dead-lettered
  unsigned digest_threshold = 10;       // more rows waiting than this: one digest; 0: never
  std::int64_t timeout = 15;            // seconds per request (connecting: at most 5)
  std::int64_t retry_min = 5;           // seconds: first backoff, tripled per failure
  std::int64_t retry_max = 6 * 3600;    // seconds: backoff cap
};

// The rate limit a format gets when rate_per_minute is not set: Slack and
// Mattermost about one message a second, Discord 30 a minute per channel,
// Teams workflows 60; generic receivers are programs: no limit.
unsigned default_rate_per_minute(std::string_view format);

struct Config {
  std::string source = "(defaults)";  // file the values came from, for messages
  std::string database = "/var/lib/caad/caad.db";
  std::vector<std::string> resolvers;  // ADDR[:PORT]; empty: /etc/resolv.conf
  std::vector<dns::Name> provider_targets;
  std::vector<CaConfig> cas;           // empty in the file: letsencrypt.org, strictest
  ScheduleConfig schedule;
  unsigned concurrency = 256;          // lookups in flight
  unsigned max_qps = 0;                // per resolver; 0: no cap
  unsigned timeout_ms = 2000;          // per attempt
  unsigned attempts = 3;
  unsigned batch_size = 500;           // due domains taken / results written at once
  std::int64_t history_retention = 90 * 86400;
  std::string log_level = "info";      // trace | debug | info | warn | error
  // HTTP listener for /metrics and /healthz, "ADDR:PORT" or "[ADDR6]:PORT"; empty: none.
  std::string metrics_listen;
  std::vector<WebhookConfig> webhooks;

  // The CA a domain's "ca" name refers to, or nullptr.
  const CaConfig* find_ca(std::string_view name) const;
};

// Parses TOML text. `source` names the file in errors: "caad.toml:7:
// schedule.interval_near: "6 hours" is not a duration: ..."; array elements
// count from 0 ("ca[1].profile" is in the second [[ca]]). TOML syntax errors
// carry the column too: "caad.toml:3:9: <toml++'s description>".
Result<Config> parse(std::string_view text, std::string_view source);
// Reads and parses a file; a missing or unreadable file is an error that says so.
Result<Config> load(const std::string& path);
// The configuration used when none is given: defaults, with the database in
// the working directory ("caad.db") so that a first run needs no set-up.
Config local_default();

}  // namespace caad::config
