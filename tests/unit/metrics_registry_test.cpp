// Tests for lib/metrics: the Prometheus text format (HELP/TYPE lines, label
// escaping, histogram buckets) and the daemon's bookkeeping behind the
// failing-domain series and the earliest at-risk renewal.
#include <doctest/doctest.h>

#include <string>

#include "lib/metrics/daemon_metrics.h"
#include "lib/metrics/registry.h"

using namespace caad::metrics;

TEST_CASE("a counter renders HELP, TYPE and its series in label order") {
  Registry r;
  Family& f = r.counter("caad_things_total", "Things seen.\nBy kind \\ colour.", {"kind"});
  CHECK(f.inc({"b"}));
  CHECK(f.inc({"a"}, 2));
  CHECK(f.inc({"b"}));
  CHECK(r.render() ==
        "# HELP caad_things_total Things seen.\\nBy kind \\\\ colour.\n"
        "# TYPE caad_things_total counter\n"
        "caad_things_total{kind=\"a\"} 2\n"
        "caad_things_total{kind=\"b\"} 2\n");
}

TEST_CASE("label values escape backslash, double quote and newline") {
  CHECK(escape_label_value("plain") == "plain");
  CHECK(escape_label_value("a\\b\"c\nd") == "a\\\\b\\\"c\\nd");
  Registry r;
  Family& g = r.gauge("caad_g", "G.", {"domain", "kind"});
  g.set({"x\"y.example", "servfail"}, 1);
  CHECK(r.render().find("caad_g{domain=\"x\\\"y.example\",kind=\"servfail\"} 1\n") != std::string::npos);
}

TEST_CASE("values: integers plainly, fractions exactly, infinities and NaN by name") {
  CHECK(format_value(0) == "0");
  CHECK(format_value(1700000000) == "1700000000");
  CHECK(format_value(0.25) == "0.25");
  CHECK(format_value(1.0 / 0.0) == "+Inf");
  CHECK(format_value(-1.0 / 0.0) == "-Inf");
  CHECK(format_value(0.0 / 0.0) == "NaN");
}

TEST_CASE("a family without labels shows a zero before its first use") {
  Registry r;
  r.gauge("caad_depth", "Depth.");
  r.histogram("caad_seconds", "Seconds.", {0.1, 1});
  CHECK(r.render() ==
        "# HELP caad_depth Depth.\n# TYPE caad_depth gauge\ncaad_depth 0\n"
        "# HELP caad_seconds Seconds.\n# TYPE caad_seconds histogram\n"
        "caad_seconds_bucket{le=\"0.1\"} 0\ncaad_seconds_bucket{le=\"1\"} 0\n"
        "caad_seconds_bucket{le=\"+Inf\"} 0\ncaad_seconds_sum 0\ncaad_seconds_count 0\n");
}

TEST_CASE("histogram buckets are cumulative and end with +Inf, _sum and _count") {
  Registry r;
  Family& h = r.histogram("caad_check_duration_seconds", "D.", {0.1, 1, 10});
  for (double v : {0.05, 0.1, 0.5, 3.0, 60.0}) CHECK(h.observe({}, v));
  CHECK(r.render() ==
        "# HELP caad_check_duration_seconds D.\n# TYPE caad_check_duration_seconds histogram\n"
        "caad_check_duration_seconds_bucket{le=\"0.1\"} 2\n"
        "caad_check_duration_seconds_bucket{le=\"1\"} 3\n"
        "caad_check_duration_seconds_bucket{le=\"10\"} 4\n"
        "caad_check_duration_seconds_bucket{le=\"+Inf\"} 5\n"
        "caad_check_duration_seconds_sum 63.65\n"
        "caad_check_duration_seconds_count 5\n");
}

TEST_CASE("a labelled histogram puts le last") {
  Registry r;
  Family& h = r.histogram("caad_h", "H.", {1}, {"kind"});
  h.observe({"x"}, 2);
  CHECK(r.render().find("caad_h_bucket{kind=\"x\",le=\"+Inf\"} 1\n") != std::string::npos);
  CHECK(r.render().find("caad_h_count{kind=\"x\"} 1\n") != std::string::npos);
}

TEST_CASE("misuse is refused, not fatal") {
  Registry r;
  Family& c = r.counter("caad_c_total", "C.", {"a"});
  CHECK_FALSE(c.inc({}));            // wrong label count
  CHECK_FALSE(c.inc({"x", "y"}));
  CHECK_FALSE(c.inc({"x"}, -1));     // counters never go down
  CHECK_FALSE(c.observe({"x"}, 1));  // not a histogram
  Family& h = r.histogram("caad_h", "H.", {1});
  CHECK_FALSE(h.inc({}));
  CHECK_FALSE(h.observe({}, 0.0 / 0.0));
}

TEST_CASE("clear drops every series of a gauge") {
  Registry r;
  Family& g = r.gauge("caad_domains", "D.", {"verdict", "exposure"});
  g.set({"denied", "exposed"}, 3);
  g.clear();
  g.set({"permitted", "pinned"}, 2);
  std::string text = r.render();
  CHECK(text.find("denied") == std::string::npos);
  CHECK(text.find("caad_domains{verdict=\"permitted\",exposure=\"pinned\"} 2\n") != std::string::npos);
}

