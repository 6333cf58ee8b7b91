// `caad domain add|remove|list|import`: maintain the customer domains in the
// database the daemon reads. Safe while the daemon runs (SQLite WAL).
#pragma once

#include <iosfwd>
#include <optional>
#include <string>
#include <vector>

namespace CLI {
class App;
}

namespace caad::cli {

struct DomainOptions {
  std::optional<std::string> config;
  std::vector<std::string> names;      // add, remove
  std::vector<std::string> cas;        // add: CA names, primary first
  std::optional<std::string> not_after;
  std::optional<std::string> renew_at;
  bool disabled = false;               // add: store but do not check
  std::string file;                    // import: path or "-"
  std::optional<std::string> format;   // import: csv | jsonl (default: guessed)
  bool dry_run = false;                // add, import
  bool verbose = false;                // import: a line for every change
  bool json = false;                   // list
  std::size_t limit = 0;               // list: 0 = all
};

struct DomainCommands {
  CLI::App* add = nullptr;
  CLI::App* remove = nullptr;
  CLI::App* list = nullptr;
  CLI::App* import = nullptr;
};

DomainCommands add_domain_commands(CLI::App& app, DomainOptions& options);

// Runs whichever of the commands was parsed. Exit status: 0 done, 1 a name
// to remove was not found, 64 usage, 65 bad import data or names (nothing
// written), 66 unreadable file, 74 database error, 78 bad configuration.
int run_domain(const DomainCommands& commands, const DomainOptions& options, std::istream& in, std::ostream& out,
               std::ostream& err);

}  // namespace caad::cli
