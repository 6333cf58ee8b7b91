// Small pure helpers over caad-status's values (see the header).
#include "lib/status/model.h"

namespace caad::status {
namespace {

// A string member of a JSON object, or "" when absent or not a string.
std::string text_of(const nlohmann::json& object, const char* key) {
  auto it = object.find(key);
  return it != object.end() && it->is_string() ? it->get<std::string>() : std::string();
}

// The same, keeping "absent" (or null) apart from "".
std::optional<std::string> optional_text_of(const nlohmann::json& object, const char* key) {
  auto it = object.find(key);
  if (it == object.end() || !it->is_string()) return std::nullopt;
  return it->get<std::string>();
}

std::vector<std::string> strings_of(const nlohmann::json& object, const char* key) {
  std::vector<std::string> out;
  auto it = object.find(key);
  if (it == object.end() || !it->is_array()) return out;
  for (const auto& e : *it) {
    if (e.is_string()) out.push_back(e.get<std::string>());
  }
  return out;
}

}  // namespace

std::int64_t days_until(UnixSeconds now, UnixSeconds t) {
  const std::int64_t d = t - now;
  return d >= 0 ? d / k_day : -((-d + k_day - 1) / k_day);
}

bool daemon_alive(const DaemonRow& d, UnixSeconds now) {
  // A heartbeat from the future (clocks of two hosts sharing a file, or a
  // clock stepped back) still proves the daemon wrote recently.
  return d.heartbeat_at > 0 && now - d.heartbeat_at <= k_alive_within;
}

std::string_view verdict_name(std::string_view verdict) {
  return verdict.empty() ? std::string_view("unchecked") : verdict;
}

int verdict_rank(std::string_view verdict) {
  if (verdict == "denied") return 0;
  if (verdict == "lookup_failed") return 1;
  if (verdict.empty()) return 2;
  return 3;
}

std::optional<CheckDetail> parse_check_detail(std::string_view json) {
  if (json.empty()) return std::nullopt;
  auto j = nlohmann::json::parse(json, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return std::nullopt;
  CheckDetail d;
  d.verdict = text_of(j, "verdict");
  d.exposure = text_of(j, "exposure");
  d.reason = text_of(j, "reason");
  d.found_at = optional_text_of(j, "found_at");
  d.relevant_owner = optional_text_of(j, "relevant_owner");
  d.nxdomain_tld = optional_text_of(j, "nxdomain_tld");
  d.records = strings_of(j, "records");
  d.cname_chain = strings_of(j, "cname_chain");
  if (auto f = j.find("failure"); f != j.end() && f->is_object()) {
    d.failure = FailureInfo{text_of(*f, "kind"), text_of(*f, "name"), text_of(*f, "detail"),
                            text_of(*f, "server")};
  }
  if (auto cas = j.find("cas"); cas != j.end() && cas->is_array()) {
    for (const auto& ca : *cas) {
      if (!ca.is_object()) continue;
      CaResult r{text_of(ca, "ca"),     text_of(ca, "issuer"),           text_of(ca, "verdict"),
                 text_of(ca, "reason"), optional_text_of(ca, "outcome"), std::nullopt};
      // {"index": n, "record": "0 issue \"x\""} or null.
      if (auto dr = ca.find("deciding_record"); dr != ca.end() && dr->is_object()) {
        r.deciding_record = optional_text_of(*dr, "record");
      }
      d.cas.push_back(std::move(r));
    }
  }
  return d;
}

}  // namespace caad::status
