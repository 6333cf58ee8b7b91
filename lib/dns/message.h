// A DNS response as the lookup engine sees it: already decoded from the wire
// (by daemon/net/wire, with ldns) into plain values, so that the engine and its
// tests never touch wire format. Only the parts CAA lookups need are kept.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "lib/caa/record.h"
#include "lib/dns/name.h"

namespace caad::dns {

enum class RRType : std::uint16_t {
  a = 1, ns = 2, cname = 5, soa = 6, aaaa = 28, dname = 39, caa = 257,
};

// RCODE values (RFC 1035, RFC 6895); other values are kept as numbers.
enum class Rcode : std::uint8_t {
  noerror = 0, formerr = 1, servfail = 2, nxdomain = 3, notimp = 4, refused = 5,
};
std::string rcode_name(std::uint16_t rcode);  // "SERVFAIL", "RCODE23"

// One resource record of the answer or authority section. Only the fields
// for the types above are filled; other types keep just owner/type/ttl.
struct ResourceRecord {
  Name owner;
  std::uint16_t type = 0;
  std::uint32_t ttl = 0;
  std::optional<Name> target;                // CNAME / DNAME target
  std::optional<caa::Record> caa;            // CAA property
  std::optional<std::uint32_t> soa_minimum;  // SOA MINIMUM (negative TTL, RFC 2308)
};

struct Message {
  std::uint16_t rcode = 0;  // full RCODE (with the EDNS extended bits)
  bool truncated = false;   // TC
  bool authoritative = false;  // AA
  bool authentic_data = false; // AD: the resolver validated it with DNSSEC
  std::vector<ResourceRecord> answer;
  std::vector<ResourceRecord> authority;
};

}  // namespace caad::dns
