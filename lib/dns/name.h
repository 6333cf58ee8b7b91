// Domain names as caad stores and compares them. Every name a user, a config
// file or an import gives us goes through parse() once, so that the rest of the
// code sees one canonical form: A-labels (IDNA2008 with UTS #46 mapping, via
// libidn2), lower case, no trailing dot, never the root.
#pragma once

#include <compare>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "lib/util/result.h"

namespace caad::dns {

// A fully qualified domain name in canonical form ("shop.example.com").
class Name {
 public:
  // Parses a host name given by a person or a file: accepts a trailing dot,
  // any letter case and U-labels; rejects the root, empty labels, labels over
  // 63 octets, names over 253 octets (255 on the wire), characters outside
  // letters, digits and hyphen, hyphens at a label's edge, and "*" labels.
  // The error names the input and says what is wrong.
  static Result<Name> parse(std::string_view input);

  // Builds a name from text that is already canonical and trusted (owner
  // names from a DNS message, after ldns has decoded them). Lower-cases and
  // drops a trailing dot but does not apply LDH rules: DNS names may hold any
  // octet. Returns nullopt for the root or an over-long name.
  static std::optional<Name> from_dns(std::string_view text);

  const std::string& text() const { return m_text; }
  // The name for people: U-labels where the name has valid A-labels.
  std::string display() const;

  std::vector<std::string_view> labels() const;
  std::size_t label_count() const;
  // The name with its leftmost label removed; nullopt for a TLD (one label),
  // since the root is never a CAA search step.
  std::optional<Name> parent() const;
  // True when this name equals `ancestor` or lies below it.
  bool is_at_or_below(const Name& ancestor) const;

  friend bool operator==(const Name&, const Name&) = default;
  friend auto operator<=>(const Name&, const Name&) = default;

 private:
  explicit Name(std::string text) : m_text(std::move(text)) {}
  std::string m_text;
};

// A certificate name as users write it: "shop.example.com" or "*.example.com".
// For "*.X" the CA checks CAA at X with the wildcard rules (RFC 8659 §3).
struct DomainRequest {
  Name name;              // X, without the "*." prefix
  bool wildcard = false;  // true for "*.X"
  std::string text() const;     // canonical "*.x" / "x"
  std::string display() const;  // with U-labels
  friend bool operator==(const DomainRequest&, const DomainRequest&) = default;
};

// Parses "X" or "*.X". Only a single leading "*" label is allowed.
Result<DomainRequest> parse_domain(std::string_view input);

}  // namespace caad::dns
