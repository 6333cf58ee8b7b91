// Fuzz target for the HTTP text caad reads from others: the request heads
// its metrics listener parses (daemon/metrics/http_server), the
// Retry-After values webhook receivers send back (lib/alerts/delivery), and
// webhook URLs as they are written to logs (lib/alerts/payload). Besides
// not crashing: an accepted request has a method and a path that starts
// with "/" and holds only printable ASCII; a Retry-After wait is never
// negative, and a delay in seconds reads as itself; a URL in a log keeps
// nothing of its path, query or user information.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "daemon/metrics/http_server.h"
#include "lib/alerts/delivery.h"
#include "lib/alerts/payload.h"

namespace {

void require(bool condition, const char* what, std::string_view input) {
  if (condition) return;
  std::fprintf(stderr, "http_inputs: %s\n  input (%zu bytes): %.*s\n", what, input.size(),
               static_cast<int>(input.size()), input.data());
  std::abort();
}

void check_request_head(std::string_view input) {
  const caad::metrics::RequestHead head = caad::metrics::parse_request_head(input);
  require(head.error_status == 0 || head.error_status == 400 || head.error_status == 405,
          "status other than 0, 400 or 405", input);
  if (head.error_status == 400) return;
  require(!head.method.empty(), "accepted without a method", input);
  require(!head.path.empty() && head.path.front() == '/', "accepted path does not start with /", input);
  for (char c : head.path) {
    const auto u = static_cast<unsigned char>(c);
    require(u > 0x20 && u < 0x7f, "accepted path with a control, space or non-ASCII octet", input);
  }
  require(head.path.find('?') == std::string::npos, "query string left in the path", input);
  require((head.error_status == 0) == (head.method == "GET" || head.method == "HEAD"),
          "405 for GET/HEAD, or 0 for another method", input);
}

void check_retry_after(std::string_view input) {
  constexpr caad::UnixSeconds k_now = 1'780'000'000;
  const auto wait = caad::alerts::parse_retry_after(input, k_now);
  if (!wait) return;
  require(*wait >= 0, "negative Retry-After wait", input);
  if (!input.empty() && input.size() <= 9 &&
      input.find_first_not_of("0123456789") == std::string_view::npos) {
    require(*wait == std::stoll(std::string(input)), "delay-seconds not read as itself", input);
  }
}

void check_redacted_url(std::string_view input) {
  const std::string shown = caad::alerts::redact_url(input);
  const std::size_t scheme_end = input.find("://");
  if (scheme_end == std::string_view::npos) {
    require(shown == "(a URL)", "a string without a scheme shown as more than \"(a URL)\"", input);
    return;
  }
  // Non-ASCII octets may become U+FFFD; the rest is checked on ASCII.
  for (char c : input) {
    if (static_cast<unsigned char>(c) >= 0x80) return;
  }
  // Scheme and host (without user information) only: what follows the
  // host is the secret.
  std::size_t host_end = input.find_first_of("/?#", scheme_end + 3);
  if (host_end == std::string_view::npos) host_end = input.size();
  std::string_view authority = input.substr(scheme_end + 3, host_end - scheme_end - 3);
  if (const std::size_t at = authority.rfind('@'); at != std::string_view::npos) authority.remove_prefix(at + 1);
  const std::string want = std::string(input.substr(0, scheme_end + 3)) + std::string(authority) +
                           (host_end < input.size() ? "/…" : "");
  require(shown == want, "the log form is not scheme and host alone", input);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  check_request_head(input);
  check_retry_after(input);
  check_redacted_url(input);
  return 0;
}
