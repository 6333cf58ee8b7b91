// `caad-status` (see the header): options, the database choice, and one view.
//
// The database is --db, else the configuration's `database` (--config FILE,
// else /etc/caad/caad.toml when it exists), else caad.db in the working
// directory: the same choice `caad run` makes, through the same function, so
// that both look at one file. The schedule (for renewal times) comes from
// the configuration when one is read, else from the defaults, as the daemon
// would use them.
#include "daemon/status/command.h"

#include <CLI/CLI.hpp>
#include <ostream>

#include "daemon/cli/config_file.h"
#include "daemon/cli/exit_codes.h"
#include "lib/dns/name.h"
#include "lib/status/monitor.h"
#include "lib/status/reader.h"
#include "lib/status/render.h"

namespace caad::status {
namespace {

constexpr int k_exit_not_found = 1;

// Where the database is and how renewals are derived.
struct Source {
  std::string database;
  config::ScheduleConfig schedule;
};

Result<Source> choose_source(const StatusOptions& o) {
  if (o.db && !o.config) return Source{*o.db, config::ScheduleConfig{}};
  auto loaded = cli::load_config(o.config);
  if (!loaded) return Unexpected<Error>{loaded.error()};
  return Source{o.db.value_or(loaded->config.database), loaded->config.schedule};
}

// A duration option: "7d", "24h".
Result<std::int64_t> duration(const char* option, const std::string& text) {
  auto d = parse_duration_seconds(text);
  if (!d) return fail(std::string(option) + ": " + d.error().message);
  return *d;
}

SortKey sort_key(const std::string& s) {
  if (s == "renewal") return SortKey::renewal;
  if (s == "changed") return SortKey::changed;
  if (s == "verdict") return SortKey::verdict;
  return SortKey::name;
}

ColorMode color_mode(const std::string& s) {
  if (s == "always") return ColorMode::always;
  if (s == "never") return ColorMode::never;
  return ColorMode::automatic;
}

int exit_for(const OpenError& e) {
  return e.kind == OpenError::Kind::missing ? cli::k_exit_no_input : cli::k_exit_io;
}

// --check: every failure is UNKNOWN, on stdout, as monitoring expects.
int run_check(const StatusOptions& o, const Environment& env, std::ostream& out) {
  auto report = [&](const CheckOutcome& c) {
    out << c.line << "\n";
    return static_cast<int>(c.state);
  };
  auto warn = duration("--warn", o.warn);
  if (!warn) return report(unknown(warn.error().message));
  auto crit = duration("--crit", o.crit);
  if (!crit) return report(unknown(crit.error().message));
  if (*crit > *warn)
    return report(unknown("--crit " + o.crit + " is longer than --warn " + o.warn));
  auto source = choose_source(o);
  if (!source) return report(unknown(source.error().message));
  auto reader = Reader::open(source->database);
  if (!reader) return report(unknown(reader.error().message));
  // The decision needs only the soonest at-risk domain.
  auto summary = (*reader)->summary(env.now, source->schedule, 1);
  if (!summary) return report(unknown(summary.error().message));
  return report(evaluate(*summary, Thresholds{*warn, *crit}, env.now));
}

}  // namespace

StatusCommands add_status_options(CLI::App& app, StatusOptions& o) {
  // Options given after a subcommand reach these (caad-status list --json).
  app.fallthrough();
  app.add_option("--db", o.db, "The database file (default: the configuration's `database`)");
  app.add_option("--config", o.config,
                 "Configuration file, for the database and the renewal schedule (default: "
                 "/etc/caad/caad.toml when it exists, else caad.db in the working directory)");
  CLI::Option* json = app.add_flag("--json", o.json, "JSON Lines: one object per line");
  CLI::Option* csv = app.add_flag("--csv", o.csv, "CSV (RFC 4180) with a header line");
  json->excludes(csv);
  app.add_option("--color", o.color,
                 "auto (on a terminal, unless NO_COLOR is set), always or never")
      ->check(CLI::IsMember({"auto", "always", "never"}));
  CLI::Option* check = app.add_flag(
      "--check", o.check,
      "Monitoring-plugin mode: one status line with performance data; exit 0 OK, 1 WARNING, "
      "2 CRITICAL, 3 UNKNOWN");
  check->excludes(json)->excludes(csv);
  app.add_option("--warn", o.warn,
                 "--check: WARNING when a denied or failing domain renews within this")
      ->capture_default_str()
      ->needs(check);
  app.add_option("--crit", o.crit,
                 "--check: CRITICAL when a denied or failing domain renews within this")
      ->capture_default_str()
      ->needs(check);
  app.add_option("--limit", o.summary_limit, "Summary: at-risk domains shown (0: all)")
      ->capture_default_str();

  StatusCommands c;
  c.list = app.add_subcommand("list", "List domains, filtered and sorted");
  c.list
      ->add_option("--verdict", o.verdicts,
                   "permitted, denied, lookup_failed or unchecked (repeatable)")
      ->check(CLI::IsMember({"permitted", "denied", "lookup_failed", "unchecked"}))
      ->allow_extra_args(false);
  c.list->add_option("--exposure", o.exposure, "pinned or exposed")
      ->check(CLI::IsMember({"pinned", "exposed"}));
  c.list->add_option("--ca", o.ca,
                     "Domains checked for this CA name (with --verdict/--failing: that CA's own "
                     "verdict), or unchecked and configured for it");
  c.list->add_flag("--failing", o.failing, "Denied or lookup_failed: renewals that would fail now");
  c.list->add_option("--renewing-within", o.renewing_within,
                     "Renewal within this (e.g. 7d), or already past");
  c.list->add_option("--changed-since", o.changed_since, "Verdict changed within this (e.g. 24h)");
  c.list
      ->add_option("--sort", o.sort,
                   "name, renewal (soonest first), changed (newest first) or verdict (worst first)")
      ->check(CLI::IsMember({"name", "renewal", "changed", "verdict"}))
      ->capture_default_str();
  c.list->add_option("--limit", o.list_limit, "At most this many (0: all)")->capture_default_str();

  c.show = app.add_subcommand(
      "show",
      "One domain: verdict per CA with reasons, records, chain, renewal, checks and events");
  c.show->add_option("domain", o.domain, "DOMAIN or *.DOMAIN")->required();
  c.show->add_option("--limit", o.show_limit, "Checks and events shown, newest first (0: all)")
      ->capture_default_str();

  c.events = app.add_subcommand("events", "Events, oldest first");
  c.events->add_option("--since", o.since, "Events within this (e.g. 24h, 7d)")
      ->capture_default_str();
  c.events
      ->add_option("--kind", o.kinds,
                   "regression, lookup_failure, recovery, renewal_at_risk, provider_target_broken, "
                   "provider_target_recovered (repeatable)")
      ->allow_extra_args(false);
  c.events->add_option("--limit", o.events_limit, "The newest this many (0: all)")
      ->capture_default_str();

  c.outbox =
      app.add_subcommand("outbox", "Webhook deliveries, oldest first (default: pending and dead)");
  c.outbox->add_option("--state", o.states, "pending, dead or delivered (repeatable)")
      ->check(CLI::IsMember({"pending", "dead", "delivered"}))
      ->allow_extra_args(false);
  c.outbox->add_option("--limit", o.outbox_limit, "The newest this many (0: all)")
      ->capture_default_str();
  // Options of the main command reach the subcommands, but their --help
  // would not show them.
  for (CLI::App* sub : {c.list, c.show, c.events, c.outbox}) {
    sub->footer(
        "Also: --db PATH, --config FILE, --json, --csv, --color WHEN (see caad-status --help)");
  }
  app.require_subcommand(0, 1);
  return c;
}

int run_status(const StatusCommands& c, const StatusOptions& o, const Environment& env,
               std::ostream& out, std::ostream& err) {
  const bool subcommand =
      c.list->parsed() || c.show->parsed() || c.events->parsed() || c.outbox->parsed();
  if (o.check) {
    if (subcommand) {
      out << unknown("--check takes no subcommand").line << "\n";
      return static_cast<int>(CheckState::unknown);
    }
    return run_check(o, env, out);
  }
  auto usage = [&](const std::string& message) {
    err << "caad-status: " << message << "\n";
    return cli::k_exit_usage;
  };
  if (c.show->parsed() && o.csv) return usage("show has no CSV form; use --json");

  // Every option is checked before the database is opened, so that a typo
  // is reported as such even where the database is missing.
  ListFilter filter;
  EventFilter events;
  std::string subject;
  if (c.list->parsed()) {
    filter.verdicts = o.verdicts;
    filter.failing = o.failing;
    filter.exposure = o.exposure;
    filter.ca = o.ca;
    if (o.renewing_within) {
      auto d = duration("--renewing-within", *o.renewing_within);
      if (!d) return usage(d.error().message);
      filter.renewing_within = *d;
    }
    if (o.changed_since) {
      auto d = duration("--changed-since", *o.changed_since);
      if (!d) return usage(d.error().message);
      filter.changed_since = *d;
    }
    filter.sort = sort_key(o.sort);
    filter.limit = o.list_limit;
  } else if (c.events->parsed()) {
    auto d = duration("--since", o.since);
    if (!d) return usage(d.error().message);
    events.since = env.now - *d;
    events.kinds = o.kinds;
    events.limit = o.events_limit;
  } else if (c.show->parsed()) {
    auto request = dns::parse_domain(o.domain);
    if (!request) return usage(request.error().message);
    subject = request->text();
  }

  auto source = choose_source(o);
  if (!source) {
    err << "caad-status: " << source.error().message << "\n";
    return cli::k_exit_config;
  }
  auto reader = Reader::open(source->database);
  if (!reader) {
    err << "caad-status: " << reader.error().message << "\n";
    return exit_for(reader.error());
  }
  Reader& r = **reader;
  RenderOptions ro;
  ro.format = o.json ? Format::json : o.csv ? Format::csv : Format::table;
  ro.color = ro.format == Format::table &&
             use_color(color_mode(o.color), env.stdout_is_terminal, env.no_color);
  ro.now = env.now;
  auto failed = [&](const Error& e) {
    err << "caad-status: " << e.message << "\n";
    return cli::k_exit_io;
  };

  if (c.list->parsed()) {
    auto rows = r.list(filter, env.now, source->schedule);
    if (!rows) return failed(rows.error());
    render_domains(out, *rows, ro);
  } else if (c.show->parsed()) {
    auto detail = r.show(subject, source->schedule, o.show_limit);
    if (!detail) return failed(detail.error());
    if (!*detail) {
      err << "caad-status: " << subject << " is not in " << r.path()
          << " and has no recorded checks or events\n";
      return k_exit_not_found;
    }
    render_detail(out, **detail, ro);
  } else if (c.events->parsed()) {
    auto rows = r.events(events);
    if (!rows) return failed(rows.error());
    render_events(out, *rows, ro);
  } else if (c.outbox->parsed()) {
    OutboxFilter filter_outbox{o.states, o.outbox_limit};
    auto rows = r.outbox(filter_outbox);
    if (!rows) return failed(rows.error());
    render_outbox(out, *rows, ro);
  } else {
    auto summary = r.summary(env.now, source->schedule, o.summary_limit);
    if (!summary) return failed(summary.error());
    render_summary(out, *summary, ro);
  }
  return 0;
}

}  // namespace caad::status
