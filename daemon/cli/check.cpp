// `caad check`: a libuv loop, the UDP/TCP transport, the lookup engine, and a
// pump that keeps up to --concurrency lookups in flight while names stream in
// from the command line and --file. Results are printed in completion order.
#include "daemon/cli/check.h"

#include <uv.h>

#include <CLI/CLI.hpp>
#include <cstdint>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <memory>
#include <sstream>
#include <string>

#include "daemon/cli/exit_codes.h"
#include "daemon/net/resolver_address.h"
#include "daemon/net/uv_transport.h"
#include "lib/check/check.h"
#include "lib/check/check_json.h"
#include "lib/lookup/engine.h"

namespace caad::cli {
namespace {

// Where names come from: the positional arguments first, then --file.
class NameSource {
 public:
  NameSource(const std::vector<std::string>& args, std::istream* file) : m_args(args), m_file(file) {}

  // The next non-empty, non-comment line; false at the end.
  bool next(std::string& name) {
    if (m_index < m_args.size()) {
      name = m_args[m_index++];
      return true;
    }
    std::string line;
    while (m_file && std::getline(*m_file, line)) {
      auto first = line.find_first_not_of(" \t\r");
      if (first == std::string::npos || line[first] == '#') continue;
      auto last = line.find_last_not_of(" \t\r");
      name = line.substr(first, last - first + 1);
      return true;
    }
    return false;
  }

 private:
  const std::vector<std::string>& m_args;
  std::size_t m_index = 0;
  std::istream* m_file;
};

// JSON output is written in pieces of about this size, or after this delay
// (see write_pending).
constexpr std::size_t k_output_chunk = 64 * 1024;
constexpr std::uint64_t k_output_delay_ms = 50;

struct Outcome {
  std::size_t permitted = 0, denied = 0, failed = 0, bad = 0;
  int exit_status() const {
    if (denied) return k_exit_denied;
    if (failed) return k_exit_lookup_failed;
    if (bad) return k_exit_usage;
    return k_exit_permitted;
  }
};

void print_human(const check::CheckResult& r, std::ostream& out) {
  out << std::left << std::setw(14) << check::to_string(r.verdict) << std::setw(8)
      << check::to_string(r.exposure) << std::setw(40) << r.lookup.request.display() << " " << r.reason
      << "\n";
}

// One run of the command: owns the loop and everything on it.
class CheckRun {
 public:
  CheckRun(const CheckOptions& o, std::vector<check::CaSpec> cas, std::vector<dns::Name> targets,
           net::TransportOptions transport_options, NameSource& source, std::ostream& out, std::ostream& err)
      : m_options(o),
        m_cas(std::move(cas)),
        m_targets(std::move(targets)),
        m_source(source),
        m_out(out),
        m_err(err) {
    uv_loop_init(&m_loop);
    m_transport = std::make_unique<net::UvTransport>(&m_loop, std::move(transport_options));
    lookup::EngineOptions eo;
    eo.trace = o.explain;
    m_engine = std::make_unique<lookup::Engine>(*m_transport, m_clock, eo);
    uv_timer_init(&m_loop, &m_deadline_timer);
    m_deadline_timer.data = this;
    uv_timer_init(&m_loop, &m_flush_timer);
    m_flush_timer.data = this;
  }

  ~CheckRun() {
    m_engine.reset();
    m_transport.reset();
    uv_loop_close(&m_loop);
  }
  CheckRun(const CheckRun&) = delete;
  CheckRun& operator=(const CheckRun&) = delete;

  Outcome run() {
    uv_timer_start(&m_deadline_timer, &CheckRun::on_deadline_tick, 1000, 1000);
    pump();
    finish_if_done();
    uv_run(&m_loop, UV_RUN_DEFAULT);
    return m_outcome;
  }

 private:
  static void on_deadline_tick(uv_timer_t* t) {
    auto* self = static_cast<CheckRun*>(t->data);
    try {
      self->m_engine->expire_deadlines();
    } catch (const std::exception& e) {
      self->m_err << "caad check: internal error in deadline timer: " << e.what() << "\n";
    }
  }

