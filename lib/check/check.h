// A complete check of one certificate name: the lookup result, judged for
// every CA the provider may renew with, plus the name's exposure. This is what
// `caad check` prints and what the daemon stores.
#pragma once

#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "lib/caa/policy.h"
#include "lib/dns/name.h"
#include "lib/lookup/result.h"

namespace caad::check {

enum class Verdict { permitted, denied, lookup_failed };
std::string_view to_string(Verdict v);
// Severity order for "the worst over the CAs": denied > lookup_failed > permitted.
int severity(Verdict v);

enum class Exposure {
  pinned,   // the relevant RRset is at a provider target reached through the name's CNAME chain
  exposed,  // anything else: the customer's own records (or none) decide
};
std::string_view to_string(Exposure e);

// One CA as configured: a short name for reports, and its profile.
struct CaSpec {
  std::string name;  // "letsencrypt"
  caa::CaProfile profile;
};

struct CaVerdict {
  std::string name;
  std::string issuer;
  Verdict verdict = Verdict::permitted;
  std::optional<caa::Decision> decision;  // absent when the lookup failed
  std::string reason;                     // one sentence
};

struct CheckResult {
  explicit CheckResult(lookup::LookupResult l) : lookup(std::move(l)) {}

  lookup::LookupResult lookup;
  std::vector<CaVerdict> cas;  // same order as the specs
  Verdict verdict = Verdict::permitted;
  Exposure exposure = Exposure::exposed;
  std::string reason;  // the sentence of the worst CA
};

// Judges a lookup for every CA. `provider_targets` are the provider's own
// CNAME targets; a target's CAA pins the names that alias to it.
CheckResult assess(lookup::LookupResult lookup, std::span<const CaSpec> cas,
                   std::span<const dns::Name> provider_targets);

}  // namespace caad::check
