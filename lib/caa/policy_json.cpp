// JSON form of a policy decision (see the header for the shape).
#include "lib/caa/policy_json.h"

namespace caad::caa {

nlohmann::json to_json(const Decision& decision, std::span<const Record> records) {
  nlohmann::json per_record = nlohmann::json::array();
  for (std::size_t i = 0; i < records.size(); ++i) {
    const Finding& f = decision.findings.at(i);
    per_record.push_back({{"record", records[i].presentation()},
                          {"role", std::string(to_string(f.role))},
                          {"detail", f.detail}});
  }
  nlohmann::json deciding = nullptr;
  if (decision.deciding_record) {
    std::size_t i = *decision.deciding_record;
    deciding = {{"index", i}, {"record", records[i].presentation()}};
  }
  return {{"verdict", std::string(to_string(decision.verdict))},
          {"outcome", std::string(to_string(decision.outcome))},
          {"behaviour", std::string(to_string(decision.behaviour))},
          {"reason", decision.sentence},
          {"deciding_record", deciding},
          {"records", per_record},
          {"divergence", decision.divergence ? nlohmann::json(*decision.divergence) : nlohmann::json()}};
}

}  // namespace caad::caa
