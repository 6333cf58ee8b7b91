// Standard Webhooks signing (https://www.standardwebhooks.com): the
// `webhook-id`, `webhook-timestamp` and `webhook-signature` headers that let
// a receiver check that a request came from caad, unchanged and recently.
// The signed content is "{id}.{timestamp}.{body}", the MAC is HMAC-SHA256
// keyed with the secret's bytes, and the header is "v1,<base64 MAC>".
//
// Secrets come from a file (secret_file in caad.toml), never from the
// command line, and no message here ever quotes a secret.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "lib/util/result.h"

namespace caad::alerts {

// Standard base64 (RFC 4648 §4) with padding.
std::string base64_encode(std::string_view bytes);
// Strict decoding: the standard alphabet, padding optional but correct when
// present; anything else is an error (that does not quote the input).
Result<std::string> base64_decode(std::string_view text);

// The key bytes of a secret as written in a secret file: "whsec_<base64>"
// (the spec's form, what svix and most receivers hand out) is decoded after
// the prefix; any other text is used as it is. Surrounding whitespace (the
// file's final newline) is ignored. An empty secret is an error.
Result<std::string> parse_secret(std::string_view text);

// Reads and parses a secret file. Errors name the file, never its content.
Result<std::string> read_secret_file(const std::string& path);

// The value of the webhook-signature header: "v1,<base64 HMAC-SHA256>".
std::string sign(std::string_view key, std::string_view webhook_id, std::int64_t timestamp,
                 std::string_view body);

// SHA-256 as lower-case hex, for ids derived from content and for storing a
// fingerprint of a URL instead of the URL (a chat webhook URL is a secret).
std::string sha256_hex(std::string_view bytes);

}  // namespace caad::alerts
