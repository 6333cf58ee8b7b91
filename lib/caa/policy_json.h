// JSON form of a policy decision, shared by `caad evaluate`, `caad check` and
// the stored check results, so that every consumer sees the same field names.
#pragma once

#include <nlohmann/json.hpp>
#include <span>

#include "lib/caa/policy.h"

namespace caad::caa {

// {"verdict", "outcome", "behaviour", "reason", "deciding_record", "records":
// [{"record", "role", "detail"}], "divergence"}; deciding_record and
// divergence are null when absent.
nlohmann::json to_json(const Decision& decision, std::span<const Record> records);

}  // namespace caad::caa
