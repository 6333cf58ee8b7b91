// Tests for lib/config: defaults, the minimal file from the issue, the
// packaged example, every key, and every error path with its exact
// "file:line: key: what" message.
#include "lib/config/config.h"

#include <doctest/doctest.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace config = caad::config;
using caad::caa::Behaviour;
using caad::dns::Name;

namespace {

config::Config parse_ok(const std::string& text) {
  auto got = config::parse(text, "caad.toml");
  if (!got) FAIL(got.error().message);
  return std::move(*got);
}

std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path);
  REQUIRE(in.good());
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

const std::filesystem::path k_example =
    std::filesystem::path(__FILE__).parent_path() / "../../examples/caad.toml";

// The parts of two configurations that a file can set.
void check_same(const config::Config& got, const config::Config& want) {
  CHECK(got.database == want.database);
  CHECK(got.resolvers == want.resolvers);
  CHECK(got.provider_targets == want.provider_targets);
  CHECK(got.concurrency == want.concurrency);
  CHECK(got.max_qps == want.max_qps);
  CHECK(got.timeout_ms == want.timeout_ms);
  CHECK(got.attempts == want.attempts);
  CHECK(got.batch_size == want.batch_size);
  CHECK(got.history_retention == want.history_retention);
  CHECK(got.log_level == want.log_level);
  CHECK(got.metrics_listen == want.metrics_listen);
  REQUIRE(got.cas.size() == want.cas.size());
  for (std::size_t i = 0; i < got.cas.size(); ++i) {
    CHECK(got.cas[i].name == want.cas[i].name);
    CHECK(got.cas[i].profile.issuer == want.cas[i].profile.issuer);
    CHECK(got.cas[i].profile.account_uri == want.cas[i].profile.account_uri);
    CHECK(got.cas[i].profile.method == want.cas[i].profile.method);
    CHECK(got.cas[i].profile.behaviour == want.cas[i].profile.behaviour);
  }
  const config::ScheduleConfig& a = got.schedule;
  const config::ScheduleConfig& b = want.schedule;
  CHECK(a.interval_far == b.interval_far);
  CHECK(a.interval_near == b.interval_near);
  CHECK(a.interval_week == b.interval_week);
  CHECK(a.interval_day == b.interval_day);
  CHECK(a.window_near == b.window_near);
  CHECK(a.window_week == b.window_week);
  CHECK(a.window_day == b.window_day);
  CHECK(a.assumed_lifetime == b.assumed_lifetime);
  CHECK(a.renew_fraction == b.renew_fraction);
  CHECK(a.failure_retry_min == b.failure_retry_min);
  CHECK(a.failure_retry_max == b.failure_retry_max);
  CHECK(a.jitter == b.jitter);
  CHECK(a.target_interval == b.target_interval);
  CHECK(a.at_risk_window == b.at_risk_window);
  CHECK(got.webhooks.size() == want.webhooks.size());
}

// The example with every "#key = value" line switched on; such a line
// replaces the default line directly above it for the same key.
std::string uncomment_examples(const std::string& text) {
  std::istringstream in(text);
  std::vector<std::string> lines;
  std::string line;
  while (std::getline(in, line)) {
    if (line.size() > 1 && line[0] == '#' && line[1] != ' ' && line[1] != '#') {
      line.erase(0, 1);
      const std::string key = line.substr(0, line.find(" = ") + 3);
      if (!lines.empty() && lines.back().rfind(key, 0) == 0) lines.pop_back();
    }
    lines.push_back(line);
  }
  std::string out;
  for (const std::string& l : lines) out += l + "\n";
  return out;
}

}  // namespace

TEST_CASE("an empty file gives the defaults and the default CA") {
  const config::Config c = parse_ok("");
  CHECK(c.source == "caad.toml");
  CHECK(c.database == "/var/lib/caad/caad.db");
  CHECK(c.resolvers.empty());
  CHECK(c.provider_targets.empty());
  CHECK(c.concurrency == 256);
  CHECK(c.max_qps == 0);
  CHECK(c.timeout_ms == 2000);
  CHECK(c.attempts == 3);
  CHECK(c.batch_size == 500);
  CHECK(c.history_retention == 90 * 86400);
  CHECK(c.log_level == "info");
  CHECK(c.webhooks.empty());
  REQUIRE(c.cas.size() == 1);
  CHECK(c.cas[0].name == "letsencrypt");
  CHECK(c.cas[0].profile.issuer == "letsencrypt.org");
  CHECK(c.cas[0].profile.behaviour == Behaviour::strictest);
  CHECK_FALSE(c.cas[0].profile.account_uri.has_value());
  CHECK_FALSE(c.cas[0].profile.method.has_value());
  CHECK(c.schedule.interval_near == 6 * 3600);
  CHECK(c.schedule.window_day == 86400);

  // Comments and blank lines only: still the defaults.
  check_same(parse_ok("# nothing here\n\n   \n"), c);
}

TEST_CASE("the local default keeps the database in the working directory") {
  const config::Config c = config::local_default();
  CHECK(c.database == "caad.db");
  CHECK(c.resolvers.empty());
  config::Config want = parse_ok("");
  want.database = "caad.db";
  check_same(c, want);
}

