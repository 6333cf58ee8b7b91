// JSON form of a check result (see the header for the fields).
#include "lib/check/check_json.h"

#include <cstring>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "lib/caa/policy.h"

namespace caad::check {
namespace {

nlohmann::json name_or_null(const std::optional<dns::Name>& n) {
  return n ? nlohmann::json(n->text()) : nlohmann::json(nullptr);
}

// The bytes result_digest hashes: every value with its length in front, so
// that no two different sequences of values give the same bytes.
class DigestInput {
 public:
  DigestInput() { m_bytes.clear(); }
  DigestInput& add(std::string_view v) {
    const auto n = static_cast<std::uint32_t>(v.size());
    char len[sizeof n];
    std::memcpy(len, &n, sizeof n);
    m_bytes.append(len, sizeof n).append(v);
    return *this;
  }
  DigestInput& add(std::uint64_t v) {
    char bytes[sizeof v];
    std::memcpy(bytes, &v, sizeof v);
    return add(std::string_view(bytes, sizeof v));
  }
  template <class T>
  DigestInput& add_optional(const std::optional<T>& v) {
    add(std::uint64_t{v.has_value()});
    if (v) add(*v);
    return *this;
  }
  DigestInput& add(const dns::Name& n) { return add(std::string_view(n.text())); }
  std::uint64_t digest() const { return std::hash<std::string_view>{}(m_bytes); }

 private:
  // Reused: a result is a few hundred bytes, hashed once per check.
  static thread_local std::string m_bytes;
};
thread_local std::string DigestInput::m_bytes;

std::uint64_t code(auto e) { return static_cast<std::uint64_t>(e); }

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

std::uint64_t result_digest(const CheckResult& r) {
  const lookup::LookupResult& l = r.lookup;
  DigestInput in;
  in.add(l.request.name).add(std::uint64_t{l.request.wildcard});
  in.add(code(r.verdict)).add(code(r.exposure)).add(r.reason);
  in.add_optional(l.found_at).add_optional(l.relevant_owner).add_optional(l.nxdomain_tld);
  in.add(l.records.size());
  for (const caa::Record& rec : l.records) in.add(std::uint64_t{rec.flags}).add(rec.tag).add(rec.value);
  in.add(l.cname_chain.size());
  for (const dns::Name& n : l.cname_chain) in.add(n);
  in.add(std::uint64_t{l.failure.has_value()});
  if (l.failure) in.add(code(l.failure->kind)).add(l.failure->name).add(l.failure->detail).add(l.failure->server);
  in.add(r.cas.size());
  for (const CaVerdict& v : r.cas) {
    in.add(v.name).add(v.issuer).add(code(v.verdict)).add(v.reason).add(std::uint64_t{v.decision.has_value()});
    if (!v.decision) continue;
    const caa::Decision& d = *v.decision;
    in.add(code(d.outcome)).add(code(d.behaviour)).add_optional(d.deciding_record).add_optional(d.divergence);
  }
  return in.digest();
}

}  // namespace caad::check
