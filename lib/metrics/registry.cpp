// The registry and the text format (see the header). The format is the
// Prometheus text exposition format 0.0.4: per family a "# HELP" and a
// "# TYPE" line, then one line per sample, `name{label="value",...} value`.
// Histograms write cumulative `_bucket{le="..."}` lines ending with
// le="+Inf", then `_sum` and `_count`.
#include "lib/metrics/registry.h"

#include <array>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <utility>

namespace caad::metrics {

std::string escape_label_value(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

std::string escape_help(std::string_view text) {
  std::string out;
  for (char c : text) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

std::string format_value(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  // Whole numbers (counts, Unix times) print as integers, never as 1.7e+09.
  if (std::abs(value) < 9007199254740992.0 && value == std::floor(value)) {
    return std::to_string(static_cast<std::int64_t>(value));
  }
  std::array<char, 64> buffer{};
  auto r = std::to_chars(buffer.data(), buffer.data() + buffer.size(), value);
  return std::string(buffer.data(), r.ptr);
}

Family::Family(Type type, std::string name, std::string help, std::vector<std::string> label_names,
               std::vector<double> buckets)
    : m_type(type),
      m_name(std::move(name)),
      m_help(std::move(help)),
      m_label_names(std::move(label_names)),
      m_buckets(std::move(buckets)) {}

Family::Series& Family::series(const Values& labels) {
  auto [it, added] = m_series.try_emplace(labels);
  if (added && m_type == Type::histogram) it->second.counts.assign(m_buckets.size() + 1, 0);
  return it->second;
}

bool Family::inc(const Values& labels, double by) {
  if (labels.size() != m_label_names.size() || !(by >= 0) || m_type == Type::histogram) return false;
  std::lock_guard lock(m_mutex);
  series(labels).value += by;
  return true;
}

bool Family::set(const Values& labels, double value) {
  if (labels.size() != m_label_names.size() || m_type == Type::histogram) return false;
  std::lock_guard lock(m_mutex);
  series(labels).value = value;
  return true;
}

bool Family::observe(const Values& labels, double value) {
  if (labels.size() != m_label_names.size() || m_type != Type::histogram || std::isnan(value)) return false;
  std::lock_guard lock(m_mutex);
  Series& s = series(labels);
  std::size_t i = 0;
  while (i < m_buckets.size() && value > m_buckets[i]) ++i;
  ++s.counts[i];
  s.value += value;
  return true;
}

void Family::clear() {
  std::lock_guard lock(m_mutex);
  m_series.clear();
  m_cleared = true;
}

namespace {

const char* type_name(Type t) {
  switch (t) {
    case Type::counter:
      return "counter";
    case Type::gauge:
      return "gauge";
    case Type::histogram:
      return "histogram";
  }
  return "untyped";
}

// `{a="x",b="y"}` with an optional extra label last (le for buckets); empty
// when there are no labels at all.
std::string label_text(const std::vector<std::string>& names, const Family::Values& values,
                       std::string_view extra_name = {}, std::string_view extra_value = {}) {
  if (names.empty() && extra_name.empty()) return {};
  std::string out = "{";
  for (std::size_t i = 0; i < names.size(); ++i) {
    if (i > 0) out += ',';
    out += names[i] + "=\"" + escape_label_value(values[i]) + "\"";
  }
  if (!extra_name.empty()) {
    if (!names.empty()) out += ',';
    out += std::string(extra_name) + "=\"" + std::string(extra_value) + "\"";
  }
  return out + "}";
}

}  // namespace

void Family::render(std::string& out) const {
  std::lock_guard lock(m_mutex);
  out += "# HELP " + m_name + " " + escape_help(m_help) + "\n";
  out += "# TYPE " + m_name + " " + type_name(m_type) + "\n";
  // A family without labels has its one series, at zero until used, so that
  // a scrape shows it from the start; once cleared it may be absent (a
  // timestamp with nothing to report is better missing than 0, i.e. 1970).
  if (m_label_names.empty() && m_series.empty() && !m_cleared) {
    if (m_type != Type::histogram) {
      out += m_name + " 0\n";
    } else {
      for (double b : m_buckets) out += m_name + "_bucket{le=\"" + format_value(b) + "\"} 0\n";
      out += m_name + "_bucket{le=\"+Inf\"} 0\n" + m_name + "_sum 0\n" + m_name + "_count 0\n";
    }
    return;
  }
  for (const auto& [values, s] : m_series) {
    if (m_type != Type::histogram) {
      out += m_name + label_text(m_label_names, values) + " " + format_value(s.value) + "\n";
      continue;
    }
    std::uint64_t cumulative = 0;
    for (std::size_t i = 0; i < m_buckets.size(); ++i) {
      cumulative += s.counts[i];
      out += m_name + "_bucket" + label_text(m_label_names, values, "le", format_value(m_buckets[i])) + " " +
             std::to_string(cumulative) + "\n";
    }
    cumulative += s.counts.back();
    out += m_name + "_bucket" + label_text(m_label_names, values, "le", "+Inf") + " " + std::to_string(cumulative) +
           "\n";
    out += m_name + "_sum" + label_text(m_label_names, values) + " " + format_value(s.value) + "\n";
    out += m_name + "_count" + label_text(m_label_names, values) + " " + std::to_string(cumulative) + "\n";
  }
}

Family& Registry::counter(std::string name, std::string help, std::vector<std::string> label_names) {
  return *m_families.emplace_back(
      std::make_unique<Family>(Type::counter, std::move(name), std::move(help), std::move(label_names),
                               std::vector<double>{}));
}

Family& Registry::gauge(std::string name, std::string help, std::vector<std::string> label_names) {
  return *m_families.emplace_back(std::make_unique<Family>(Type::gauge, std::move(name), std::move(help),
                                                           std::move(label_names), std::vector<double>{}));
}

Family& Registry::histogram(std::string name, std::string help, std::vector<double> buckets,
                            std::vector<std::string> label_names) {
  return *m_families.emplace_back(std::make_unique<Family>(Type::histogram, std::move(name), std::move(help),
                                                           std::move(label_names), std::move(buckets)));
}

std::string Registry::render() const {
  std::string out;
  for (const auto& f : m_families) f->render(out);
  return out;
}

}  // namespace caad::metrics
