// `caad domain`: each subcommand loads the configuration (for the database
// path and the CA names), opens the store read-write, and does one
// transaction.
#include "daemon/cli/domain.h"

#include <CLI/CLI.hpp>
#include <fstream>
#include <iomanip>
#include <limits>
#include <istream>
#include <nlohmann/json.hpp>
#include <ostream>

#include "daemon/cli/config_file.h"
#include "daemon/cli/exit_codes.h"
#include "lib/domains/import.h"
#include "lib/store/store.h"

namespace caad::cli {
namespace {

std::vector<std::string> ca_names(const config::Config& c) {
  std::vector<std::string> names;
  for (const auto& ca : c.cas) names.push_back(ca.name);
  return names;
}

std::string join(const std::vector<std::string>& items, const char* sep) {
  std::string out;
  for (const auto& i : items) out += (out.empty() ? "" : sep) + i;
  return out;
}

// How many change lines `caad domain import` prints without --verbose.
constexpr std::size_t k_import_lines = 20;

void print_report(const store::UpsertReport& r, bool dry_run, std::ostream& out) {
  for (const auto& line : r.changes) out << (dry_run ? "would " : "") << line << "\n";
  if (const std::size_t changed = r.added + r.updated; changed > r.changes.size()) {
    out << "… and " << changed - r.changes.size() << " more (--verbose lists every one)\n";
  }
  out << (dry_run ? "dry run: would add " : "added ") << r.added << ", " << (dry_run ? "update " : "updated ")
      << r.updated << ", unchanged " << r.unchanged << "\n";
}

int add(const DomainOptions& o, const config::Config& c, store::Store& s, std::ostream& out, std::ostream& err) {
  std::vector<std::string> known = ca_names(c);
  for (const auto& ca : o.cas) {
    if (std::find(known.begin(), known.end(), ca) == known.end()) {
      err << "caad domain add: --ca: '" << ca << "' is not a CA in " << c.source << " (known: " << join(known, ", ")
          << ")\n";
      return k_exit_usage;
    }
  }
  std::optional<UnixSeconds> not_after, renew_at;
  for (auto [text, field] : {std::pair{&o.not_after, &not_after}, std::pair{&o.renew_at, &renew_at}}) {
    if (!*text) continue;
    auto t = parse_timestamp(**text);
    if (!t) {
      err << "caad domain add: " << t.error().message << "\n";
      return k_exit_usage;
    }
    *field = *t;
  }
  std::vector<store::DomainSpec> specs;
  bool bad = false;
  for (const auto& name : o.names) {
    auto request = dns::parse_domain(name);
    if (!request) {
      err << "caad domain add: " << request.error().message << "\n";
      bad = true;
      continue;
    }
    specs.push_back(store::DomainSpec{*request, o.cas, not_after, renew_at, !o.disabled});
  }
  if (bad) {
    err << "caad domain add: nothing added\n";
    return k_exit_data;
  }
  auto r = s.upsert(specs, unix_now(), o.dry_run);
  if (!r) {
    err << "caad domain add: " << r.error().message << "\n";
    return k_exit_io;
  }
  print_report(*r, o.dry_run, out);
  return 0;
}

int remove(const DomainOptions& o, store::Store& s, std::ostream& out, std::ostream& err) {
  int status = 0;
  for (const auto& name : o.names) {
    auto request = dns::parse_domain(name);
    if (!request) {
      err << "caad domain remove: " << request.error().message << "\n";
      status = k_exit_data;
      continue;
    }
    auto removed = s.remove(*request);
    if (!removed) {
      err << "caad domain remove: " << removed.error().message << "\n";
      return k_exit_io;
    }
    if (*removed) {
      out << "removed " << request->text() << " (its history and events are kept)\n";
    } else {
      err << "caad domain remove: " << request->text() << " is not in the database\n";
      if (status == 0) status = 1;
    }
  }
  return status;
}

int list(const DomainOptions& o, store::Store& s, std::ostream& out, std::ostream& err) {
  auto domains = s.list(o.limit == 0 ? std::numeric_limits<std::size_t>::max() : o.limit, 0);
  if (!domains) {
    err << "caad domain list: " << domains.error().message << "\n";
    return k_exit_io;
  }
  auto when = [](const std::optional<UnixSeconds>& t) { return t ? format_timestamp(*t) : std::string("-"); };
  for (const auto& d : *domains) {
    const auto& spec = d.spec;
    if (o.json) {
      nlohmann::json j = {{"name", spec.request.text()},
                          {"wildcard", spec.request.wildcard},
                          {"ca", spec.cas},
                          {"not_after", spec.not_after ? nlohmann::json(format_timestamp(*spec.not_after)) : nullptr},
                          {"renew_at", spec.renew_at ? nlohmann::json(format_timestamp(*spec.renew_at)) : nullptr},
                          {"enabled", spec.enabled},
                          {"added_at", format_timestamp(d.added_at)},
                          {"updated_at", format_timestamp(d.updated_at)}};
      out << j.dump() << "\n";
    } else {
      out << std::left << std::setw(40) << spec.request.display() << " " << std::setw(20)
          << (spec.cas.empty() ? std::string("(all CAs)") : join(spec.cas, ",")) << " not_after "
          << std::setw(20) << when(spec.not_after) << " renew_at " << std::setw(20) << when(spec.renew_at)
          << (spec.enabled ? "" : " disabled") << "\n";
    }
  }
  return 0;
}

int import(const DomainOptions& o, const config::Config& c, store::Store& s, std::istream& in, std::ostream& out,
           std::ostream& err) {
  std::ifstream file;
  std::istream* source = &in;
  std::string source_name = "<stdin>";
  if (o.file != "-") {
    file.open(o.file, std::ios::binary);
    if (!file) {
      err << "caad domain import: cannot read " << o.file << "\n";
      return k_exit_no_input;
    }
    source = &file;
    source_name = o.file;
  }
  domains::Format format = domains::Format::csv;
  if (o.format) {
    format = *o.format == "jsonl" ? domains::Format::jsonl : domains::Format::csv;
  } else {
    // Guess from the first character without consuming it.
    std::string first;
    while (source->good() && (source->peek() == ' ' || source->peek() == '\n' || source->peek() == '\r' ||
                              source->peek() == '\t')) {
      source->get();
    }
    if (source->good()) first.push_back(static_cast<char>(source->peek()));
    format = domains::detect_format(first);
  }
  auto specs = domains::parse(*source, format, source_name, ca_names(c));
  if (!specs) {
    err << "caad domain import: " << specs.error().message << "\ncaad domain import: nothing was imported\n";
    return k_exit_data;
  }
  auto r = s.upsert(*specs, unix_now(), o.dry_run,
                    o.verbose ? std::numeric_limits<std::size_t>::max() : k_import_lines);
  if (!r) {
    err << "caad domain import: " << r.error().message << "\ncaad domain import: nothing was imported\n";
    return k_exit_io;
  }
  print_report(*r, o.dry_run, out);
  return 0;
}

}  // namespace

DomainCommands add_domain_commands(CLI::App& app, DomainOptions& o) {
  CLI::App* domain = app.add_subcommand("domain", "Maintain the customer domains in the database");
  domain->require_subcommand(1);
  DomainCommands c;
  auto config_option = [&o](CLI::App* cmd) {
    cmd->add_option("--config", o.config, "Configuration file (for the database path and CA names)");
  };
  c.add = domain->add_subcommand("add", "Add or update domains (checked at once by the daemon)");
  config_option(c.add);
  c.add->add_option("names", o.names, "DOMAIN or *.DOMAIN")->required();
  c.add->add_option("--ca", o.cas, "CA names from the configuration, primary first (default: all)")
      ->allow_extra_args(false);
  c.add->add_option("--not-after", o.not_after, "Certificate expiry (RFC 3339 or YYYY-MM-DD)");
  c.add->add_option("--renew-at", o.renew_at, "When the ACME client will renew (RFC 3339 or YYYY-MM-DD)");
  c.add->add_flag("--disabled", o.disabled, "Store the domain but do not check it");
  c.add->add_flag("--dry-run", o.dry_run, "Report what would change; write nothing");

  c.remove = domain->add_subcommand("remove", "Remove domains; their history and events are kept");
  config_option(c.remove);
  c.remove->add_option("names", o.names, "DOMAIN or *.DOMAIN")->required();

  c.list = domain->add_subcommand("list", "List the stored domains");
  config_option(c.list);
  c.list->add_flag("--json", o.json, "One JSON object per line");
  c.list->add_option("--limit", o.limit, "At most this many (0: all)");

  c.import = domain->add_subcommand(
      "import",
      "Import domains from CSV (header: name,wildcard,ca,not_after,renew_at) or JSON Lines; upsert by name, "
      "all or nothing: a bad line rejects the whole import with its line number");
  config_option(c.import);
  c.import->add_option("file", o.file, "File to import, or - for stdin")->required();
  c.import->add_option("--format", o.format, "csv or jsonl (default: guessed from the first character)")
      ->check(CLI::IsMember({"csv", "jsonl"}));
  c.import->add_flag("--dry-run", o.dry_run, "Report what would change; write nothing");
  c.import->add_flag("--verbose", o.verbose,
                     "A line for every added or updated domain (default: the first 20, then the counts)");
  return c;
}

int run_domain(const DomainCommands& c, const DomainOptions& o, std::istream& in, std::ostream& out,
               std::ostream& err) {
  auto loaded = load_config(o.config);
  if (!loaded) {
    err << "caad domain: " << loaded.error().message << "\n";
    return k_exit_config;
  }
  const config::Config& cfg = loaded->config;
  auto opened = store::Store::open(cfg.database, store::Mode::read_write);
  if (!opened) {
    err << "caad domain: " << opened.error().message << "\n";
    return k_exit_io;
  }
  store::Store& s = **opened;
  if (c.add->parsed()) return add(o, cfg, s, out, err);
  if (c.remove->parsed()) return remove(o, s, out, err);
  if (c.list->parsed()) return list(o, s, out, err);
  if (c.import->parsed()) return import(o, cfg, s, in, out, err);
  return k_exit_usage;
}

}  // namespace caad::cli
