// Logging for the caad processes: spdlog to stderr. Under systemd (stderr is
// the journal, JOURNAL_STREAM is set) each line starts with its syslog
// priority ("<4>") and carries no timestamp, since journald adds both; on a
// terminal lines carry a timestamp and the level name.
#pragma once

#include <string>

#include "lib/util/result.h"

namespace caad::log {

// Sets up the default logger. Level: trace, debug, info, warn, error.
Status setup(const std::string& level);

}  // namespace caad::log
