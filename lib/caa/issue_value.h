// The value of an `issue` or `issuewild` property (RFC 8659 §4.2, with the
// RFC 8657 parameters `accounturi` and `validationmethods`):
//
//   issue-value = *WSP [issuer-domain-name *WSP] [";" *WSP [parameters *WSP]]
//   issuer-domain-name = label *("." label)          ; no trailing dot
//   label      = (ALPHA / DIGIT) *( *("-") (ALPHA / DIGIT) )
//   parameters = (parameter *WSP ";" *WSP parameters) / parameter
//   parameter  = tag *WSP "=" *WSP value
//   tag        = label                               ; hyphens allowed (RFC)
//   value      = *(%x21-3A / %x3C-7E)                ; may be empty, may hold "="
//
// Parsing follows the RFC grammar exactly; the places where a CA is stricter
// (Let's Encrypt rejects hyphenated parameter tags) are decided by the policy.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "lib/util/result.h"

namespace caad::caa {

struct Parameter {
  std::string tag;  // as published; compare case-insensitively
  std::string value;
  friend bool operator==(const Parameter&, const Parameter&) = default;
};

struct IssueValue {
  std::string issuer;  // empty for `;` or an empty value: authorizes nobody
  std::vector<Parameter> parameters;
  friend bool operator==(const IssueValue&, const IssueValue&) = default;
};

// Parses an issue/issuewild value. The error says where and why the value
// breaks the grammar; RFC 8659 says such a value authorizes nobody.
Result<IssueValue> parse_issue_value(std::string_view value);

// The labels of a `validationmethods` parameter value ("dns-01,http-01").
// An empty value is an empty list (valid, matches nothing); nullopt when a
// label breaks the RFC 8657 grammar (letters, digits and inner hyphens).
std::optional<std::vector<std::string>> parse_validation_methods(std::string_view value);

}  // namespace caad::caa
