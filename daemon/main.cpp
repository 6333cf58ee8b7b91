// caad: the command-line entry point. A thin main over the libraries: it only
// parses the command line and hands each subcommand to its module.
#include <CLI/CLI.hpp>
#include <exception>
#include <iostream>

#include "daemon/cli/check.h"
#include "daemon/cli/domain.h"
#include "daemon/cli/evaluate.h"
#include "daemon/cli/exit_codes.h"
#include "daemon/cli/run.h"
#include "daemon/cli/webhook.h"

int main(int argc, char** argv) {
  CLI::App app{
      "caad: checks, the way the CA will, that DNS CAA records still let your CA renew your "
      "customers' certificates."};
  app.set_version_flag("--version", std::string("caad ") + CAAD_VERSION);
  app.require_subcommand(1);

  caad::cli::CheckOptions check;
  CLI::App* check_cmd = caad::cli::add_check_command(app, check);
  caad::cli::RunOptions run;
  CLI::App* run_cmd = caad::cli::add_run_command(app, run);
  caad::cli::DomainOptions domain;
  caad::cli::DomainCommands domain_cmds = caad::cli::add_domain_commands(app, domain);
  caad::cli::EvaluateOptions evaluate;
  CLI::App* evaluate_cmd = caad::cli::add_evaluate_command(app, evaluate);
  caad::cli::WebhookOptions webhook;
  CLI::App* webhook_test_cmd = caad::cli::add_webhook_command(app, webhook);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int status = app.exit(e);
    return status == 0 ? 0 : caad::cli::k_exit_usage;
  }

  try {
    if (run_cmd->parsed()) return caad::cli::run_run(run);
    if (domain_cmds.add->parsed() || domain_cmds.remove->parsed() || domain_cmds.list->parsed() ||
        domain_cmds.import->parsed()) {
      return caad::cli::run_domain(domain_cmds, domain, std::cin, std::cout, std::cerr);
    }
    if (check_cmd->parsed()) return caad::cli::run_check(check, std::cin, std::cout, std::cerr);
    if (evaluate_cmd->parsed()) return caad::cli::run_evaluate(evaluate, std::cin, std::cout, std::cerr);
    if (webhook_test_cmd->parsed()) return caad::cli::run_webhook_test(webhook, std::cout, std::cerr);
  } catch (const std::exception& e) {
    std::cerr << "caad: " << e.what() << "\n";
    return caad::cli::k_exit_software;
  }
  return caad::cli::k_exit_usage;
}
