// Parsing resolver addresses from the command line, the config file and
// /etc/resolv.conf.
//
// Only numeric addresses are accepted: resolving a resolver's host name would
// need a resolver. inet_pton() decides what is a valid address, and the
// stored text is inet_ntop()'s canonical form, so that "0:0::1" and "::1"
// compare equal. An IPv6 address takes a port only inside brackets
// ("[::1]:5353"); without brackets every colon belongs to the address.
// Scoped addresses (fe80::1%eth0) are refused: the transport binds its
// sockets to the wildcard address and has no way to honour a scope.
#include "daemon/net/resolver_address.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <array>
#include <optional>
#include <string>

namespace caad::net {
namespace {

constexpr std::uint16_t k_default_port = 53;
constexpr std::uint32_t k_max_port = 65535;
// Error messages quote their input; a long one is cut so logs stay usable.
constexpr std::size_t k_max_quoted = 80;

std::string quote(std::string_view text) {
  std::string out = "\"";
  for (char c : text.substr(0, k_max_quoted)) {
    const auto octet = static_cast<unsigned char>(c);
    if (octet < 0x20 || octet >= 0x7F) {
      static constexpr char k_hex[] = "0123456789ABCDEF";
      out += "\\x";
      out += k_hex[octet >> 4];
      out += k_hex[octet & 0x0F];
    } else {
      out += c;
    }
  }
  if (text.size() > k_max_quoted) out += "...";
  out += '"';
  return out;
}

Unexpected<Error> bad(std::string_view input, std::string_view why) {
  return fail("resolver address " + quote(input) + " " + std::string(why));
}

// The canonical text of a numeric address of the given family, or nullopt
// when `text` is not one.
std::optional<std::string> canonical_address(std::string_view text, int family) {
  // inet_pton needs a terminated string, and would stop at an embedded NUL.
  if (text.find('\0') != std::string_view::npos) return std::nullopt;
  const std::string copy(text);
  std::array<unsigned char, sizeof(in6_addr)> binary{};
  if (inet_pton(family, copy.c_str(), binary.data()) != 1) return std::nullopt;
  std::array<char, INET6_ADDRSTRLEN> out{};
  if (inet_ntop(family, binary.data(), out.data(), static_cast<socklen_t>(out.size())) == nullptr) {
    return std::nullopt;
  }
  return std::string(out.data());
}

// Parses a decimal port 1-65535; nullopt for anything else.
std::optional<std::uint16_t> parse_port(std::string_view text) {
  if (text.empty()) return std::nullopt;
  std::uint32_t value = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    value = value * 10 + static_cast<std::uint32_t>(c - '0');
    if (value > k_max_port) return std::nullopt;
  }
  if (value == 0) return std::nullopt;
  return static_cast<std::uint16_t>(value);
}

// A bare address (no brackets, no port) of either family.
std::optional<ResolverAddress> bare_address(std::string_view text) {
  if (auto v4 = canonical_address(text, AF_INET)) {
    return ResolverAddress{.host = std::move(*v4), .port = k_default_port, .ipv6 = false};
  }
  if (auto v6 = canonical_address(text, AF_INET6)) {
    return ResolverAddress{.host = std::move(*v6), .port = k_default_port, .ipv6 = true};
  }
  return std::nullopt;
}

bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

// Splits a line into blank-separated words.
std::vector<std::string_view> words(std::string_view line) {
  std::vector<std::string_view> out;
  std::size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && is_space(line[i])) ++i;
    const std::size_t start = i;
    while (i < line.size() && !is_space(line[i])) ++i;
    if (i > start) out.push_back(line.substr(start, i - start));
  }
  return out;
}

}  // namespace

std::string ResolverAddress::text() const {
  return (ipv6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

Result<ResolverAddress> parse_resolver(std::string_view text) {
  if (text.empty()) return bad(text, "is empty");

  if (text.front() == '[') {
    const std::size_t close = text.find(']');
    if (close == std::string_view::npos) return bad(text, "has '[' without a closing ']'");
    const std::string_view inside = text.substr(1, close - 1);
    auto host = canonical_address(inside, AF_INET6);
    if (!host) return bad(text, "has no IPv6 address inside the brackets");
    ResolverAddress address{.host = std::move(*host), .port = k_default_port, .ipv6 = true};
    const std::string_view rest = text.substr(close + 1);
    if (rest.empty()) return address;
    if (rest.front() != ':') return bad(text, "has text after ']' that is not \":PORT\"");
    auto port = parse_port(rest.substr(1));
    if (!port) return bad(text, "has a port that is not a number from 1 to 65535");
    address.port = *port;
    return address;
  }

  const std::size_t first_colon = text.find(':');
  if (first_colon != std::string_view::npos &&
      text.find(':', first_colon + 1) == std::string_view::npos) {
    // One colon: IPv4 with a port.
    auto host = canonical_address(text.substr(0, first_colon), AF_INET);
    if (!host)
      return bad(text, "is not a numeric IPv4 address with a port (write IPv6 as [ADDR]:PORT)");
    auto port = parse_port(text.substr(first_colon + 1));
    if (!port) return bad(text, "has a port that is not a number from 1 to 65535");
    return ResolverAddress{.host = std::move(*host), .port = *port, .ipv6 = false};
  }

  if (text.find('%') != std::string_view::npos) {
    return bad(text, "is a scoped IPv6 address, which is not supported");
  }
  if (auto address = bare_address(text)) return *address;
  return bad(text, "is not a numeric IPv4 or IPv6 address (host names are not accepted)");
}

std::vector<ResolverAddress> parse_resolv_conf(std::string_view text) {
  std::vector<ResolverAddress> out;
  std::size_t start = 0;
  while (start <= text.size()) {
    std::size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(start, end - start);
    start = end + 1;
    // resolv(5): '#' or ';' starts a comment; like glibc we also drop a
    // comment that follows an entry on the same line.
    if (const std::size_t comment = line.find_first_of("#;"); comment != std::string_view::npos) {
      line = line.substr(0, comment);
    }
    const auto fields = words(line);
    if (fields.size() < 2 || fields[0] != "nameserver") continue;
    // resolv.conf takes a bare address; ports, brackets and scopes are skipped.
    if (fields[1].find('%') != std::string_view::npos) continue;
    if (auto address = bare_address(fields[1])) out.push_back(std::move(*address));
  }
  return out;
}

}  // namespace caad::net
