// Wall-clock time as caad stores it: whole seconds since the Unix epoch (UTC),
// the form SQLite and JSON carry, plus parsing of the durations ("15m", "6h",
// "30d") and timestamps (RFC 3339, "2026-12-31T00:00:00Z", or a date) that
// users write in configuration and import files.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "lib/util/result.h"

namespace caad {

using UnixSeconds = std::int64_t;

// The current wall-clock time.
UnixSeconds unix_now();

// "90s", "15m", "6h", "30d", "2w" (one unit, whole number, > 0). The error
// quotes the input.
Result<std::int64_t> parse_duration_seconds(std::string_view text);
std::string format_duration(std::int64_t seconds);  // "6h", "1d 2h", "45s"

// RFC 3339 ("2026-12-31T23:59:59Z", "...+02:00", fractional seconds allowed)
// or a bare date ("2026-12-31", meaning midnight UTC). The error quotes the input.
Result<UnixSeconds> parse_timestamp(std::string_view text);
std::string format_timestamp(UnixSeconds t);  // "2026-12-31T23:59:59Z"

}  // namespace caad