TEST_CASE("the minimal file from the issue parses") {
  const config::Config c = parse_ok(
      "database = \"/var/lib/caad/caad.db\"\n"
      "resolvers = [\"127.0.0.1:53\"]\n"
      "provider_targets = [\"domains.provider.example\"]\n"
      "\n"
      "[[ca]]\n"
      "name = \"letsencrypt\"\n"
      "issuer = \"letsencrypt.org\"\n"
      "account_uri = \"https://acme-v02.api.letsencrypt.org/acme/acct/123\"\n"
      "method = \"http-01\"\n"
      "profile = \"letsencrypt\"\n");
  CHECK(c.database == "/var/lib/caad/caad.db");
  CHECK(c.resolvers == std::vector<std::string>{"127.0.0.1:53"});
  REQUIRE(c.provider_targets.size() == 1);
  CHECK(c.provider_targets[0].text() == "domains.provider.example");
  REQUIRE(c.cas.size() == 1);
  CHECK(c.cas[0].name == "letsencrypt");
  CHECK(c.cas[0].profile.issuer == "letsencrypt.org");
  CHECK(c.cas[0].profile.account_uri == "https://acme-v02.api.letsencrypt.org/acme/acct/123");
  CHECK(c.cas[0].profile.method == "http-01");
  CHECK(c.cas[0].profile.behaviour == Behaviour::letsencrypt);
  CHECK(c.schedule.interval_far == 86400);  // untouched defaults
  CHECK(c.webhooks.empty());
}

TEST_CASE("the packaged example parses and states the built-in defaults") {
  const std::string text = read_file(k_example);
  const config::Config c = parse_ok(text);
  check_same(c, parse_ok(""));

  // Its commented-out examples are valid too.
  const config::Config all = parse_ok(uncomment_examples(text));
  CHECK(all.resolvers.size() == 2);
  CHECK(all.provider_targets.size() == 1);
  REQUIRE(all.cas.size() == 1);
  CHECK(all.cas[0].profile.account_uri.has_value());
  CHECK(all.cas[0].profile.method == "http-01");
  REQUIRE(all.webhooks.size() == 1);
  CHECK(all.webhooks[0].format == "slack");
  CHECK(all.webhooks[0].secret_file.has_value());
}

TEST_CASE("every key is read") {
  const config::Config c = parse_ok(R"(
database = "/srv/caad/state.db"
resolvers = ["127.0.0.1:5353", "[::1]:53"]
provider_targets = ["Domains.Provider.Example.", "bücher.example"]
concurrency = 64
max_qps = 500
timeout_ms = 750
attempts = 2
batch_size = 1000
history_retention = "2w"
log_level = "debug"

[[ca]]
name = "le_prod"
issuer = "LetsEncrypt.org."
account_uri = "https://acme-v02.api.letsencrypt.org/acme/acct/123"
method = "dns-01"
profile = "rfc8659"

[[ca]]
name = "digicert-2"
issuer = "digicert.com"

[schedule]
interval_far = "2d"
interval_near = "4h"
interval_week = "30m"
interval_day = "5m"
window_near = "3w"
window_week = "5d"
window_day = "12h"
assumed_lifetime = "47d"
renew_fraction = 0.5
failure_retry_min = "1m"
failure_retry_max = "1m"
jitter = 0
target_interval = "90s"
at_risk_window = "10d"

[[webhook]]
name = "ops"
format = "slack"
url = "https://hooks.slack.com/services/T/B/X"
events = ["regression", "provider_target_broken"]
min_severity = "warning"
rate_per_minute = 20
max_attempts = 4
max_age = "2h"
digest_threshold = 0
timeout = "30s"
retry_min = "1s"
retry_max = "1m"

[[webhook]]
name = "relay"
format = "generic"
url = "http://127.0.0.1:8080/caad"
secret_file = "/etc/caad/relay.secret"
)");
  CHECK(c.database == "/srv/caad/state.db");
  CHECK(c.resolvers == std::vector<std::string>{"127.0.0.1:5353", "[::1]:53"});
  REQUIRE(c.provider_targets.size() == 2);
  CHECK(c.provider_targets[0].text() == "domains.provider.example");
  CHECK(c.provider_targets[1].text() == "xn--bcher-kva.example");
  CHECK(c.concurrency == 64);
  CHECK(c.max_qps == 500);
  CHECK(c.timeout_ms == 750);
  CHECK(c.attempts == 2);
  CHECK(c.batch_size == 1000);
  CHECK(c.history_retention == 14 * 86400);
  CHECK(c.log_level == "debug");

  REQUIRE(c.cas.size() == 2);
  CHECK(c.cas[0].name == "le_prod");
  CHECK(c.cas[0].profile.issuer == "letsencrypt.org");
  CHECK(c.cas[0].profile.method == "dns-01");
  CHECK(c.cas[0].profile.behaviour == Behaviour::rfc8659);
  CHECK(c.cas[1].name == "digicert-2");
  CHECK(c.cas[1].profile.issuer == "digicert.com");
  CHECK_FALSE(c.cas[1].profile.account_uri.has_value());
  CHECK(c.cas[1].profile.behaviour == Behaviour::strictest);

  const config::ScheduleConfig& s = c.schedule;
  CHECK(s.interval_far == 2 * 86400);
  CHECK(s.interval_near == 4 * 3600);
  CHECK(s.interval_week == 1800);
  CHECK(s.interval_day == 300);
  CHECK(s.window_near == 21 * 86400);
  CHECK(s.window_week == 5 * 86400);
  CHECK(s.window_day == 12 * 3600);
  CHECK(s.assumed_lifetime == 47 * 86400);
  CHECK(s.renew_fraction == 0.5);
  CHECK(s.failure_retry_min == 60);
  CHECK(s.failure_retry_max == 60);
  CHECK(s.jitter == 0.0);
  CHECK(s.target_interval == 90);
  CHECK(s.at_risk_window == 10 * 86400);

  REQUIRE(c.webhooks.size() == 2);
  CHECK(c.webhooks[0].name == "ops");
  CHECK(c.webhooks[0].format == "slack");
  CHECK(c.webhooks[0].url == "https://hooks.slack.com/services/T/B/X");
  CHECK_FALSE(c.webhooks[0].secret_file.has_value());
  CHECK(c.webhooks[0].events == std::vector<std::string>{"regression", "provider_target_broken"});
  CHECK(c.webhooks[0].min_severity == "warning");
  CHECK(c.webhooks[0].rate_per_minute == 20);
  CHECK(c.webhooks[0].max_attempts == 4);
  CHECK(c.webhooks[0].max_age == 7200);
  CHECK(c.webhooks[0].digest_threshold == 0);
  CHECK(c.webhooks[0].timeout == 30);
  CHECK(c.webhooks[0].retry_min == 1);
  CHECK(c.webhooks[0].retry_max == 60);
  CHECK(c.webhooks[1].name == "relay");
  CHECK(c.webhooks[1].format == "generic");
  CHECK(c.webhooks[1].secret_file == "/etc/caad/relay.secret");
  CHECK(c.webhooks[1].events.empty());
  CHECK(c.webhooks[1].min_severity == "info");
  // Delivery defaults; a generic receiver has no rate limit.
  CHECK(c.webhooks[1].rate_per_minute == 0);
  CHECK(c.webhooks[1].max_attempts == 10);
  CHECK(c.webhooks[1].max_age == 86400);
  CHECK(c.webhooks[1].digest_threshold == 10);
  CHECK(c.webhooks[1].timeout == 15);
  CHECK(c.webhooks[1].retry_min == 5);
  CHECK(c.webhooks[1].retry_max == 6 * 3600);

  CHECK(c.find_ca("le_prod") == &c.cas[0]);
  CHECK(c.find_ca("digicert-2") == &c.cas[1]);
  CHECK(c.find_ca("letsencrypt") == nullptr);
  CHECK(c.find_ca("") == nullptr);
}

