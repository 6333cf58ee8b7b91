// `caad-status`: the command line over lib/status. Parsing is declared here
// (so main stays a few lines); the run picks the database, opens it
// read-only and renders one view. Exit statuses: 0 done, 1 `show` of a
// domain the database knows nothing of, 64 usage, 66 database missing or not
// readable, 74 database that cannot be read as caad's (not caad, another
// schema, corrupt), 78 bad configuration file. With --check: 0 OK,
// 1 WARNING, 2 CRITICAL, 3 UNKNOWN (including every error above).
#pragma once

#include <cstddef>
#include <iosfwd>
#include <optional>
#include <string>
#include <vector>

#include "lib/util/time.h"

namespace CLI {
class App;
}

namespace caad::status {

struct StatusOptions {
  // Everywhere.
  std::optional<std::string> db;
  std::optional<std::string> config;
  bool json = false;
  bool csv = false;
  std::string color = "auto";  // auto | always | never
  // The summary.
  bool check = false;
  std::string warn = "14d";
  std::string crit = "3d";
  std::size_t summary_limit = 10;  // at-risk domains shown
  // list
  std::vector<std::string> verdicts;
  std::optional<std::string> exposure;
  std::optional<std::string> ca;
  bool failing = false;
  std::optional<std::string> renewing_within;
  std::optional<std::string> changed_since;
  std::string sort = "name";
  std::size_t list_limit = 0;
  // show
  std::string domain;
  std::size_t show_limit = 10;
  // events
  std::string since = "24h";
  std::vector<std::string> kinds;
  std::size_t events_limit = 0;
  // outbox
  std::vector<std::string> states;
  std::size_t outbox_limit = 0;
};

struct StatusCommands {
  CLI::App* list = nullptr;
  CLI::App* show = nullptr;
  CLI::App* events = nullptr;
  CLI::App* outbox = nullptr;
};

StatusCommands add_status_options(CLI::App& app, StatusOptions& options);

// What the process knows about its surroundings, injected for tests.
struct Environment {
  UnixSeconds now = 0;
  bool stdout_is_terminal = false;
  bool no_color = false;  // NO_COLOR is set
};

int run_status(const StatusCommands& commands, const StatusOptions& options, const Environment& env,
               std::ostream& out, std::ostream& err);

}  // namespace caad::status
