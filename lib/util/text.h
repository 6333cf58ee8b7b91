// Text helpers for parsers of untrusted input: ASCII case folding, UTF-8
// decoding, and quoting input inside error messages so that a message stays
// one readable line whatever bytes the input held.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace caad::text {

char ascii_lower(char c);
// ASCII case-insensitive equality (DNS rules: only A-Z fold).
bool iequals(std::string_view a, std::string_view b);

// The length of the well-formed UTF-8 sequence at `pos`, or 0 when the bytes
// there are not one; stores the code point in `cp`.
std::size_t utf8_sequence_at(std::string_view text, std::size_t pos, char32_t& cp);

std::string hex_byte(unsigned char b);       // "\x1F"
std::string code_point_name(char32_t cp);    // "U+1F600"

// `text` in double quotes for an error message: valid UTF-8 stays readable;
// control bytes, bidi and line-separator controls and broken UTF-8 become
// escapes; past `max_octets` the rest is cut and "..." marks it.
std::string quote(std::string_view text, std::size_t max_octets = 300);

// One ASCII character for a message: "' '", "'_'", "'\t'".
std::string describe_char(char c);

}  // namespace caad::text
