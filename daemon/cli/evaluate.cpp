// `caad evaluate`: read a record set, decide, print the decision for people
// or as one JSON object.
#include "daemon/cli/evaluate.h"

#include <CLI/CLI.hpp>
#include <fstream>
#include <iomanip>
#include <istream>
#include <ostream>
#include <vector>

#include "daemon/cli/exit_codes.h"
#include "lib/caa/policy.h"
#include "lib/caa/policy_json.h"
#include "lib/caa/record.h"
#include "lib/dns/name.h"

namespace caad::cli {
namespace {

// Reads one record per line. Blank lines and lines starting with ';' (the
// zone-file comment character) are skipped. An error names the file and line.
Result<std::vector<caa::Record>> read_records(std::istream& in, const std::string& name) {
  std::vector<caa::Record> records;
  std::string line;
  std::size_t number = 0;
  while (std::getline(in, line)) {
    ++number;
    std::size_t first = line.find_first_not_of(" \t\r");
    if (first == std::string::npos || line[first] == ';') continue;
    auto record = caa::parse_presentation(line);
    if (!record) return fail(name + ":" + std::to_string(number) + ": " + record.error().message);
    records.push_back(std::move(*record));
  }
  if (in.bad()) return fail(name + ": read error");
  return records;
}

void print_human(const caa::Decision& d, const std::vector<caa::Record>& records, std::ostream& out) {
  out << "verdict: " << caa::to_string(d.verdict) << " (" << caa::to_string(d.behaviour) << " reading)\n"
      << "reason:  " << d.sentence << "\n";
  if (d.divergence) out << "note:    " << *d.divergence << "\n";
  if (records.empty()) return;
  std::size_t width = 0;
  for (const auto& r : records) width = std::max(width, r.presentation().size());
  out << "records:\n";
  for (std::size_t i = 0; i < records.size(); ++i) {
    const auto& f = d.findings[i];
    out << (d.deciding_record == i ? "  * " : "    ") << std::left
        << std::setw(static_cast<int>(width)) << records[i].presentation() << "  "
        << std::setw(18) << caa::to_string(f.role) << " " << f.detail << "\n";
  }
}

}  // namespace

CLI::App* add_evaluate_command(CLI::App& app, EvaluateOptions& o) {
  CLI::App* cmd = app.add_subcommand(
      "evaluate",
      "Decide from a CAA record set (no DNS) whether a CA may issue. Exit status: 0 permitted, "
      "1 denied, 64 usage error, 65 bad record line, 66 unreadable file.");
  cmd->add_option("--ca", o.ca, "Issuer domain of the CA, e.g. letsencrypt.org")->required();
  cmd->add_option("--account-uri", o.account_uri, "ACME account URI the renewal uses (RFC 8657 accounturi)");
  cmd->add_option("--method", o.method, "Validation method the renewal uses, e.g. http-01 (RFC 8657)");
  cmd->add_flag("--wildcard", o.wildcard, "Decide for a wildcard name (*.X): issuewild rules apply");
  cmd->add_option("--profile", o.profile,
                  "How the CA reads the standards: letsencrypt, rfc8659, or strictest (default: the "
                  "stricter side of every known difference)")
      ->check(CLI::IsMember({"letsencrypt", "rfc8659", "strictest"}));
  cmd->add_option("--records-file", o.records_file,
                  "File with one record per line as written after CAA in a zone file "
                  "(0 issue \"letsencrypt.org\", or \\# 22 0005...); - reads stdin")
      ->required();
  cmd->add_option("--domain", o.domain, "Certificate name, for the reason sentence; *.X implies --wildcard");
  cmd->add_option("--owner", o.owner, "Name the records live at, for the reason sentence");
  cmd->add_flag("--json", o.json, "Print one JSON object");
  return cmd;
}

int run_evaluate(const EvaluateOptions& o, std::istream& in, std::ostream& out, std::ostream& err) {
  auto issuer = dns::Name::parse(o.ca);
  if (!issuer) {
    err << "caad evaluate: --ca: " << issuer.error().message << "\n";
    return k_exit_usage;
  }
  caa::CaProfile ca{issuer->text(), o.account_uri, o.method, *caa::parse_behaviour(o.profile)};

  caa::Request request;
  request.wildcard = o.wildcard;
  if (o.domain) {
    auto domain = dns::parse_domain(*o.domain);
    if (!domain) {
      err << "caad evaluate: --domain: " << domain.error().message << "\n";
      return k_exit_usage;
    }
    request.wildcard = request.wildcard || domain->wildcard;
    dns::DomainRequest shown{domain->name, request.wildcard};
    request.domain = shown.display();
  } else {
    request.domain = request.wildcard ? "the wildcard name" : "the name";
  }
  if (o.owner) {
    auto owner = dns::Name::parse(*o.owner);
    if (!owner) {
      err << "caad evaluate: --owner: " << owner.error().message << "\n";
      return k_exit_usage;
    }
    request.owner = owner->display();
  }

  Result<std::vector<caa::Record>> records = fail("");
  if (o.records_file == "-") {
    records = read_records(in, "<stdin>");
  } else {
    std::ifstream file(o.records_file);
    if (!file) {
      err << "caad evaluate: cannot read records file " << o.records_file << "\n";
      return k_exit_no_input;
    }
    records = read_records(file, o.records_file);
  }
  if (!records) {
    err << "caad evaluate: " << records.error().message << "\n";
    return k_exit_data;
  }

  caa::Decision d = caa::evaluate(*records, ca, request);
  if (o.json) {
    nlohmann::json j = caa::to_json(d, *records);
    j["ca"] = ca.issuer;
    j["wildcard"] = request.wildcard;
    out << j.dump() << "\n";
  } else {
    print_human(d, *records, out);
  }
  return d.verdict == caa::Verdict::permitted ? k_exit_permitted : k_exit_denied;
}

}  // namespace caad::cli