TEST_CASE("inline tables and arrays of inline tables read like the long forms") {
  const config::Config c = parse_ok(
      "ca = [{name = \"a\", issuer = \"a.example\"}, {name = \"b\", issuer = \"b.example\", "
      "profile = \"letsencrypt\"}]\n"
      "schedule = {interval_far = \"3d\", jitter = 0.25}\n");
  REQUIRE(c.cas.size() == 2);
  CHECK(c.cas[1].profile.behaviour == Behaviour::letsencrypt);
  CHECK(c.schedule.interval_far == 3 * 86400);
  CHECK(c.schedule.jitter == 0.25);
}

TEST_CASE("webhook URLs: https anywhere, plain http only to this host") {
  const std::vector<std::string> good = {
      "https://hooks.slack.com/services/T/B/X",
      "HTTPS://hooks.example/x",
      "https://hooks.example",
      "https://hooks.example:8443/x?y=1#z",
      "https://user:pw@hooks.example/x",
      "https://[2001:db8::1]/x",
      "http://127.0.0.1/",
      "http://127.0.0.1:8080/caad",
      "http://127.255.10.1",
      "http://localhost:9/x",
      "http://LocalHost/x",
      "http://[::1]:8080/hook",
      "http://user@127.0.0.1/x",
  };
  for (const std::string& url : good) {
    CAPTURE(url);
    const config::Config c =
        parse_ok("[[webhook]]\nname = \"w\"\nformat = \"slack\"\nurl = \"" + url + "\"\n");
    REQUIRE(c.webhooks.size() == 1);
    CHECK(c.webhooks[0].url == url);
  }
}

