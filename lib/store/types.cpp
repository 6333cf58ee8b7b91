// Severity names and the outbox routing rule.
#include "lib/store/types.h"

#include <algorithm>

namespace caad::store {

const char* to_string(Severity s) {
  switch (s) {
    case Severity::info: return "info";
    case Severity::warning: return "warning";
    case Severity::critical: break;
  }
  return "critical";
}

std::optional<Severity> parse_severity(std::string_view text) {
  for (Severity s : {Severity::info, Severity::warning, Severity::critical}) {
    if (text == to_string(s)) return s;
  }
  return std::nullopt;
}

const char* to_string(OutboxState s) {
  switch (s) {
    case OutboxState::pending: return "pending";
    case OutboxState::delivered: return "delivered";
    case OutboxState::dead: break;
  }
  return "dead";
}

bool OutboxRoute::wants(const Event& e) const {
  // The enumerators are declared from least to most severe.
  if (e.severity < min_severity) return false;
  return kinds.empty() || std::find(kinds.begin(), kinds.end(), e.kind) != kinds.end();
}

}  // namespace caad::store
