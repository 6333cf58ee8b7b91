// Text helpers shared by every parser of untrusted input: ASCII case folding,
// and quoting input inside error messages so that a message never carries raw
// control bytes or invalid UTF-8 into a log line or a JSON document.
#include "lib/util/text.h"

#include <cstdio>

namespace caad::text {

// The length of the well-formed UTF-8 sequence at `pos`, or 0 when the bytes
// there are not one (overlong forms, surrogates and code points past U+10FFFF
// included). Stores the code point in `cp`.
std::size_t utf8_sequence_at(std::string_view text, std::size_t pos, char32_t& cp) {
  auto byte = [&](std::size_t i) -> unsigned {
    return pos + i < text.size() ? static_cast<unsigned char>(text[pos + i]) : 0x100U;
  };
  auto continuation = [&](std::size_t i, unsigned low, unsigned high) {
    return byte(i) >= low && byte(i) <= high;
  };
  const unsigned lead = byte(0);
  if (lead < 0x80) {
    cp = lead;
    return 1;
  }
  std::size_t length = 0;
  if (lead >= 0xC2 && lead <= 0xDF) {
    length = continuation(1, 0x80, 0xBF) ? 2 : 0;
  } else if (lead == 0xE0) {
    length = continuation(1, 0xA0, 0xBF) && continuation(2, 0x80, 0xBF) ? 3 : 0;
  } else if (lead == 0xED) {
    length = continuation(1, 0x80, 0x9F) && continuation(2, 0x80, 0xBF) ? 3 : 0;
  } else if (lead >= 0xE1 && lead <= 0xEF) {
    length = continuation(1, 0x80, 0xBF) && continuation(2, 0x80, 0xBF) ? 3 : 0;
  } else if (lead == 0xF0) {
    length =
        continuation(1, 0x90, 0xBF) && continuation(2, 0x80, 0xBF) && continuation(3, 0x80, 0xBF)
            ? 4
            : 0;
  } else if (lead >= 0xF1 && lead <= 0xF3) {
    length =
        continuation(1, 0x80, 0xBF) && continuation(2, 0x80, 0xBF) && continuation(3, 0x80, 0xBF)
            ? 4
            : 0;
  } else if (lead == 0xF4) {
    length =
        continuation(1, 0x80, 0x8F) && continuation(2, 0x80, 0xBF) && continuation(3, 0x80, 0xBF)
            ? 4
            : 0;
  }
  if (length == 0) return 0;
  const unsigned lead_bits = length == 2 ? 0x1FU : length == 3 ? 0x0FU : 0x07U;
  char32_t value = lead & lead_bits;
  for (std::size_t i = 1; i < length; ++i) value = (value << 6) | (byte(i) & 0x3FU);
  cp = value;
  return length;
}

std::string hex_byte(unsigned char b) {
  char buffer[8];
  std::snprintf(buffer, sizeof buffer, "\\x%02X", static_cast<unsigned>(b));
  return buffer;
}

std::string code_point_name(char32_t cp) {
  char buffer[16];
  std::snprintf(buffer, sizeof buffer, "U+%04X", static_cast<unsigned>(cp));
  return buffer;
}



namespace {

// Appends one ASCII character as it should appear inside quotes in a message:
// control characters, the quote character and backslash as escapes.
void append_escaped_ascii(std::string& out, char c, char quote_char) {
  switch (c) {
    case '\t':
      out += "\\t";
      return;
    case '\n':
      out += "\\n";
      return;
    case '\r':
      out += "\\r";
      return;
    case '\\':
      out += "\\\\";
      return;
    default:
      break;
  }
  if (c == quote_char) {
    out += '\\';
    out += c;
  } else if (static_cast<unsigned char>(c) < 0x20 || c == 0x7F) {
    out += hex_byte(static_cast<unsigned char>(c));
  } else {
    out += c;
  }
}

// C1 controls, line separators and the bidi controls that can reorder how a
// message is displayed; quote() escapes them rather than pass them on.
bool is_invisible_control(char32_t cp) {
  return (cp >= 0x80 && cp <= 0x9F) || cp == 0x2028 || cp == 0x2029 || cp == 0x200E ||
         cp == 0x200F || (cp >= 0x202A && cp <= 0x202E) || (cp >= 0x2066 && cp <= 0x2069);
}

}  // namespace

// Quotes text for an error message. Valid UTF-8 stays readable; control
// bytes, invisible controls and broken UTF-8 become escapes, so a message
// never carries raw control bytes or invalid UTF-8 into a log line or a JSON
// document.
std::string quote(std::string_view text, std::size_t max_octets) {
  std::string out = "\"";
  std::size_t pos = 0;
  while (pos < text.size() && pos < max_octets) {
    char32_t cp = 0;
    const std::size_t length = utf8_sequence_at(text, pos, cp);
    if (length == 1) {
      append_escaped_ascii(out, text[pos], '"');
    } else if (length > 1 && is_invisible_control(cp)) {
      out += "\\u{" + code_point_name(cp).substr(2) + "}";
    } else if (length > 1) {
      out.append(text.substr(pos, length));
    } else {
      out += hex_byte(static_cast<unsigned char>(text[pos]));
    }
    pos += length == 0 ? 1 : length;
  }
  if (pos < text.size()) out += "...";
  out += '"';
  return out;
}

// One ASCII character for a message: "' '", "'_'", "'\t'".
std::string describe_char(char c) {
  std::string out = "'";
  append_escaped_ascii(out, c, '\'');
  out += '\'';
  return out;
}

char ascii_lower(char c) {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (ascii_lower(a[i]) != ascii_lower(b[i])) return false;
  }
  return true;
}

}  // namespace caad::text
