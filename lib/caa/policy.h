// The CAA issuance decision (RFC 8659 §4, RFC 8657): given the relevant RRset
// for a name, may this CA issue? Pure logic, no DNS. The decision carries a
// structured reason (which record decided and why, what every record did) and
// one sentence a support engineer can paste to a customer.
//
// CAs do not all read the RFCs the same way; Let's Encrypt is stricter in known
// places (see ../shared/CAA-NOTES.md §6). A Behaviour picks the reading. The
// default, `strictest`, takes the stricter side of every known difference, so
// caad never says "permitted" where a CA would refuse; when the readings
// disagree, the decision says so.
#pragma once

#include <cstddef>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "lib/caa/record.h"

namespace caad::caa {

enum class Behaviour { rfc8659, letsencrypt, strictest };
std::string_view to_string(Behaviour b);
std::optional<Behaviour> parse_behaviour(std::string_view text);

// One CA the provider renews with.
struct CaProfile {
  std::string issuer;                      // issuer domain name, e.g. "letsencrypt.org"
  std::optional<std::string> account_uri;  // RFC 8657 accounturi our ACME account has
  std::optional<std::string> method;       // RFC 8657 method the renewal uses ("http-01")
  Behaviour behaviour = Behaviour::strictest;
};

// What is being asked, for the decision and for the words of the sentence.
struct Request {
  std::string domain;      // the certificate name for people: "shop.example.com" or "*.example.com"
  bool wildcard = false;   // "*.X": issuewild rules apply
  std::string owner;       // where the records live (may be empty when unknown)
};

enum class Verdict { permitted, denied };
std::string_view to_string(Verdict v);

// Why the decision came out as it did.
enum class Outcome {
  no_records,              // the relevant RRset is empty: CAA does not restrict
  no_applicable_property,  // no issue (or, for wildcards, issue/issuewild) property
  authorized,              // a property names this CA and its parameters match
  critical_unknown_tag,    // a critical property this CA does not process
  not_authorized,          // applicable properties exist and none authorizes this CA
};
std::string_view to_string(Outcome o);

// What one record contributed to the decision.
enum class Role {
  not_applicable,      // iodef, contacts, issuemail, issuevmc, non-critical unknown tags
  ignored_issue,       // issue ignored: the request is a wildcard and issuewild exists
  ignored_issuewild,   // issuewild ignored: the request is not a wildcard
  critical_unknown,    // critical with a tag this CA does not process
  authorizes,          // names this CA; parameters satisfied
  empty_issuer,        // `;` or empty value: authorizes nobody
  unparseable,         // value breaks the grammar: authorizes nobody
  other_issuer,        // names another CA
  account_mismatch,    // accounturi is not ours, is repeated, or ours is not configured
  method_mismatch,     // validationmethods excludes ours, is malformed, repeated, or ours is unknown
};
std::string_view to_string(Role r);

struct Finding {
  Role role = Role::not_applicable;
  std::string detail;  // one clause, e.g. "accounturi is .../acct/9, ours is .../acct/123"
};

struct Decision {
  Verdict verdict = Verdict::permitted;
  Outcome outcome = Outcome::no_records;
  Behaviour behaviour = Behaviour::strictest;  // the reading that decided
  std::optional<std::size_t> deciding_record;  // index into the records
  std::vector<Finding> findings;               // one per record, same order
  std::string sentence;                        // for a customer
  // Set when RFC 8659 and Let's Encrypt's implementation disagree on the
  // verdict for this set: which reading says what, and why.
  std::optional<std::string> divergence;
};

// Decides for one CA. `records` is the relevant RRset (empty when no CAA was
// found anywhere on the path).
Decision evaluate(std::span<const Record> records, const CaProfile& ca, const Request& request);

}  // namespace caad::caa
