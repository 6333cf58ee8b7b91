// JSON form of a check result: one object per name, the schema `caad check
// --json` prints and the store keeps. Field names are a stable interface.
#pragma once

#include <nlohmann/json.hpp>

#include "lib/check/check.h"

namespace caad::check {

// {"domain", "wildcard", "verdict", "exposure", "reason", "found_at",
//  "relevant_owner", "records", "cname_chain", "failure", "queries",
//  "nxdomain_tld", "cas": [{"ca", "issuer", "verdict", "reason", "outcome",
//  "deciding_record", "divergence"}]}
nlohmann::json to_json(const CheckResult& result);

}  // namespace caad::check