  // Starts lookups until the concurrency cap or the end of the input. Guards
  // against re-entry: a lookup answered from the cache completes inside
  // Engine::lookup() and would otherwise recurse here.
  void pump() {
    if (m_pumping) {
      m_pump_again = true;
      return;
    }
    m_pumping = true;
    do {
      m_pump_again = false;
      std::string text;
      while (m_active < m_options.concurrency && !m_input_done) {
        if (!m_source.next(text)) {
          m_input_done = true;
          break;
        }
        auto request = dns::parse_domain(text);
        if (!request) {
          m_err << "caad check: skipping " << request.error().message << "\n";
          ++m_outcome.bad;
          continue;
        }
        ++m_active;
        m_engine->lookup(*request, [this](lookup::LookupResult r) { on_result(std::move(r)); });
      }
    } while (m_pump_again);
    m_pumping = false;
  }

  void on_result(lookup::LookupResult lookup) {
    --m_active;
    check::CheckResult r = check::assess(std::move(lookup), m_cas, m_targets);
    switch (r.verdict) {
      case check::Verdict::permitted: ++m_outcome.permitted; break;
      case check::Verdict::denied: ++m_outcome.denied; break;
      case check::Verdict::lookup_failed: ++m_outcome.failed; break;
    }
    if (m_options.json) {
      nlohmann::json j = check::to_json(r);
      if (m_options.explain) j["trace"] = r.lookup.trace;
      m_pending += j.dump();
      m_pending += '\n';
      if (m_pending.size() >= k_output_chunk) {
        write_pending();
      } else if (!uv_is_active(reinterpret_cast<uv_handle_t*>(&m_flush_timer))) {
        uv_timer_start(&m_flush_timer, &CheckRun::on_flush_timer, k_output_delay_ms, 0);
      }
    } else {
      print_human(r, m_out);
      if (m_options.explain) {
        for (const auto& line : r.lookup.trace) m_out << "    " << line << "\n";
      }
    }
    pump();
    finish_if_done();
  }

  // JSON lines collect in m_pending and go out in large writes; a line
  // waits at most k_output_delay_ms, so that a slow resolver never holds
  // back results that are ready.
  void write_pending() {
    if (m_pending.empty()) return;
    m_out.write(m_pending.data(), static_cast<std::streamsize>(m_pending.size()));
    m_pending.clear();
  }

  static void on_flush_timer(uv_timer_t* handle) {
    auto* self = static_cast<CheckRun*>(handle->data);
    try {
      self->write_pending();
      self->m_out.flush();
    } catch (const std::exception& e) {
      self->m_err << "caad check: internal error writing results: " << e.what() << "\n";
    }
  }

  void finish_if_done() {
    if (m_active != 0 || !m_input_done || m_closing) return;
    m_closing = true;
    write_pending();
    m_out.flush();
    uv_timer_stop(&m_deadline_timer);
    uv_close(reinterpret_cast<uv_handle_t*>(&m_deadline_timer), nullptr);
    uv_timer_stop(&m_flush_timer);
    uv_close(reinterpret_cast<uv_handle_t*>(&m_flush_timer), nullptr);
    m_transport->close();
  }

