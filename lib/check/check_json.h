// JSON form of a check result: one object per name, the schema `caad check
// --json` prints and the store keeps. Field names are a stable interface.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>

#include "lib/check/check.h"

namespace caad::check {

// {"domain", "wildcard", "verdict", "exposure", "reason", "found_at",
//  "relevant_owner", "records", "cname_chain", "failure", "queries",
//  "nxdomain_tld", "cas": [{"ca", "issuer", "verdict", "reason", "outcome",
//  "deciding_record", "divergence"}]}
nlohmann::json to_json(const CheckResult& result);

// A 64-bit digest of everything to_json writes except "queries" (how many
// questions this check happened to send): two results with the same digest
// store the same JSON. The daemon compares digests to tell whether a check
// found what the last one did without building the JSON. Stable across runs
// of one build; a new build may hash differently, which only makes each
// domain's next result count as changed once.
std::uint64_t result_digest(const CheckResult& result);

}  // namespace caad::check
