// CAA resource records (RFC 8659 §4.1): one property each, made of a flags
// octet, a tag and a value. Records arrive as wire RDATA (from DNS answers) or
// as zone-file presentation text (from people and test files); both parse to
// the same Record, and presentation() writes the text form back.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "lib/util/result.h"

namespace caad::caa {

inline constexpr std::uint8_t k_flag_critical = 0x80;  // "Issuer Critical", bit 0

struct Record {
  std::uint8_t flags = 0;
  std::string tag;    // as published; compare with tag_is() (case-insensitive)
  std::string value;  // raw octets of the value field

  bool critical() const { return (flags & k_flag_critical) != 0; }
  // Case-insensitive tag comparison against a lower-case name ("issue").
  bool tag_is(std::string_view lower) const;
  // Zone-file text: `0 issue "letsencrypt.org"`. Octets outside printable
  // ASCII, `"` and `\` are escaped so the text parses back to the same record.
  std::string presentation() const;
  // RDATA octets: flags, tag length, tag, value.
  std::vector<std::uint8_t> wire() const;

  friend bool operator==(const Record&, const Record&) = default;
};

// Parses CAA RDATA. Rejects an empty tag and a tag length that overruns the
// RDATA. A tag with characters other than letters and digits is kept as it is
// (the policy treats it as an unknown tag), because a CA sees it the same way.
Result<Record> parse_wire(std::span<const std::uint8_t> rdata);

// Parses the presentation form that follows "CAA" in a zone file:
//   <flags 0-255> <tag> <value>      value quoted ("...") or one unquoted word,
//                                    with \X and \DDD escapes
//   \# <length> <hex...>             RFC 3597 generic form, hex may be split
// Surrounding whitespace is ignored; anything else left over is an error.
Result<Record> parse_presentation(std::string_view text);

}  // namespace caad::caa
