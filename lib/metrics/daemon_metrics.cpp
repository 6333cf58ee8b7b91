// The daemon's metric families (see the header). Names follow Prometheus
// practice: `_total` for counters, base units (seconds), timestamps as Unix
// seconds (`_timestamp_seconds`) so that alerts compute "days left"
// themselves and never read a stale countdown.
#include "lib/metrics/daemon_metrics.h"

#include <algorithm>
#include <array>

namespace caad::metrics {

std::string rcode_name(std::size_t rcode) {
  static constexpr std::array<const char*, 11> k_names = {
      "NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED",
      "YXDOMAIN", "YXRRSET", "NXRRSET", "NOTAUTH", "NOTZONE"};
  return rcode < k_names.size() ? k_names[rcode] : std::to_string(rcode);
}

DaemonMetrics::DaemonMetrics(Registry& r, std::string_view version)
    : checks(r.counter("caad_checks_total", "Domain checks finished, by verdict.", {"verdict"})),
      check_failures(r.counter("caad_check_failures_total", "Checks whose lookup failed, by failure kind.", {"kind"})),
      check_duration(r.histogram("caad_check_duration_seconds", "Time from a check's start to its verdict.",
                                 {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30})),
      dns_queries(r.counter("caad_dns_queries_total", "DNS answers received, by RCODE.", {"rcode"})),
      domains(r.gauge("caad_domains", "Enabled domains by current verdict and exposure (verdict \"unchecked\": "
                                      "not checked yet).",
                      {"verdict", "exposure"})),
      earliest_at_risk_renewal(r.gauge("caad_earliest_at_risk_renewal_timestamp_seconds",
                                       "Earliest renewal time among domains that are denied or failing, as Unix "
                                       "time; absent when there is none.")),
      webhook_deliveries(r.counter("caad_webhook_deliveries_total", "Webhook delivery attempts, by result.",
                                   {"result"})),
      outbox_depth(r.gauge("caad_outbox_depth", "Webhook outbox rows waiting to be delivered.")),
      last_sweep(r.gauge("caad_last_sweep_timestamp_seconds", "When the daemon last recorded a sweep, as Unix time.")),
      build_info(r.gauge("caad_build_info", "Always 1; the version is in the label.", {"version"})),
      domain_failing(r.gauge("caad_domain_failing",
                             "1 for each domain whose last lookup failed, by failure kind (at most 100 domains).",
                             {"domain", "kind"})) {
  build_info.set({std::string(version)}, 1);
  // Known label values start at zero so that rate() works from the first scrape.
  for (const char* v : {"permitted", "denied", "lookup_failed"}) checks.inc({v}, 0);
  refresh_failing();
  earliest_at_risk_renewal.clear();
}

void DaemonMetrics::record_check(const CheckSample& s) {
  checks.inc({s.verdict});
  check_duration.observe({}, s.duration_seconds);
  if (s.verdict == "lookup_failed") {
    const std::string kind = s.failure_kind.value_or("unknown");
    check_failures.inc({kind});
    auto it = m_failing.find(s.domain);
    if (it != m_failing.end() ? it->second != kind : m_failing.size() < k_max_failing_series) {
      m_failing[s.domain] = kind;
      refresh_failing();
    }
  } else if (m_failing.erase(s.domain) > 0) {
    refresh_failing();
  }
  set_at_risk(s.domain, s.verdict != "permitted" ? s.renewal : std::nullopt);
}

void DaemonMetrics::forget(const std::string& domain) {
  if (m_failing.erase(domain) > 0) refresh_failing();
  set_at_risk(domain, std::nullopt);
}

std::optional<UnixSeconds> DaemonMetrics::earliest_at_risk() const {
  if (m_at_risk_renewals.empty()) return std::nullopt;
  return *m_at_risk_renewals.begin();
}

void DaemonMetrics::set_at_risk(const std::string& domain, std::optional<UnixSeconds> renewal) {
  auto it = m_at_risk.find(domain);
  if (it != m_at_risk.end()) {
    if (renewal == it->second) return;
    m_at_risk_renewals.erase(m_at_risk_renewals.find(it->second));
    if (renewal) {
      it->second = *renewal;
    } else {
      m_at_risk.erase(it);
    }
  } else if (renewal) {
    m_at_risk.emplace(domain, *renewal);
  } else {
    return;
  }
  if (renewal) m_at_risk_renewals.insert(*renewal);
  refresh_earliest();
}

void DaemonMetrics::refresh_failing() {
  domain_failing.clear();
  for (const auto& [domain, kind] : m_failing) domain_failing.set({domain, kind}, 1);
}

void DaemonMetrics::refresh_earliest() {
  const auto earliest = earliest_at_risk();
  if (earliest == m_earliest_shown) return;
  m_earliest_shown = earliest;
  earliest_at_risk_renewal.clear();
  if (earliest) earliest_at_risk_renewal.set({}, static_cast<double>(*earliest));
}

void DaemonMetrics::set_domains(const std::vector<DomainCount>& counts) {
  domains.clear();
  for (const auto& c : counts) domains.set({c.verdict, c.exposure}, static_cast<double>(c.count));
}

void DaemonMetrics::set_dns_answers(const std::size_t (&by_rcode)[24]) {
  for (std::size_t i = 0; i < 24; ++i) {
    if (by_rcode[i] > 0) dns_queries.set({rcode_name(i)}, static_cast<double>(by_rcode[i]));
  }
}

void DaemonMetrics::set_outbox_depth(std::size_t pending) { outbox_depth.set({}, static_cast<double>(pending)); }

void DaemonMetrics::set_last_sweep(UnixSeconds at) { last_sweep.set({}, static_cast<double>(at)); }

void DaemonMetrics::count_webhook_delivery(std::string_view result) {
  webhook_deliveries.inc({std::string(result)});
}

}  // namespace caad::metrics
