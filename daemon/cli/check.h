// `caad check`: one-shot CAA checks of certificate names against real
// resolvers, without a database. Streams names from the command line and a
// file, keeps a bounded number of lookups in flight, and prints each result
// as it finishes.
#pragma once

#include <iosfwd>
#include <optional>
#include <string>
#include <vector>

namespace CLI {
class App;
}

namespace caad::cli {

struct CheckOptions {
  std::vector<std::string> resolvers;         // ADDR[:PORT]; default: /etc/resolv.conf
  std::string resolv_conf = "/etc/resolv.conf";
  std::vector<std::string> cas;               // issuer domains; default: letsencrypt.org
  std::optional<std::string> account_uri;
  std::optional<std::string> method;
  std::string profile = "strictest";
  std::vector<std::string> provider_targets;
  bool json = false;
  bool explain = false;
  std::optional<std::string> file;            // one name per line; "-" is stdin
  std::vector<std::string> domains;
  unsigned concurrency = 256;                 // lookups in flight
  unsigned timeout_ms = 2000;                 // per attempt
  unsigned attempts = 3;                      // per question, across resolvers
  unsigned max_qps = 0;                       // per resolver; 0: no cap
};

CLI::App* add_check_command(CLI::App& app, CheckOptions& options);

// Exit status: 0 all permitted, 1 any denied, 2 lookup failures but none
// denied, 64 usage errors (including names that do not parse, which are
// reported by name and do not stop the others), 66 unreadable --file.
int run_check(const CheckOptions& options, std::istream& in, std::ostream& out, std::ostream& err);

}  // namespace caad::cli
