// JSON form of a check result (see the header for the fields).
#include "lib/check/check_json.h"

#include <string>
#include <utility>
#include <vector>

#include "lib/caa/policy.h"

namespace caad::check {
namespace {

nlohmann::json name_or_null(const std::optional<dns::Name>& n) {
  return n ? nlohmann::json(n->text()) : nlohmann::json(nullptr);
}

}  // namespace

nlohmann::json to_json(const CheckResult& r) {
  const lookup::LookupResult& l = r.lookup;
  // Each record's text once: for "records" and for the CAs' deciding records.
  std::vector<std::string> texts;
  texts.reserve(l.records.size());
  for (const auto& rec : l.records) texts.push_back(rec.presentation());
  nlohmann::json chain = nlohmann::json::array();
  for (const auto& n : l.cname_chain) chain.push_back(n.text());

  nlohmann::json failure = nullptr;
  if (l.failure) {
    failure = {{"kind", lookup::to_string(l.failure->kind)},
               {"name", l.failure->name.text()},
               {"detail", l.failure->detail},
               {"server", l.failure->server}};
  }

  // Per CA, the decision's outcome, behaviour, deciding record and
  // divergence, as caa::to_json has them (its per-record findings are left
  // out: `caad evaluate --json` shows those).
  nlohmann::json cas = nlohmann::json::array();
  for (const CaVerdict& v : r.cas) {
    nlohmann::json ca = {{"ca", v.name},
                         {"issuer", v.issuer},
                         {"verdict", std::string(to_string(v.verdict))},
                         {"reason", v.reason}};
    if (v.decision) {
      const caa::Decision& d = *v.decision;
      ca["outcome"] = std::string(caa::to_string(d.outcome));
      ca["behaviour"] = std::string(caa::to_string(d.behaviour));
      ca["deciding_record"] = d.deciding_record && *d.deciding_record < texts.size()
                                  ? nlohmann::json{{"index", *d.deciding_record}, {"record", texts[*d.deciding_record]}}
                                  : nlohmann::json(nullptr);
      ca["divergence"] = d.divergence ? nlohmann::json(*d.divergence) : nlohmann::json();
    } else {
      ca["outcome"] = nullptr;
      ca["deciding_record"] = nullptr;
      ca["divergence"] = nullptr;
    }
    cas.push_back(std::move(ca));
  }

  nlohmann::json out = nlohmann::json::object();
  out["domain"] = l.request.text();
  out["wildcard"] = l.request.wildcard;
  out["verdict"] = std::string(to_string(r.verdict));
  out["exposure"] = std::string(to_string(r.exposure));
  out["reason"] = r.reason;
  out["found_at"] = name_or_null(l.found_at);
  out["relevant_owner"] = name_or_null(l.relevant_owner);
  out["records"] = std::move(texts);
  out["cname_chain"] = std::move(chain);
  out["failure"] = std::move(failure);
  out["nxdomain_tld"] = name_or_null(l.nxdomain_tld);
  out["queries"] = l.queries;
  out["cas"] = std::move(cas);
  return out;
}

}  // namespace caad::check
