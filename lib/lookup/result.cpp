// Stable names for lookup failures. They appear in JSON output, in the
// database and in alerts, so a name never changes once released; check.cpp
// turns the underscores into spaces for sentences.
#include "lib/lookup/result.h"

#include "lib/lookup/transport.h"

namespace caad::lookup {

const char* to_string(FailureKind k) {
  switch (k) {
    case FailureKind::servfail:
      return "servfail";
    case FailureKind::dnssec_bogus:
      return "dnssec_bogus";
    case FailureKind::refused:
      return "refused";
    case FailureKind::notimp:
      return "notimp";
    case FailureKind::formerr:
      return "formerr";
    case FailureKind::other_rcode:
      return "other_rcode";
    case FailureKind::timeout:
      return "timeout";
    case FailureKind::network:
      return "network";
    case FailureKind::malformed:
      return "malformed";
    case FailureKind::truncated:
      return "truncated";
    case FailureKind::referral:
      return "referral";
    case FailureKind::alias_loop:
      return "alias_loop";
    case FailureKind::chain_too_long:
      return "chain_too_long";
  }
  // Only reachable through a cast from an out-of-range integer.
  return "unknown";
}

const char* to_string(TransportFailure f) {
  switch (f) {
    case TransportFailure::timeout:
      return "timeout";
    case TransportFailure::network:
      return "network";
    case TransportFailure::malformed:
      return "malformed";
    case TransportFailure::truncated:
      return "truncated";
  }
  return "unknown";
}

}  // namespace caad::lookup
