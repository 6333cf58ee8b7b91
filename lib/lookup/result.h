// What a CAA lookup found for one certificate name: the relevant RRset (RFC
// 8659 §3) and where it was, or why it could not be found. "No records" and
// "could not find out" are never the same value.
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "lib/caa/record.h"
#include "lib/dns/name.h"

namespace caad::lookup {

// Why a lookup failed. Each kind stays distinct all the way to the alert.
enum class FailureKind {
  servfail,        // the resolver answered SERVFAIL
  dnssec_bogus,    // SERVFAIL that resolves with CD=1: DNSSEC validation failed
  refused,         // REFUSED
  notimp,          // NOTIMP
  formerr,         // FORMERR
  other_rcode,     // any other non-zero RCODE except NXDOMAIN
  timeout,         // no answer in time, after retries
  network,         // socket-level error
  malformed,       // answers that could not be decoded or did not match
  truncated,       // TC=1 and TCP failed
  referral,        // a referral instead of an answer (not a recursive resolver?)
  alias_loop,      // a CNAME/DNAME chain that comes back to itself
  chain_too_long,  // more aliases than the engine follows
};
const char* to_string(FailureKind k);

struct Failure {
  FailureKind kind = FailureKind::servfail;
  dns::Name name;      // the name whose query failed
  std::string detail;  // one clause for people: "127.0.0.1:53 answered SERVFAIL"
  std::string server;  // who answered (or was last tried), may be empty
};

struct LookupResult {
  explicit LookupResult(dns::DomainRequest r) : request(std::move(r)) {}

  dns::DomainRequest request;
  std::optional<Failure> failure;           // set: lookup_failed, nothing below is reliable
  std::optional<dns::Name> found_at;        // climbing-path name whose query gave the RRset
  std::optional<dns::Name> relevant_owner;  // owner of the records after aliases
  std::vector<caa::Record> records;         // the relevant RRset; empty when none was found
  std::vector<dns::Name> cname_chain;       // aliases followed from the request name itself
  // NXDOMAIN for a bare TLD on the climb. Empty for RFC 8659; an error for
  // Let's Encrypt (CAA-NOTES §6 item 4), so the per-CA verdict decides.
  std::optional<dns::Name> nxdomain_tld;
  unsigned queries = 0;             // questions this lookup sent (cache hits not counted)
  std::vector<std::string> trace;   // every query, answer, alias and decision, when asked for
};

}  // namespace caad::lookup
