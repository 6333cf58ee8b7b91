// caad-status: the entry point. A thin main over daemon/status/command and
// lib/status: it parses the command line and supplies the clock, the
// terminal test and NO_COLOR.
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdlib>
#include <exception>
#include <iostream>
#include <string_view>

#include "daemon/cli/exit_codes.h"
#include "daemon/status/command.h"
#include "lib/status/monitor.h"

namespace {

// A monitoring system must get UNKNOWN (3), never 64, for a command line it
// cannot use, and a status line on stdout.
bool wants_check(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    if (std::string_view(argv[i]) == "--check") return true;
  }
  return false;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "caad-status: what caad knows, from its database (read-only; safe while the daemon runs). "
      "Without a subcommand: the summary."};
  app.set_version_flag("--version", std::string("caad-status ") + CAAD_VERSION);
  caad::status::StatusOptions options;
  caad::status::StatusCommands commands = caad::status::add_status_options(app, options);
  const bool check = wants_check(argc, argv);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (check && e.get_exit_code() != 0) {
      std::cout << caad::status::unknown(e.what()).line << "\n";
      return static_cast<int>(caad::status::CheckState::unknown);
    }
    int status = app.exit(e);
    return status == 0 ? 0 : caad::cli::k_exit_usage;
  }

  try {
    caad::status::Environment env;
    env.now = caad::unix_now();
    env.stdout_is_terminal = isatty(STDOUT_FILENO) == 1;
    env.no_color = std::getenv("NO_COLOR") != nullptr;
    return caad::status::run_status(commands, options, env, std::cout, std::cerr);
  } catch (const std::exception& e) {
    if (check) {
      std::cout << caad::status::unknown(e.what()).line << "\n";
      return static_cast<int>(caad::status::CheckState::unknown);
    }
    std::cerr << "caad-status: " << e.what() << "\n";
    return caad::cli::k_exit_software;
  }
}
