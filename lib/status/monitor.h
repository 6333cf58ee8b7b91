// `caad-status --check`: the summary judged the way monitoring plugins are
// (Nagios, Icinga, Sensu, Checkmk): a state with its exit status and one
// line of text with performance data. Pure: the decision table is tested
// from plain Summary values.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "lib/status/model.h"

namespace caad::status {

// The monitoring-plugin states; the value is the exit status.
enum class CheckState { ok = 0, warning = 1, critical = 2, unknown = 3 };
const char* to_string(CheckState s);  // "OK", "WARNING", "CRITICAL", "UNKNOWN"

struct Thresholds {
  std::int64_t warn = 14 * k_day;  // seconds before a renewal at risk
  std::int64_t crit = 3 * k_day;
};

struct CheckOutcome {
  CheckState state = CheckState::unknown;
  std::string line;  // "CAAD CRITICAL - 2 denied, 1 failing; ... | domains=... "
};

// The decision, worst wins:
//   CRITICAL  a denied or failing domain renews within `crit` (or is past
//             its renewal); a provider target is checked and not permitted
//   WARNING   a denied or failing domain renews within `warn`, or its
//             renewal is unknown; the daemon looks dead (no heartbeat within
//             two minutes, or never); dead letters in the outbox
//   OK        otherwise (denied or failing domains far from renewal included)
// `s.at_risk` must hold at least the soonest at-risk domain when there is one.
CheckOutcome evaluate(const Summary& s, const Thresholds& t, UnixSeconds now);

// "CAAD UNKNOWN - <why>": the database cannot be read, or the command line
// is wrong.
CheckOutcome unknown(std::string_view why);

}  // namespace caad::status
