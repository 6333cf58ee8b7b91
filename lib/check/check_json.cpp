// JSON form of a check result (see the header for the fields).
#include "lib/check/check_json.h"

#include "lib/caa/policy_json.h"

namespace caad::check {
namespace {

nlohmann::json name_or_null(const std::optional<dns::Name>& n) {
  return n ? nlohmann::json(n->text()) : nlohmann::json(nullptr);
}

}  // namespace

nlohmann::json to_json(const CheckResult& r) {
  const lookup::LookupResult& l = r.lookup;
  nlohmann::json records = nlohmann::json::array();
  for (const auto& rec : l.records) records.push_back(rec.presentation());
  nlohmann::json chain = nlohmann::json::array();
  for (const auto& n : l.cname_chain) chain.push_back(n.text());

  nlohmann::json failure = nullptr;
  if (l.failure) {
    failure = {{"kind", lookup::to_string(l.failure->kind)},
               {"name", l.failure->name.text()},
               {"detail", l.failure->detail},
               {"server", l.failure->server}};
  }

  nlohmann::json cas = nlohmann::json::array();
  for (const CaVerdict& v : r.cas) {
    nlohmann::json ca = {{"ca", v.name},
                         {"issuer", v.issuer},
                         {"verdict", std::string(to_string(v.verdict))},
                         {"reason", v.reason}};
    if (v.decision) {
      nlohmann::json d = caa::to_json(*v.decision, l.records);
      ca["outcome"] = d["outcome"];
      ca["behaviour"] = d["behaviour"];
      ca["deciding_record"] = d["deciding_record"];
      ca["divergence"] = d["divergence"];
    } else {
      ca["outcome"] = nullptr;
      ca["deciding_record"] = nullptr;
      ca["divergence"] = nullptr;
    }
    cas.push_back(std::move(ca));
  }

  return {{"domain", l.request.text()},
          {"wildcard", l.request.wildcard},
          {"verdict", std::string(to_string(r.verdict))},
          {"exposure", std::string(to_string(r.exposure))},
          {"reason", r.reason},
          {"found_at", name_or_null(l.found_at)},
          {"relevant_owner", name_or_null(l.relevant_owner)},
          {"records", records},
          {"cname_chain", chain},
          {"failure", failure},
          {"nxdomain_tld", name_or_null(l.nxdomain_tld)},
          {"queries", l.queries},
          {"cas", cas}};
}

}  // namespace caad::check
