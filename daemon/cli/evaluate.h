// `caad evaluate`: runs the policy engine on a CAA record set from a file,
// without DNS, for people checking a record set and for tests.
#pragma once

#include <iosfwd>
#include <optional>
#include <string>

namespace CLI {
class App;
}

namespace caad::cli {

struct EvaluateOptions {
  std::string ca;                          // issuer domain
  std::optional<std::string> account_uri;  // RFC 8657 accounturi of our account
  std::optional<std::string> method;       // RFC 8657 validation method we use
  bool wildcard = false;
  std::string profile = "strictest";       // rfc8659 | letsencrypt | strictest
  std::string records_file;                // one record per line; "-" is stdin
  std::optional<std::string> domain;       // for the sentence; "*.x" implies --wildcard
  std::optional<std::string> owner;        // where the records live, for the sentence
  bool json = false;
};

// Registers the subcommand and its options on `app`; returns the subcommand.
CLI::App* add_evaluate_command(CLI::App& app, EvaluateOptions& options);

// Runs it. Returns an exit status from exit_codes.h.
int run_evaluate(const EvaluateOptions& options, std::istream& in, std::ostream& out, std::ostream& err);

}  // namespace caad::cli
