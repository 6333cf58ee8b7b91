// `caad run`: load the configuration, set up logging, hand over to the daemon.
#include "daemon/cli/run.h"

#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <iostream>

#include "daemon/cli/config_file.h"
#include "daemon/cli/exit_codes.h"
#include "daemon/log.h"
#include "daemon/run/daemon.h"

namespace caad::cli {

CLI::App* add_run_command(CLI::App& app, RunOptions& o) {
  CLI::App* cmd = app.add_subcommand(
      "run",
      "Run the daemon: keep every stored domain's CAA state current, scheduled against renewals, and record "
      "every change. SIGTERM/SIGINT stop it, SIGHUP reloads the configuration. Exit status: 0 after a clean "
      "stop, 1 when the database or resolvers cannot be used, 78 for a bad configuration.");
  cmd->add_option("--config", o.config,
                  "Configuration file (default: /etc/caad/caad.toml when it exists, else built-in defaults "
                  "with the database caad.db in the working directory)");
  cmd->add_option("--log-level", o.log_level, "trace, debug, info, warn or error (overrides the file)")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error"}));
  return cmd;
}

int run_run(const RunOptions& o) {
  auto loaded = load_config(o.config);
  if (!loaded) {
    std::cerr << "caad run: " << loaded.error().message << "\n";
    return k_exit_config;
  }
  auto logging = log::setup(o.log_level.value_or(loaded->config.log_level));
  if (!logging) {
    std::cerr << "caad run: " << logging.error().message << "\n";
    return k_exit_config;
  }
  if (!loaded->path) {
    spdlog::info("caad: no configuration file ({} does not exist); using defaults with database {}",
                 config::k_default_path, loaded->config.database);
  } else {
    spdlog::info("caad: configuration {}", *loaded->path);
  }
  run::Daemon daemon(std::move(loaded->config), loaded->path);
  return daemon.run();
}

}  // namespace caad::cli