TEST_CASE("daemon metrics: every family is declared, with build info and zeroed verdicts") {
  Registry r;
  DaemonMetrics m(r, "1.2.3");
  std::string text = r.render();
  for (const char* name :
       {"caad_checks_total", "caad_check_failures_total", "caad_check_duration_seconds", "caad_dns_queries_total",
        "caad_domains", "caad_earliest_at_risk_renewal_timestamp_seconds", "caad_webhook_deliveries_total",
        "caad_outbox_depth", "caad_last_sweep_timestamp_seconds", "caad_build_info", "caad_domain_failing"}) {
    CHECK_MESSAGE(text.find(std::string("# TYPE ") + name + " ") != std::string::npos, name);
  }
  CHECK(text.find("caad_build_info{version=\"1.2.3\"} 1\n") != std::string::npos);
  CHECK(text.find("caad_checks_total{verdict=\"denied\"} 0\n") != std::string::npos);
  // No at-risk domain: no sample (an absent series, not a misleading 0).
  CHECK(text.find("caad_earliest_at_risk_renewal_timestamp_seconds 0") == std::string::npos);
  m.count_webhook_delivery("delivered");
  CHECK(r.render().find("caad_webhook_deliveries_total{result=\"delivered\"} 1\n") != std::string::npos);
}

TEST_CASE("daemon metrics: failing domains and the earliest at-risk renewal follow each check") {
  Registry r;
  DaemonMetrics m(r, "0");
  m.record_check({"a.example", "denied", std::nullopt, 2000, 0.5});
  m.record_check({"b.example", "lookup_failed", std::string("servfail"), 1000, 0.2});
  m.record_check({"c.example", "permitted", std::nullopt, 500, 0.1});
  CHECK(m.earliest_at_risk() == 1000);
  std::string text = r.render();
  CHECK(text.find("caad_earliest_at_risk_renewal_timestamp_seconds 1000\n") != std::string::npos);
  CHECK(text.find("caad_domain_failing{domain=\"b.example\",kind=\"servfail\"} 1\n") != std::string::npos);
  CHECK(text.find("caad_check_failures_total{kind=\"servfail\"} 1\n") != std::string::npos);
  CHECK(text.find("caad_checks_total{verdict=\"permitted\"} 1\n") != std::string::npos);
  CHECK(text.find("caad_check_duration_seconds_count 3\n") != std::string::npos);

  // b recovers: it leaves the failing list and the at-risk set.
  m.record_check({"b.example", "permitted", std::nullopt, 1000, 0.1});
  CHECK(m.earliest_at_risk() == 2000);
  CHECK(r.render().find("b.example") == std::string::npos);
  m.forget("a.example");
  CHECK(m.earliest_at_risk() == std::nullopt);
}

TEST_CASE("daemon metrics: at most 100 failing domains get a series") {
  Registry r;
  DaemonMetrics m(r, "0");
  for (int i = 0; i < 150; ++i) {
    m.record_check({"d" + std::to_string(i) + ".example", "lookup_failed", std::string("timeout"), std::nullopt, 1});
  }
  std::string text = r.render();
  std::size_t series = 0;
  for (std::size_t at = 0; (at = text.find("caad_domain_failing{", at)) != std::string::npos; ++at) ++series;
  CHECK(series == k_max_failing_series);
  CHECK(text.find("caad_check_failures_total{kind=\"timeout\"} 150\n") != std::string::npos);
}

TEST_CASE("daemon metrics: DNS answers by RCODE name") {
  Registry r;
  DaemonMetrics m(r, "0");
  std::size_t by_rcode[24] = {};
  by_rcode[0] = 7;
  by_rcode[2] = 1;
  by_rcode[23] = 2;
  m.set_dns_answers(by_rcode);
  std::string text = r.render();
  CHECK(text.find("caad_dns_queries_total{rcode=\"NOERROR\"} 7\n") != std::string::npos);
  CHECK(text.find("caad_dns_queries_total{rcode=\"SERVFAIL\"} 1\n") != std::string::npos);
  CHECK(text.find("caad_dns_queries_total{rcode=\"23\"} 2\n") != std::string::npos);
  CHECK(text.find("NXDOMAIN") == std::string::npos);
}

TEST_CASE("daemon metrics: the earliest at-risk renewal follows renewals that move and repeat") {
  Registry r;
  DaemonMetrics m(r, "0");
  m.record_check({"a.example", "denied", std::nullopt, 3000, 0.1});
  m.record_check({"b.example", "denied", std::nullopt, 3000, 0.1});  // the same time twice
  m.record_check({"c.example", "lookup_failed", std::string("timeout"), 4000, 0.1});
  CHECK(m.earliest_at_risk() == 3000);
  m.record_check({"a.example", "permitted", std::nullopt, 3000, 0.1});
  CHECK(m.earliest_at_risk() == 3000);  // b still renews then
  m.record_check({"b.example", "denied", std::nullopt, 5000, 0.1});  // a new renewal date
  CHECK(m.earliest_at_risk() == 4000);
  CHECK(r.render().find("caad_earliest_at_risk_renewal_timestamp_seconds 4000\n") != std::string::npos);
  m.record_check({"c.example", "denied", std::nullopt, std::nullopt, 0.1});  // no renewal known: not counted
  CHECK(m.earliest_at_risk() == 5000);
  m.forget("b.example");
  CHECK(m.earliest_at_risk() == std::nullopt);
  CHECK(r.render().find("\ncaad_earliest_at_risk_renewal_timestamp_seconds ") == std::string::npos);
  // The failing series follows a change of kind.
  m.record_check({"d.example", "lookup_failed", std::string("timeout"), std::nullopt, 0.1});
  m.record_check({"d.example", "lookup_failed", std::string("servfail"), std::nullopt, 0.1});
  const std::string text = r.render();
  CHECK(text.find("caad_domain_failing{domain=\"d.example\",kind=\"servfail\"} 1\n") != std::string::npos);
  CHECK(text.find("caad_domain_failing{domain=\"d.example\",kind=\"timeout\"}") == std::string::npos);
}