  const CheckOptions& m_options;
  std::vector<check::CaSpec> m_cas;
  std::vector<dns::Name> m_targets;
  NameSource& m_source;
  std::ostream& m_out;
  std::ostream& m_err;
  uv_loop_t m_loop{};
  uv_timer_t m_deadline_timer{};
  uv_timer_t m_flush_timer{};  // writes m_pending when it is not filling up
  SteadyClock m_clock;
  std::unique_ptr<net::UvTransport> m_transport;
  std::unique_ptr<lookup::Engine> m_engine;
  std::size_t m_active = 0;
  bool m_input_done = false;
  bool m_pumping = false;
  bool m_pump_again = false;
  bool m_closing = false;
  Outcome m_outcome;
  std::string m_pending;  // JSON lines not yet written to m_out
};

Result<std::vector<net::ResolverAddress>> resolvers_from(const CheckOptions& o) {
  std::vector<net::ResolverAddress> out;
  for (const auto& text : o.resolvers) {
    auto r = net::parse_resolver(text);
    if (!r) return fail("--resolver: " + r.error().message);
    out.push_back(*r);
  }
  if (!out.empty()) return out;
  std::ifstream conf(o.resolv_conf);
  std::stringstream text;
  text << conf.rdbuf();
  out = net::parse_resolv_conf(text.str());
  if (out.empty()) {
    return fail("no resolver to ask: " + o.resolv_conf +
                " lists no usable nameserver; give one with --resolver ADDR[:PORT]");
  }
  return out;
}

}  // namespace

CLI::App* add_check_command(CLI::App& app, CheckOptions& o) {
  CLI::App* cmd = app.add_subcommand(
      "check",
      "Check certificate names' CAA the way the CA will, without a database. Exit status: 0 all "
      "permitted, 1 any denied, 2 lookup failures but none denied, 64 usage error or a name that does "
      "not parse (reported, the others still checked), 66 unreadable --file.");
  cmd->add_option("--resolver", o.resolvers,
                  "Recursive resolver ADDR[:PORT] (IPv4, or IPv6 as [ADDR]:PORT); repeat for fail-over. "
                  "Default: the nameservers in /etc/resolv.conf")
      ->allow_extra_args(false);
  cmd->add_option("--ca", o.cas, "Issuer domain of a CA you renew with; repeat for fallbacks (default: "
                                 "letsencrypt.org)")
      ->allow_extra_args(false);
  cmd->add_option("--account-uri", o.account_uri, "ACME account URI the renewal uses (RFC 8657)");
  cmd->add_option("--method", o.method, "Validation method the renewal uses, e.g. http-01 (RFC 8657)");
  cmd->add_option("--profile", o.profile, "How the CA reads the standards: letsencrypt, rfc8659, strictest")
      ->check(CLI::IsMember({"letsencrypt", "rfc8659", "strictest"}));
  cmd->add_option("--provider-target", o.provider_targets,
                  "Your CNAME target (e.g. domains.provider.example); names whose relevant CAA is there "
                  "are 'pinned'. Repeatable")
      ->allow_extra_args(false);
  cmd->add_flag("--json", o.json, "One JSON object per name per line");
  cmd->add_flag("--explain", o.explain, "Show every query, answer, alias followed and decision");
  cmd->add_option("--file", o.file, "Read names from this file, one per line ('-': stdin; '#' comments)");
  cmd->add_option("--concurrency", o.concurrency, "Lookups in flight at once")
      ->check(CLI::Range(1u, 100000u));
  cmd->add_option("--timeout-ms", o.timeout_ms, "Time to wait for each attempt")->check(CLI::Range(10u, 60000u));
  cmd->add_option("--attempts", o.attempts, "Attempts per query, across resolvers")->check(CLI::Range(1u, 10u));
  cmd->add_option("--max-qps", o.max_qps, "Queries per second per resolver (0: no cap)");
  cmd->add_option("domains", o.domains, "Names to check: DOMAIN or *.DOMAIN");
  return cmd;
}

int run_check(const CheckOptions& o, std::istream& in, std::ostream& out, std::ostream& err) {
  if (o.domains.empty() && !o.file) {
    err << "caad check: give names to check, or --file PATH\n";
    return k_exit_usage;
  }
  auto behaviour = caa::parse_behaviour(o.profile);
  if (!behaviour) {
    err << "caad check: --profile: unknown profile '" << o.profile << "'\n";
    return k_exit_usage;
  }
  std::vector<check::CaSpec> cas;
  for (const auto& issuer_text : o.cas.empty() ? std::vector<std::string>{"letsencrypt.org"} : o.cas) {
    auto issuer = dns::Name::parse(issuer_text);
    if (!issuer) {
      err << "caad check: --ca: " << issuer.error().message << "\n";
      return k_exit_usage;
    }
    cas.push_back({issuer->text(), caa::CaProfile{issuer->text(), o.account_uri, o.method, *behaviour}});
  }
  std::vector<dns::Name> targets;
  for (const auto& t : o.provider_targets) {
    auto name = dns::Name::parse(t);
    if (!name) {
      err << "caad check: --provider-target: " << name.error().message << "\n";
      return k_exit_usage;
    }
    targets.push_back(*name);
  }
  auto resolvers = resolvers_from(o);
  if (!resolvers) {
    err << "caad check: " << resolvers.error().message << "\n";
    return k_exit_usage;
  }

  std::ifstream file;
  std::istream* names = nullptr;
  if (o.file) {
    if (*o.file == "-") {
      names = &in;
    } else {
      file.open(*o.file);
      if (!file) {
        err << "caad check: cannot read --file " << *o.file << "\n";
        return k_exit_no_input;
      }
      names = &file;
    }
  }

  net::TransportOptions to;
  to.resolvers = std::move(*resolvers);
  to.attempt_timeout = Duration(o.timeout_ms);
  to.attempts = o.attempts;
  to.max_in_flight = std::max<std::size_t>(o.concurrency, 16);
  to.max_qps_per_resolver = o.max_qps;

  NameSource source(o.domains, names);
  CheckRun run(o, std::move(cas), std::move(targets), std::move(to), source, out, err);
  return run.run().exit_status();
}

}  // namespace caad::cli
