// The daemon's metrics, by name: every family `caad run` exports at
// /metrics, and the bookkeeping behind the two that need memory across
// checks (the bounded list of failing domains, and the earliest renewal
// among domains that are denied or failing). Pure; the daemon feeds it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <set>
#include <unordered_map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "lib/metrics/registry.h"
#include "lib/util/time.h"

namespace caad::metrics {

// Per-domain series are kept for failing domains only, and at most this many.
inline constexpr std::size_t k_max_failing_series = 100;

// What one finished check tells the metrics.
struct CheckSample {
  std::string domain;
  std::string verdict;                     // permitted | denied | lookup_failed
  std::optional<std::string> failure_kind;  // with lookup_failed
  std::optional<UnixSeconds> renewal;       // the domain's renewal time, when known
  double duration_seconds = 0;
};

// The figures of one Store::counts snapshot that become gauges.
struct DomainCount {
  std::string verdict, exposure;
  std::size_t count = 0;
};

class DaemonMetrics {
 public:
  DaemonMetrics(Registry& registry, std::string_view version);

  void record_check(const CheckSample& sample);
  // A domain removed from watching is no longer failing or at risk.
  void forget(const std::string& domain);
  // Replaces caad_domains with a fresh snapshot.
  void set_domains(const std::vector<DomainCount>& counts);
  // DNS answers by RCODE, from the transport's running totals.
  void set_dns_answers(const std::size_t (&by_rcode)[24]);
  void set_outbox_depth(std::size_t pending);
  void set_last_sweep(UnixSeconds at);
  // Webhook notifier: one delivery attempt's result (e.g. "delivered",
  // "retry", "dead").
  void count_webhook_delivery(std::string_view result);
  // Earliest renewal among denied or failing domains, or nullopt.
  std::optional<UnixSeconds> earliest_at_risk() const;

  Family& checks;
  Family& check_failures;
  Family& check_duration;
  Family& dns_queries;
  Family& domains;
  Family& earliest_at_risk_renewal;
  Family& webhook_deliveries;
  Family& outbox_depth;
  Family& last_sweep;
  Family& build_info;
  Family& domain_failing;

 private:
  // Each check costs O(log n) here: with a million domains, a pass over all
  // at-risk domains per check made the daemon's sweep quadratic.
  void set_at_risk(const std::string& domain, std::optional<UnixSeconds> renewal);
  void refresh_failing();
  void refresh_earliest();

  std::map<std::string, std::string> m_failing;                 // domain -> failure kind (bounded)
  std::unordered_map<std::string, UnixSeconds> m_at_risk;       // denied/failing domain -> renewal
  std::multiset<UnixSeconds> m_at_risk_renewals;                // the values of m_at_risk, ordered
  std::optional<UnixSeconds> m_earliest_shown;                  // what the gauge says now
};

// "NOERROR", "SERVFAIL", ...; other codes as their number.
std::string rcode_name(std::size_t rcode);

}  // namespace caad::metrics
