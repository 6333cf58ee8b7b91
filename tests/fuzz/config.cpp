// Fuzz target for the configuration file and the values users type into it
// and into import files: each input is parsed as TOML text by config::parse,
// and as a duration and a timestamp. Besides not crashing, parse() must never
// throw (toml++ throws; the boundary must catch), every error must be one
// printable line that starts with the file name, and whatever parses must
// hold the invariants the daemon relies on without re-checking.
#include "lib/config/config.h"

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "lib/util/time.h"

namespace {

void require(bool condition, const char* what, std::string_view input) {
  if (condition) return;
  std::fprintf(stderr, "config: %s\n  input (%zu bytes): %.*s\n", what, input.size(),
               static_cast<int>(input.size()), input.data());
  std::abort();
}

bool is_one_printable_line(const std::string& s) {
  for (char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) return false;
  }
  return !s.empty();
}

void check_config(std::string_view input) {
  const auto parsed = caad::config::parse(input, "fuzz.toml");
  if (!parsed) {
    const std::string& message = parsed.error().message;
    require(message.rfind("fuzz.toml:", 0) == 0, "error does not start with the source", input);
    require(is_one_printable_line(message), "error is not one printable line", input);
    return;
  }
  const caad::config::Config& c = *parsed;
  require(!c.cas.empty(), "no CA configured", input);
  for (const auto& ca : c.cas) {
    require(!ca.name.empty() && !ca.profile.issuer.empty(), "CA without name or issuer", input);
    require(c.find_ca(ca.name) == &ca, "find_ca does not find a CA by its name", input);
  }
  const caad::config::ScheduleConfig& s = c.schedule;
  require(s.window_day < s.window_week && s.window_week < s.window_near, "windows out of order",
          input);
  require(s.failure_retry_min <= s.failure_retry_max, "retry backoff out of order", input);
  require(s.interval_far > 0 && s.interval_near > 0 && s.interval_week > 0 && s.interval_day > 0 &&
              s.target_interval > 0,
          "interval not positive", input);
  require(s.renew_fraction > 0.0 && s.renew_fraction < 1.0, "renew_fraction out of range", input);
  require(s.jitter >= 0.0 && s.jitter <= 0.5, "jitter out of range", input);
  require(c.concurrency >= 1 && c.attempts >= 1 && c.batch_size >= 1, "zero count", input);
  for (const auto& hook : c.webhooks) {
    require(hook.format != "generic" || hook.secret_file.has_value(),
            "generic webhook without secret", input);
  }
}

void check_duration(std::string_view input) {
  const auto seconds = caad::parse_duration_seconds(input);
  if (!seconds) {
    require(is_one_printable_line(seconds.error().message), "duration error is not one line",
            input);
    return;
  }
  require(*seconds > 0, "duration not positive", input);
  require(!caad::format_duration(*seconds).empty(), "duration formats as nothing", input);
}

void check_timestamp(std::string_view input) {
  const auto t = caad::parse_timestamp(input);
  if (!t) {
    require(is_one_printable_line(t.error().message), "timestamp error is not one line", input);
    return;
  }
  // Within years 0000-9999 the formatted form must parse back to the same
  // second (offsets can push a parsed time just outside that range).
  const std::string text = caad::format_timestamp(*t);
  if (*t >= -62167219200 && *t <= 253402300799) {
    const auto back = caad::parse_timestamp(text);
    require(back.has_value() && *back == *t, "format_timestamp does not parse back", input);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  check_config(input);
  check_duration(input);
  check_timestamp(input);
  return 0;
}
