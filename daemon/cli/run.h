// `caad run`: starts the daemon on a configuration file.
#pragma once

#include <optional>
#include <string>

namespace CLI {
class App;
}

namespace caad::cli {

struct RunOptions {
  std::optional<std::string> config;
  std::optional<std::string> log_level;  // overrides the file's log_level
};

CLI::App* add_run_command(CLI::App& app, RunOptions& options);
int run_run(const RunOptions& options);

}  // namespace caad::cli
