// Fuzz target for the domain importer, which reads files that customers'
// spreadsheets and other people's scripts produce. Each input is parsed as a
// CSV file and as a JSON Lines file, with a fixed list of configured CAs.
// Besides not crashing: an accepted file holds only canonical, distinct names,
// known CA names and consistent dates; a rejected file gets one line of error
// that names the source, because that line is what `caad domain import`
// prints.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "lib/dns/name.h"
#include "lib/domains/import.h"

namespace {

const std::vector<std::string> k_known_cas = {"letsencrypt", "digicert", "zerossl"};

void require(bool condition, const char* what, const std::string& detail) {
  if (condition) return;
  std::fprintf(stderr, "domains_import: %s\n  %s\n", what, detail.c_str());
  std::abort();
}

void check(const std::string& input, caad::domains::Format format) {
  std::istringstream in(input);
  auto result = caad::domains::parse(in, format, "fuzz.txt", k_known_cas);
  if (!result) {
    const std::string& message = result.error().message;
    require(message.starts_with("fuzz.txt:"), "the error does not name the source", message);
    require(message.find('\n') == std::string::npos, "the error is not one line", message);
    return;
  }
  std::set<std::string> seen;
  for (const auto& spec : *result) {
    const std::string text = spec.request.text();
    const auto again = caad::dns::parse_domain(text);
    require(again.has_value() && *again == spec.request, "a name is not canonical", text);
    require(seen.insert(text).second, "a name was accepted twice", text);
    for (const std::string& ca : spec.cas) {
      bool known = false;
      for (const std::string& k : k_known_cas) known = known || k == ca;
      require(known, "an unknown CA was accepted", ca);
    }
    if (spec.renew_at && spec.not_after) {
      require(*spec.renew_at <= *spec.not_after, "renew_at after not_after was accepted", text);
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string input(reinterpret_cast<const char*>(data), size);
  check(input, caad::domains::Format::csv);
  check(input, caad::domains::Format::jsonl);
  // The guess must not depend on anything but the first characters.
  (void)caad::domains::detect_format(input.substr(0, input.find('\n')));
  return 0;
}
