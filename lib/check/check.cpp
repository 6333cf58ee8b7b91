// Judging a lookup for each CA: a failed lookup is lookup_failed for every
// CA (the CA refuses when it cannot find out); otherwise the policy decides on
// the relevant RRset. The one lookup-level point where readings differ,
// NXDOMAIN at a bare TLD, is settled here per CA profile.
#include "lib/check/check.h"

#include <algorithm>

namespace caad::check {
namespace {

std::string failure_sentence(const lookup::LookupResult& r) {
  const lookup::Failure& f = *r.failure;
  std::string kind = f.kind == lookup::FailureKind::dnssec_bogus ? "DNSSEC bogus" : lookup::to_string(f.kind);
  std::replace(kind.begin(), kind.end(), '_', ' ');
  return "caad could not find out which CAA records apply to " + r.request.display() + ": " + f.detail + " (" +
         kind + " at " + f.name.display() + "); a CA refuses to issue while this lasts.";
}

bool treats_tld_nxdomain_as_error(caa::Behaviour b) { return b != caa::Behaviour::rfc8659; }

bool contains(std::span<const dns::Name> names, const dns::Name& n) {
  return std::find(names.begin(), names.end(), n) != names.end();
}

}  // namespace

std::string_view to_string(Verdict v) {
  switch (v) {
    case Verdict::permitted: return "permitted";
    case Verdict::denied: return "denied";
    case Verdict::lookup_failed: break;
  }
  return "lookup_failed";
}

int severity(Verdict v) {
  switch (v) {
    case Verdict::permitted: return 0;
    case Verdict::lookup_failed: return 1;
    case Verdict::denied: break;
  }
  return 2;
}

std::string_view to_string(Exposure e) { return e == Exposure::pinned ? "pinned" : "exposed"; }

CheckResult assess(lookup::LookupResult lookup, std::span<const CaSpec> cas,
                   std::span<const dns::Name> provider_targets) {
  CheckResult out(std::move(lookup));
  const lookup::LookupResult& l = out.lookup;

  if (l.relevant_owner && contains(provider_targets, *l.relevant_owner) &&
      (contains(l.cname_chain, *l.relevant_owner) || *l.relevant_owner == l.request.name)) {
    out.exposure = Exposure::pinned;
  }

  caa::Request request;
  request.domain = l.request.display();
  request.wildcard = l.request.wildcard;
  if (l.relevant_owner) request.owner = l.relevant_owner->display();

  for (const CaSpec& spec : cas) {
    CaVerdict v;
    v.name = spec.name;
    v.issuer = spec.profile.issuer;
    if (l.failure) {
      v.verdict = Verdict::lookup_failed;
      v.reason = failure_sentence(l);
    } else if (l.nxdomain_tld && l.records.empty() && treats_tld_nxdomain_as_error(spec.profile.behaviour)) {
      v.verdict = Verdict::lookup_failed;
      v.reason = "The top-level domain " + l.nxdomain_tld->display() + " of " + request.domain +
                 " does not exist (NXDOMAIN); RFC 8659 reads that as no CAA records, but Let's Encrypt "
                 "treats it as a lookup error and refuses to issue.";
    } else {
      caa::Decision d = caa::evaluate(l.records, spec.profile, request);
      v.verdict = d.verdict == caa::Verdict::permitted ? Verdict::permitted : Verdict::denied;
      v.reason = d.sentence;
      v.decision = std::move(d);
    }
    out.cas.push_back(std::move(v));
  }

  const CaVerdict* worst = nullptr;
  for (const CaVerdict& v : out.cas) {
    if (!worst || severity(v.verdict) > severity(worst->verdict)) worst = &v;
  }
  if (worst) {
    out.verdict = worst->verdict;
    out.reason = worst->reason;
  }
  return out;
}

}  // namespace caad::check