TEST_CASE("every error names the file, the line and the key") {
  const std::string top_keys =
      "database, resolvers, provider_targets, concurrency, max_qps, timeout_ms, attempts, "
      "batch_size, history_retention, log_level, metrics_listen, ca, schedule or webhook";
  const std::string duration_shape =
      "is not a duration: expected a whole number and one unit (s, m, h, d or w), like 90s, 15m, "
      "6h, 30d or 2w";
  const std::string http_rule =
      "must start with https:// (http:// is allowed only for 127.0.0.0/8, [::1] and localhost)";
  const std::string hook = "[[webhook]]\nname = \"w\"\nformat = \"slack\"\n";
  const std::string all_events =
      "regression, lookup_failure, recovery, renewal_at_risk, provider_target_broken or "
      "provider_target_recovered";
  struct Case {
    std::string text;
    std::string want;
  };
  // One case per line: the expected messages are easier to check whole than
  // broken up by the formatter.
  // clang-format off
  const std::vector<Case> cases = {
      // TOML syntax, as toml++ describes it, with the column.
      {"database = \n", "caad.toml:1:12: Error while parsing key-value pair: expected value, saw '\\n'"},
      {"a = 1\na = 2\n", "caad.toml:2:5: Error while parsing key-value pair: cannot redefine existing integer 'a'"},
      {"[schedule]\n[schedule]\n", "caad.toml:2:1: Error while parsing table header: cannot redefine existing table 'schedule'"},
      {"x = \"\xff\"\n", "caad.toml:1:5: Encountered invalid utf-8 sequence"},
      {"database = \"a\nb\"\n", "caad.toml:1:14: Error while parsing string: unescaped control characters other than TAB (U+0009) are explicitly prohibited"},

      // Unknown keys, at every level, in file order (not alphabetical).
      {"colour = \"blue\"\n", "caad.toml:1: colour: unknown key (the keys here are " + top_keys + ")"},
      {"zeta = 1\nalpha = 2\n", "caad.toml:1: zeta: unknown key (the keys here are " + top_keys + ")"},
      {"log_level = \"info\"\n\"odd key\" = 1\n", "caad.toml:2: \"odd key\": unknown key (the keys here are " + top_keys + ")"},
      {"[[ca]]\nname = \"a\"\nissuer = \"a.example\"\ncolour = 1\n",
       "caad.toml:4: ca[0].colour: unknown key (the keys here are name, issuer, account_uri, method or profile)"},
      {"[schedule]\ninterval = \"6h\"\n",
       "caad.toml:2: schedule.interval: unknown key (the keys here are interval_far, interval_near, "
       "interval_week, interval_day, window_near, window_week, window_day, assumed_lifetime, "
       "renew_fraction, failure_retry_min, failure_retry_max, jitter, target_interval or at_risk_window)"},
      {hook + "url = \"https://x.example\"\nretries = 3\n",
       "caad.toml:5: webhook[0].retries: unknown key (the keys here are name, format, url, secret_file, events, min_severity, "
       "rate_per_minute, max_attempts, max_age, digest_threshold, timeout, retry_min or retry_max)"},
      {"[schedule.extra]\nx = 1\n",
       "caad.toml:1: schedule.extra: unknown key (the keys here are interval_far, interval_near, "
       "interval_week, interval_day, window_near, window_week, window_day, assumed_lifetime, "
       "renew_fraction, failure_retry_min, failure_retry_max, jitter, target_interval or at_risk_window)"},

      // Top-level values.
      {"database = 5\n", "caad.toml:1: database: expected a string, found an integer"},
      {"database = true\n", "caad.toml:1: database: expected a string, found a boolean"},
      {"database = 1979-05-27\n", "caad.toml:1: database: expected a string, found a date"},
      {"database = [\"a\"]\n", "caad.toml:1: database: expected a string, found an array"},
      {"\n\ndatabase = \"\"\n", "caad.toml:3: database: must not be empty"},
      {"database = \"a\\u0000b\"\n", "caad.toml:1: database: \"a\\x00b\" contains a control character"},
      {"resolvers = \"127.0.0.1\"\n", "caad.toml:1: resolvers: expected an array of strings, found a string"},
      {"resolvers = [\"127.0.0.1\",\n  53]\n", "caad.toml:2: resolvers[1]: expected a string, found an integer"},
      {"resolvers = [\"\"]\n", "caad.toml:1: resolvers[0]: must not be empty"},
      {"provider_targets = [\"ok.example\", \"bad..example\"]\n",
       "caad.toml:1: provider_targets[1]: \"bad..example\": has an empty label (\"..\")"},
      {"provider_targets = [\"a.example\",\n\"A.example.\"]\n",
       "caad.toml:2: provider_targets[1]: \"a.example\" is listed twice"},
      {"provider_targets = [{}]\n", "caad.toml:1: provider_targets[0]: expected a string, found a table"},
      {"concurrency = 0\n", "caad.toml:1: concurrency: must be from 1 to 10000, found 0"},
      {"concurrency = 10001\n", "caad.toml:1: concurrency: must be from 1 to 10000, found 10001"},
      {"concurrency = \"8\"\n", "caad.toml:1: concurrency: expected an integer, found a string"},
      {"concurrency = 1.5\n", "caad.toml:1: concurrency: expected an integer, found a floating-point number"},
      {"max_qps = -1\n", "caad.toml:1: max_qps: must be from 0 to 1000000, found -1"},
      {"timeout_ms = 5\n", "caad.toml:1: timeout_ms: must be from 10 to 60000, found 5"},
      {"attempts = 11\n", "caad.toml:1: attempts: must be from 1 to 10, found 11"},
      {"batch_size = 0\n", "caad.toml:1: batch_size: must be from 1 to 100000, found 0"},
      {"batch_size = 9223372036854775807\n", "caad.toml:1: batch_size: must be from 1 to 100000, found 9223372036854775807"},
      {"history_retention = \"90 days\"\n", "caad.toml:1: history_retention: \"90 days\" " + duration_shape},
      {"history_retention = 90\n", "caad.toml:1: history_retention: expected a duration string like \"6h\", found an integer"},
      {"history_retention = \"0d\"\n", "caad.toml:1: history_retention: \"0d\" is not a duration: it must be longer than zero"},
      {"log_level = \"verbose\"\n", "caad.toml:1: log_level: \"verbose\" is not one of trace, debug, info, warn or error"},
      {"log_level = \"INFO\"\n", "caad.toml:1: log_level: \"INFO\" is not one of trace, debug, info, warn or error"},

      // [[ca]]
      {"ca = \"letsencrypt\"\n", "caad.toml:1: ca: expected an array of tables ([[ca]]), found a string"},
      {"[ca]\nname = \"x\"\n", "caad.toml:1: ca: expected an array of tables ([[ca]]), found a table"},
      {"ca = []\n", "caad.toml:1: ca: lists no CA; leave the key out to use the default (letsencrypt.org)"},
      {"ca = [1]\n", "caad.toml:1: ca[0]: expected a table, found an integer"},
      {"[[ca]]\nissuer = \"a.example\"\n",
       "caad.toml:1: ca[0].name: missing; every [[ca]] needs a short name, like \"letsencrypt\""},
      {"[[ca]]\nname = \"a\"\nissuer = \"a.example\"\n\n[[ca]]\nname = \"b\"\n",
       "caad.toml:5: ca[1].issuer: missing; every [[ca]] needs its CAA issuer domain, like \"letsencrypt.org\""},
      {"[[ca]]\nname = \"Lets Encrypt\"\n",
       "caad.toml:2: ca[0].name: \"Lets Encrypt\" is not a valid name: use lower-case letters, digits, '-' and '_'"},
      {"[[ca]]\nname = \"\"\n", "caad.toml:2: ca[0].name: \"\" is not a valid name: use lower-case letters, digits, '-' and '_'"},
      {"[[ca]]\nname = 1\n", "caad.toml:2: ca[0].name: expected a string, found an integer"},
      {"[[ca]]\nname = \"a\"\nissuer = \"a.example\"\n[[ca]]\nname = \"a\"\n",
       "caad.toml:5: ca[1].name: \"a\" is already the name of ca[0]"},
      {"[[ca]]\nname = \"a\"\nissuer = \"-x.example\"\n",
       "caad.toml:3: ca[0].issuer: \"-x.example\": label \"-x\" starts with a hyphen"},
      {"[[ca]]\nname = \"a\"\nissuer = [\"a.example\"]\n", "caad.toml:3: ca[0].issuer: expected a string, found an array"},
      {"[[ca]]\naccount_uri = \"\"\n", "caad.toml:2: ca[0].account_uri: must not be empty"},
      {"[[ca]]\naccount_uri = \"https://ca.example/acct/1 2\"\n",
       "caad.toml:2: ca[0].account_uri: \"https://ca.example/acct/1 2\" cannot appear in a CAA accounturi "
       "parameter (printable ASCII without spaces or ';')"},
      {"[[ca]]\naccount_uri = \"https://ca.example/acct;1\"\n",
       "caad.toml:2: ca[0].account_uri: \"https://ca.example/acct;1\" cannot appear in a CAA accounturi "
       "parameter (printable ASCII without spaces or ';')"},
      {"[[ca]]\nmethod = \"http_01\"\n",
       "caad.toml:2: ca[0].method: \"http_01\" is not an ACME validation method name like http-01, "
       "dns-01 or tls-alpn-01 (RFC 8657: letters and digits, inner hyphens)"},
      {"[[ca]]\nmethod = \"http-\"\n",
       "caad.toml:2: ca[0].method: \"http-\" is not an ACME validation method name like http-01, "
       "dns-01 or tls-alpn-01 (RFC 8657: letters and digits, inner hyphens)"},
      {"[[ca]]\nmethod = \"\"\n",
       "caad.toml:2: ca[0].method: \"\" is not an ACME validation method name like http-01, "
       "dns-01 or tls-alpn-01 (RFC 8657: letters and digits, inner hyphens)"},
      {"[[ca]]\nprofile = \"lenient\"\n",
       "caad.toml:2: ca[0].profile: \"lenient\" is not one of letsencrypt, rfc8659 or strictest"},

      // [schedule]
      {"schedule = 1\n", "caad.toml:1: schedule: expected a table, found an integer"},
      {"[[schedule]]\n", "caad.toml:1: schedule: expected a table, found an array"},
      {"[schedule]\ninterval_near = \"6 hours\"\n", "caad.toml:2: schedule.interval_near: \"6 hours\" " + duration_shape},
      {"[schedule]\ninterval_near = 6\n",
       "caad.toml:2: schedule.interval_near: expected a duration string like \"6h\", found an integer"},
      {"schedule = {interval_day = \"-15m\"}\n", "caad.toml:1: schedule.interval_day: \"-15m\" " + duration_shape},
      {"[schedule]\ninterval_far = \"0s\"\n",
       "caad.toml:2: schedule.interval_far: \"0s\" is not a duration: it must be longer than zero"},
      {"[schedule]\nrenew_fraction = 0\n", "caad.toml:2: schedule.renew_fraction: must be more than 0 and less than 1, found 0"},
      {"[schedule]\nrenew_fraction = 1.0\n", "caad.toml:2: schedule.renew_fraction: must be more than 0 and less than 1, found 1"},
      {"[schedule]\nrenew_fraction = nan\n", "caad.toml:2: schedule.renew_fraction: must be more than 0 and less than 1, found nan"},
      {"[schedule]\nrenew_fraction = \"0.3\"\n", "caad.toml:2: schedule.renew_fraction: expected a number, found a string"},
      {"[schedule]\njitter = -0.1\n", "caad.toml:2: schedule.jitter: must be from 0 to 0.5, found -0.1"},
      {"[schedule]\njitter = 0.51\n", "caad.toml:2: schedule.jitter: must be from 0 to 0.5, found 0.51"},
      {"[schedule]\njitter = inf\n", "caad.toml:2: schedule.jitter: must be from 0 to 0.5, found inf"},
      {"[schedule]\nwindow_day = \"8d\"\n",
       "caad.toml:2: schedule.window_day: 8d must be shorter than schedule.window_week (7d)"},
      {"[schedule]\nwindow_day = \"7d\"\n",
       "caad.toml:2: schedule.window_day: 7d must be shorter than schedule.window_week (7d)"},
      {"[schedule]\nwindow_week = \"12h\"\n",
       "caad.toml:2: schedule.window_week: 12h must be longer than schedule.window_day (1d)"},
      {"[schedule]\nwindow_week = \"31d\"\n",
       "caad.toml:2: schedule.window_week: 31d must be shorter than schedule.window_near (30d)"},
      {"[schedule]\nwindow_near = \"3d\"\n",
       "caad.toml:2: schedule.window_near: 3d must be longer than schedule.window_week (7d)"},
      {"[schedule]\nwindow_day = \"2d\"\nwindow_week = \"1d\"\n",
       "caad.toml:3: schedule.window_week: 1d must be longer than schedule.window_day (2d)"},
      {"[schedule]\nwindow_week = \"1d\"\nwindow_day = \"2d\"\n",
       "caad.toml:3: schedule.window_day: 2d must be shorter than schedule.window_week (1d)"},
      {"[schedule]\nfailure_retry_min = \"2h\"\n",
       "caad.toml:2: schedule.failure_retry_min: 2h must be no longer than schedule.failure_retry_max (1h)"},
      {"[schedule]\nfailure_retry_max = \"1m\"\n",
       "caad.toml:2: schedule.failure_retry_max: 1m must be no shorter than schedule.failure_retry_min (5m)"},

      // [[webhook]]
      {"webhook = {name = \"w\"}\n", "caad.toml:1: webhook: expected an array of tables ([[webhook]]), found a table"},
      {"[[webhook]]\nformat = \"slack\"\n",
       "caad.toml:1: webhook[0].name: missing; every [[webhook]] needs a short name, like \"ops-slack\""},
      {"[[webhook]]\nname = \"w\"\nurl = \"https://x.example\"\n",
       "caad.toml:1: webhook[0].format: missing; say slack, discord, teams, mattermost or generic"},
      {hook, "caad.toml:1: webhook[0].url: missing; give the https:// URL to post alerts to"},
      {"[[webhook]]\nname = \"w\"\nformat = \"generic\"\nurl = \"https://x.example\"\n",
       "caad.toml:1: webhook[0].secret_file: missing; a generic webhook signs each request with the secret in this file"},
      {"[[webhook]]\nname = \"ops slack\"\n",
       "caad.toml:2: webhook[0].name: \"ops slack\" is not a valid name: use lower-case letters, digits, '-' and '_'"},
      {hook + "url = \"https://x.example\"\n\n" + hook,
       "caad.toml:7: webhook[1].name: \"w\" is already the name of webhook[0]"},
      {"[[webhook]]\nformat = \"email\"\n",
       "caad.toml:2: webhook[0].format: \"email\" is not one of slack, discord, teams, mattermost or generic"},
      {hook + "url = \"ftp://x.example/\"\n", "caad.toml:4: webhook[0].url: \"ftp://x.example/\" " + http_rule},
      {hook + "url = \"x.example/hook\"\n", "caad.toml:4: webhook[0].url: \"x.example/hook\" " + http_rule},
      {hook + "url = \"http://hooks.example/x\"\n", "caad.toml:4: webhook[0].url: \"http://hooks.example/x\" " + http_rule},
      {hook + "url = \"http://128.0.0.1/x\"\n", "caad.toml:4: webhook[0].url: \"http://128.0.0.1/x\" " + http_rule},
      {hook + "url = \"http://127.0.0.1.evil.example/\"\n",
       "caad.toml:4: webhook[0].url: \"http://127.0.0.1.evil.example/\" " + http_rule},
      {hook + "url = \"http://127.0.0.1@evil.example/\"\n",
       "caad.toml:4: webhook[0].url: \"http://127.0.0.1@evil.example/\" " + http_rule},
      {hook + "url = \"http://localhost.evil.example/\"\n",
       "caad.toml:4: webhook[0].url: \"http://localhost.evil.example/\" " + http_rule},
      {hook + "url = \"http://[::2]/\"\n", "caad.toml:4: webhook[0].url: \"http://[::2]/\" " + http_rule},
      {hook + "url = \"http://127.0.0.256/\"\n", "caad.toml:4: webhook[0].url: \"http://127.0.0.256/\" " + http_rule},
      {hook + "url = \"https://\"\n", "caad.toml:4: webhook[0].url: \"https://\" has no host"},
      {hook + "url = \"https:///x\"\n", "caad.toml:4: webhook[0].url: \"https:///x\" has no host"},
      {hook + "url = \"https://[::1\"\n", "caad.toml:4: webhook[0].url: \"https://[::1\" has a '[' without ']' around its host"},
      {hook + "url = \"https://[::1]x/\"\n", "caad.toml:4: webhook[0].url: \"https://[::1]x/\" has text after the ']' of its host"},
      {hook + "url = \"https://x.example:0/\"\n",
       "caad.toml:4: webhook[0].url: \"https://x.example:0/\" has a port that is not a number from 1 to 65535"},
      {hook + "url = \"https://x.example:/\"\n",
       "caad.toml:4: webhook[0].url: \"https://x.example:/\" has a port that is not a number from 1 to 65535"},
      {hook + "url = \"https://x.example:65536/\"\n",
       "caad.toml:4: webhook[0].url: \"https://x.example:65536/\" has a port that is not a number from 1 to 65535"},
      {hook + "url = \"https://x.example:8a/\"\n",
       "caad.toml:4: webhook[0].url: \"https://x.example:8a/\" has a port that is not a number from 1 to 65535"},
      {hook + "url = \"https://x.example/a b\"\n",
       "caad.toml:4: webhook[0].url: \"https://x.example/a b\" must not contain spaces, control "
       "characters or non-ASCII characters (percent-encode them)"},
      {hook + "url = \"https://bücher.example/\"\n",
       "caad.toml:4: webhook[0].url: \"https://bücher.example/\" must not contain spaces, control "
       "characters or non-ASCII characters (percent-encode them)"},
      {hook + "url = 443\n", "caad.toml:4: webhook[0].url: expected a string, found an integer"},
      {hook + "secret_file = \"\"\n", "caad.toml:4: webhook[0].secret_file: must not be empty"},
      {hook + "events = \"regression\"\n", "caad.toml:4: webhook[0].events: expected an array of strings, found a string"},
      {hook + "events = []\n",
       "caad.toml:4: webhook[0].events: lists no events; leave the key out to receive every event"},
      {hook + "events = [\"regression\", \"deploy\"]\n",
       "caad.toml:4: webhook[0].events[1]: \"deploy\" is not one of " + all_events},
      {hook + "events = [\"recovery\",\n  \"recovery\"]\n",
       "caad.toml:5: webhook[0].events[1]: \"recovery\" is listed twice"},
      {hook + "min_severity = \"error\"\n",
       "caad.toml:4: webhook[0].min_severity: \"error\" is not one of info, warning or critical"},
      {hook + "rate_per_minute = 60001\n",
       "caad.toml:4: webhook[0].rate_per_minute: must be from 0 to 60000, found 60001"},
      {hook + "max_attempts = 0\n", "caad.toml:4: webhook[0].max_attempts: must be from 1 to 100, found 0"},
      {hook + "max_age = \"30s\"\n", "caad.toml:4: webhook[0].max_age: must be from 1m to 30d, found 30s"},
      {hook + "digest_threshold = -1\n",
       "caad.toml:4: webhook[0].digest_threshold: must be from 0 to 100000, found -1"},
      {hook + "timeout = \"10m\"\n", "caad.toml:4: webhook[0].timeout: must be from 1s to 5m, found 10m"},
      {hook + "timeout = 15\n", "caad.toml:4: webhook[0].timeout: expected a duration string like \"6h\", found an integer"},
      {hook + "retry_max = \"2s\"\nretry_min = \"1m\"\n",
       "caad.toml:5: webhook[0].retry_min: 1m must be no longer than retry_max (2s)"},
      {hook + "retry_min = \"1m\"\nretry_max = \"2s\"\n",
       "caad.toml:5: webhook[0].retry_max: 2s must be no shorter than retry_min (1m)"},
  };
  // clang-format on
  for (const auto& c : cases) {
    CAPTURE(c.text);
    auto got = config::parse(c.text, "caad.toml");
    REQUIRE_FALSE(got.has_value());
    CHECK(got.error().message == c.want);
  }
}

