// Names for DNS response codes, for reports and traces. The decoded message
// itself is plain data (lib/dns/message.h) and needs no code.
#include "lib/dns/message.h"

#include <array>
#include <string_view>

namespace caad::dns {
namespace {

// RFC 1035 §4.1.1 and RFC 2136 §2.2: the codes a plain query can get back.
// Higher codes (BADVERS, BADCOOKIE, ...) belong to TSIG/EDNS and are rare
// enough in answers that the number tells people more than a mnemonic.
constexpr std::array<std::string_view, 11> k_rcode_names = {
    "NOERROR",  "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP",  "REFUSED",
    "YXDOMAIN", "YXRRSET", "NXRRSET",  "NOTAUTH",  "NOTZONE",
};

}  // namespace

std::string rcode_name(std::uint16_t rcode) {
  if (rcode < k_rcode_names.size()) return std::string(k_rcode_names[rcode]);
  return "RCODE" + std::to_string(rcode);
}

}  // namespace caad::dns
