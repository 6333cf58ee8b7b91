// Fuzz target for decode_response, which reads DNS responses that anyone on
// the path (or any server we ask) can shape. The question is fixed (CAA
// example.com) and the expected ID is taken from the input's first two
// octets, which is where a response carries its ID, so that the fuzzer gets
// past the ID check and into the sections. An accepted message is walked
// field by field, so that a value left half-built would show up under the
// sanitizers, and a few promises are checked: names are canonical, CAA
// records survive wire() and parse_wire(), the RCODE fits its 12 bits.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <span>
#include <string>

#include "daemon/net/wire.h"
#include "lib/caa/record.h"
#include "lib/dns/name.h"

namespace {

void require(bool condition, const char* what) {
  if (condition) return;
  std::fprintf(stderr, "dns_response: %s\n", what);
  std::abort();
}

const caad::lookup::Question& fixed_question() {
  static const caad::lookup::Question question{
      .name = *caad::dns::Name::from_dns("example.com"), .type = 257, .checking_disabled = false};
  return question;
}

// Touches a name the way the engine does, and checks it is canonical.
std::size_t walk_name(const caad::dns::Name& name) {
  const std::string& text = name.text();
  require(!text.empty(), "empty name");
  for (char c : text) require(!(c >= 'A' && c <= 'Z'), "name not lower-case");
  std::size_t sum = text.size() + name.label_count() + name.display().size();
  for (auto label : name.labels()) sum += label.size();
  if (auto parent = name.parent()) sum += parent->text().size();
  return sum;
}

std::size_t walk_record(const caad::dns::ResourceRecord& rr) {
  std::size_t sum = walk_name(rr.owner) + rr.type + rr.ttl;
  if (rr.target) sum += walk_name(*rr.target);
  if (rr.soa_minimum) sum += *rr.soa_minimum;
  if (rr.caa) {
    require(rr.type == 257, "CAA value on a record that is not CAA");
    const auto again = caad::caa::parse_wire(rr.caa->wire());
    require(again.has_value() && *again == *rr.caa, "CAA record does not survive wire()");
    sum +=
        rr.caa->flags + rr.caa->tag.size() + rr.caa->value.size() + rr.caa->presentation().size();
  }
  return sum;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::span<const std::uint8_t> wire(data, size);
  const std::uint16_t id = size >= 2 ? static_cast<std::uint16_t>((data[0] << 8) | data[1]) : 0;
  const auto message = caad::net::decode_response(wire, fixed_question(), id);
  if (!message) {
    require(!message.error().message.empty(), "rejection without a reason");
    return 0;
  }
  require(message->rcode < 4096, "RCODE wider than 12 bits");
  std::size_t sum = message->rcode + (message->truncated ? 1U : 0U) +
                    (message->authoritative ? 2U : 0U) + (message->authentic_data ? 4U : 0U);
  for (const auto& rr : message->answer) sum += walk_record(rr);
  for (const auto& rr : message->authority) sum += walk_record(rr);
  // Keeps the walk from being optimised away.
  volatile std::size_t sink = sum;
  static_cast<void>(sink);
  return 0;
}
