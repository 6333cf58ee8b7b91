// Fuzz target for the CAA parsers, which read text and RDATA that anyone can
// publish. Each input is tried three ways: as wire RDATA, as presentation text
// and as an issue value. Besides not crashing, a parsed record must survive
// wire() and presentation() unchanged, because caad writes records back out
// (in reports and test zones) and a lossy round trip would change a policy.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <span>
#include <string>
#include <string_view>

#include "lib/caa/issue_value.h"
#include "lib/caa/record.h"

namespace {

using caad::caa::Record;

// A violated invariant must stop the fuzzer even in builds without
// assertions, and say which one it was.
void require(bool condition, const char* what, const Record& record) {
  if (condition) return;
  std::fprintf(stderr, "caa_parsers: %s\n  record: %s\n", what, record.presentation().c_str());
  std::abort();
}

void check_record(const Record& record) {
  // tag_is() must find the tag under its own lower-case spelling.
  std::string lower = record.tag;
  for (char& c : lower) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  require(record.tag_is(lower), "tag_is() does not match the lower-cased tag", record);

  const auto from_wire = caad::caa::parse_wire(record.wire());
  require(from_wire.has_value(), "wire() does not parse back", record);
  require(*from_wire == record, "wire() parses back to a different record", record);

  const auto from_text = caad::caa::parse_presentation(record.presentation());
  require(from_text.has_value(), "presentation() does not parse back", record);
  require(*from_text == record, "presentation() parses back to a different record", record);
}

void check_issue_value(std::string_view text) {
  const auto value = caad::caa::parse_issue_value(text);
  if (!value) return;
  for (const caad::caa::Parameter& parameter : value->parameters) {
    // Only the absence of crashes is checked: any value may be malformed.
    static_cast<void>(caad::caa::parse_validation_methods(parameter.value));
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::span<const std::uint8_t> octets(data, size);
  // libFuzzer bytes are plain octets; text parsers take them as chars.
  const std::string_view text(reinterpret_cast<const char*>(data), size);

  if (const auto record = caad::caa::parse_wire(octets)) {
    check_record(*record);
    check_issue_value(record->value);
  }
  if (const auto record = caad::caa::parse_presentation(text)) {
    check_record(*record);
    check_issue_value(record->value);
  }
  check_issue_value(text);
  return 0;
}
