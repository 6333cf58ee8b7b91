// A small Prometheus metrics registry and its text exposition format 0.0.4.
// Families (counter, gauge, histogram) are declared once with their label
// names; series are created on first use. render() writes the whole registry
// as the body of a GET /metrics answer. Pure: no I/O, no event loop. A mutex
// guards every family, so that a component on another thread (the webhook
// notifier, say) may count without knowing which thread renders.
#pragma once

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace caad::metrics {

enum class Type { counter, gauge, histogram };

// One family: a metric name, its help text, its label names and its series.
class Family {
 public:
  using Values = std::vector<std::string>;

  Family(Type type, std::string name, std::string help, std::vector<std::string> label_names,
         std::vector<double> buckets);

  // Counters: adds `by` (>= 0) to the series with these label values. A
  // wrong number of label values, or a negative amount, is ignored and
  // returns false: metrics never stop the daemon.
  bool inc(const Values& labels = {}, double by = 1);
  // Gauges (and counters mirrored from a source that keeps its own total):
  // sets the series' value.
  bool set(const Values& labels, double value);
  // Histograms: counts one observation.
  bool observe(const Values& labels, double value);
  // Drops every series, for gauges rebuilt from a fresh snapshot. A cleared
  // family without labels is left out of render() until set again.
  void clear();

  const std::string& name() const { return m_name; }
  Type type() const { return m_type; }
  // Appends this family's HELP, TYPE and sample lines to `out`.
  void render(std::string& out) const;

 private:
  struct Series {
    double value = 0;                  // counter/gauge value; histogram sum
    std::vector<std::uint64_t> counts;  // histogram: per bucket (not cumulative), then +Inf
  };
  Series& series(const Values& labels);

  Type m_type;
  std::string m_name, m_help;
  std::vector<std::string> m_label_names;
  std::vector<double> m_buckets;  // histogram upper bounds, ascending, +Inf implied
  mutable std::mutex m_mutex;
  std::map<Values, Series> m_series;  // ordered: stable output
  bool m_cleared = false;
};

// The families of one process, rendered in the order they were declared.
class Registry {
 public:
  Family& counter(std::string name, std::string help, std::vector<std::string> label_names = {});
  Family& gauge(std::string name, std::string help, std::vector<std::string> label_names = {});
  Family& histogram(std::string name, std::string help, std::vector<double> buckets,
                    std::vector<std::string> label_names = {});
  // The text exposition format, version 0.0.4.
  std::string render() const;

 private:
  std::vector<std::unique_ptr<Family>> m_families;
};

// The Content-Type of render()'s output.
inline constexpr std::string_view k_content_type = "text/plain; version=0.0.4; charset=utf-8";

// Label value escaping: backslash, double quote and newline.
std::string escape_label_value(std::string_view value);
// HELP text escaping: backslash and newline.
std::string escape_help(std::string_view text);
// A sample value: integers without a fraction, +Inf, -Inf, NaN, else the
// shortest text that reads back as the same double.
std::string format_value(double value);

}  // namespace caad::metrics