TEST_CASE("an error in a later table is reported after every earlier key is accepted") {
  auto got = config::parse(
      "database = \"/var/lib/caad/caad.db\"\n"
      "\n"
      "[[ca]]\n"
      "name = \"letsencrypt\"\n"
      "issuer = \"letsencrypt.org\"\n"
      "\n"
      "[[ca]]\n"
      "name = \"other\"\n"
      "issuer = \"other.example\"\n"
      "profile = \"lenient\"\n",
      "/etc/caad/caad.toml");
  REQUIRE_FALSE(got.has_value());
  CHECK(got.error().message ==
        "/etc/caad/caad.toml:10: ca[1].profile: \"lenient\" is not one of letsencrypt, rfc8659 or "
        "strictest");
}

TEST_CASE("load reads the file and names it in errors") {
  const std::filesystem::path dir =
      std::filesystem::temp_directory_path() / ("caad-config-test-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const std::string good = (dir / "good.toml").string();
  const std::string bad = (dir / "bad.toml").string();
  {
    std::ofstream(good) << "log_level = \"warn\"\n";
    std::ofstream(bad) << "\nlog_level = \"loud\"\n";
  }

  auto loaded = config::load(good);
  REQUIRE(loaded.has_value());
  CHECK(loaded->source == good);
  CHECK(loaded->log_level == "warn");
  CHECK(loaded->cas.size() == 1);

  auto failed = config::load(bad);
  REQUIRE_FALSE(failed.has_value());
  CHECK(failed.error().message ==
        bad + ":2: log_level: \"loud\" is not one of trace, debug, info, warn or error");

  auto missing = config::load((dir / "missing.toml").string());
  REQUIRE_FALSE(missing.has_value());
  CHECK(missing.error().message == "cannot read configuration " + (dir / "missing.toml").string() +
                                       ": No such file or directory");

  auto directory = config::load(dir.string());
  REQUIRE_FALSE(directory.has_value());
  CHECK(directory.error().message ==
        "cannot read configuration " + dir.string() + ": Is a directory");

  std::filesystem::remove_all(dir);
}

TEST_CASE("the example file loads from disk") {
  auto loaded = config::load(k_example.string());
  if (!loaded) FAIL(loaded.error().message);
  CHECK(loaded->cas.size() == 1);
}

TEST_CASE("metrics_listen: off by default, IP literal and port when set") {
  CHECK(parse_ok("").metrics_listen.empty());
  CHECK(parse_ok("metrics_listen = \"\"").metrics_listen.empty());
  CHECK(parse_ok("metrics_listen = \"127.0.0.1:9464\"").metrics_listen == "127.0.0.1:9464");
  CHECK(parse_ok("metrics_listen = \"[::1]:9464\"").metrics_listen == "[::1]:9464");
  CHECK(parse_ok("metrics_listen = \"0.0.0.0:1\"").metrics_listen == "0.0.0.0:1");

  auto error_of = [](const std::string& text) {
    auto got = config::parse(text, "caad.toml");
    REQUIRE_FALSE(got.has_value());
    return got.error().message;
  };
  CHECK(error_of("\nmetrics_listen = \"localhost:9464\"") ==
        "caad.toml:2: metrics_listen: \"localhost:9464\" has no IPv4 address (host names are not accepted)");
  CHECK(error_of("metrics_listen = \"127.0.0.1\"") ==
        "caad.toml:1: metrics_listen: \"127.0.0.1\" is not \"ADDR:PORT\" (write IPv6 addresses as "
        "\"[::1]:9464\")");
  CHECK(error_of("metrics_listen = \"::1:9464\"").find("is not \"ADDR:PORT\"") != std::string::npos);
  CHECK(error_of("metrics_listen = \"[::1]\"") == "caad.toml:1: metrics_listen: \"[::1]\" is not \"[ADDR]:PORT\"");
  CHECK(error_of("metrics_listen = \"[127.0.0.1]:80\"") ==
        "caad.toml:1: metrics_listen: \"[127.0.0.1]:80\" has no IPv6 address (host names are not accepted)");
  for (const char* port : {"0", "65536", "", "80x", "-1"}) {
    CHECK(error_of(std::string("metrics_listen = \"127.0.0.1:") + port + "\"")
              .find("has a port that is not a number from 1 to 65535") != std::string::npos);
  }
  CHECK(error_of("metrics_listen = 9464") == "caad.toml:1: metrics_listen: expected a string, found an integer");
}

TEST_CASE("webhook rate limits default by format") {
  const config::Config c = parse_ok(
      "[[webhook]]\nname = \"s\"\nformat = \"slack\"\nurl = \"https://a.example\"\n"
      "[[webhook]]\nname = \"m\"\nformat = \"mattermost\"\nurl = \"https://a.example\"\n"
      "[[webhook]]\nname = \"d\"\nformat = \"discord\"\nurl = \"https://a.example\"\n"
      "[[webhook]]\nname = \"t\"\nformat = \"teams\"\nurl = \"https://a.example\"\n"
      "[[webhook]]\nname = \"g\"\nformat = \"generic\"\nurl = \"https://a.example\"\nsecret_file = \"/s\"\n"
      "[[webhook]]\nname = \"x\"\nrate_per_minute = 0\nformat = \"slack\"\nurl = \"https://a.example\"\n");
  REQUIRE(c.webhooks.size() == 6);
  CHECK(c.webhooks[0].rate_per_minute == 60);
  CHECK(c.webhooks[1].rate_per_minute == 60);
  CHECK(c.webhooks[2].rate_per_minute == 30);
  CHECK(c.webhooks[3].rate_per_minute == 60);
  CHECK(c.webhooks[4].rate_per_minute == 0);
  // Set before the format: still the value given, not the format's default.
  CHECK(c.webhooks[5].rate_per_minute == 0);
}
