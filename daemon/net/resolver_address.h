// Resolver addresses: parsing `--resolver ADDR[:PORT]` / config values
// ("127.0.0.1", "127.0.0.1:5353", "::1", "[::1]:5353") and reading the
// nameserver lines of /etc/resolv.conf.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "lib/util/result.h"

namespace caad::net {

struct ResolverAddress {
  std::string host;        // numeric IPv4 or IPv6 address, no brackets
  std::uint16_t port = 53;
  bool ipv6 = false;
  std::string text() const;  // "127.0.0.1:53", "[::1]:53"
  friend bool operator==(const ResolverAddress&, const ResolverAddress&) = default;
};

// Parses one address; the error quotes the input and says what is wrong.
Result<ResolverAddress> parse_resolver(std::string_view text);

// The `nameserver` entries of a resolv.conf text, in order. Scoped IPv6
// addresses (fe80::1%eth0) are skipped, like comments and other options.
std::vector<ResolverAddress> parse_resolv_conf(std::string_view text);

}  // namespace caad::net
