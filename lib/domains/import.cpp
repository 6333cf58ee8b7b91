// Reading customer domains from import files (CSV or JSON Lines).
//
// Import files come from spreadsheets, scripts and other people's databases,
// so the reader is strict and says exactly where it stopped: every error is
// "<source>:<line>: <field>: <reason>", the first error ends the import, and
// nothing is returned with it (all or nothing, so that a half-read file never
// reaches the store).
//
// CSV follows RFC 4180: fields separated by commas, a field in double quotes
// may hold commas, line breaks and doubled quotes (""), lines end in LF or
// CRLF. Beyond the RFC: values are trimmed of spaces and tabs, blank lines are
// skipped, and a UTF-8 byte-order mark at the start of the file is skipped
// (spreadsheet programs write one). A record's line number is the line it
// starts on. A record with more or fewer fields than the header is an error
// rather than being padded, because a shifted column would put a date where a
// CA name belongs.
//
// JSON Lines: one object per line, parsed without exceptions; keys beyond the
// known ones are errors, so that a typo ("not_afer") is not silently ignored.
//
// Both formats end in the same checks (build_spec): the name through
// dns::parse_domain, the wildcard flag against the name, CA names against the
// configuration, the dates, and duplicates.
#include "lib/domains/import.h"

#include <algorithm>
#include <array>
#include <cstddef>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "lib/dns/name.h"
#include "lib/util/text.h"
#include "lib/util/time.h"

namespace caad::domains {
namespace {

constexpr std::string_view k_utf8_bom = "\xEF\xBB\xBF";
// Untrusted values are quoted in messages; a long one is cut so that a
// message stays one readable line.
constexpr std::size_t k_max_quoted = 80;

constexpr std::array<std::string_view, 5> k_csv_columns = {"name", "wildcard", "ca", "not_after",
                                                           "renew_at"};
constexpr std::string_view k_csv_column_list = "name, wildcard, ca, not_after, renew_at";
constexpr std::string_view k_json_key_list = "name, wildcard, ca, not_after, renew_at, enabled";

bool is_blank(char c) {
  return c == ' ' || c == '\t';
}
// Values may also carry line breaks (inside CSV quotes), which are trimmed
// like spaces: nobody means a line break at the edge of a value.
bool is_space(char c) {
  return is_blank(c) || c == '\r' || c == '\n';
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  return s;
}

bool is_blank_line(std::string_view s) {
  return trim(s).empty();
}

std::string_view skip_bom(std::string_view text) {
  if (text.starts_with(k_utf8_bom)) text.remove_prefix(k_utf8_bom.size());
  return text;
}

std::string lower_ascii(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = text::ascii_lower(c);
  return out;
}

// One domain as a file gave it, before any of it is checked. Both formats
// fill this, so that every rule below is written once.
struct RawDomain {
  std::string name;
  std::optional<bool> wildcard;  // absent: follow the name
  std::vector<std::string> cas;
  std::string not_after;  // empty: unknown
  std::string renew_at;   // empty: unknown
  bool enabled = true;
};

// Checks raw domains and collects them; remembers each domain's line so that
// a duplicate names both.
class Collector {
 public:
  Collector(std::string_view source, const std::vector<std::string>& known_cas)
      : m_source(source), m_known_cas(known_cas) {}

  // "domains.csv:12: " — the prefix of every message about one line.
  std::string at(std::size_t line) const { return m_source + ":" + std::to_string(line) + ": "; }

  Unexpected<Error> field_error(std::size_t line, std::string_view field,
                                const std::string& reason) const {
    return fail(at(line) + std::string(field) + ": " + reason);
  }

  // Splits a "ca" text field ("letsencrypt; digicert") into names.
  Status split_cas(std::size_t line, std::string_view text, std::vector<std::string>& out) const {
    out.clear();
    if (trim(text).empty()) return Ok{};
    std::size_t start = 0;
    while (true) {
      const std::size_t semi = text.find(';', start);
      const std::string_view item = trim(text.substr(
          start, semi == std::string_view::npos ? std::string_view::npos : semi - start));
      if (item.empty()) {
        return field_error(line, "ca",
                           "an empty CA name in " + text::quote(text, k_max_quoted) +
                               "; separate names with ';', as in \"letsencrypt;digicert\"");
      }
      out.emplace_back(item);
      if (semi == std::string_view::npos) break;
      start = semi + 1;
    }
    return Ok{};
  }

  Status add(RawDomain raw, std::size_t line) {
    if (trim(raw.name).empty()) return field_error(line, "name", "is empty");
    auto request = dns::parse_domain(raw.name);
    if (!request) return field_error(line, "name", request.error().message);
    if (raw.wildcard) {
      if (!*raw.wildcard && request->wildcard) {
        return field_error(line, "wildcard",
                           "is false, but the name " + text::quote(raw.name, k_max_quoted) +
                               " is a wildcard; leave wildcard empty or set it to true");
      }
      if (*raw.wildcard && !request->wildcard) {
        // wildcard=true with "x" means the certificate name "*.x". Parsing
        // the full form again applies the length limit to "*.x" as a whole.
        auto as_wildcard = dns::parse_domain("*." + request->name.text());
        if (!as_wildcard) return field_error(line, "name", as_wildcard.error().message);
        request = std::move(as_wildcard);
      }
    }

    for (std::size_t i = 0; i < raw.cas.size(); ++i) {
      const std::string& ca = raw.cas[i];
      if (!is_known_ca(ca)) {
        return field_error(line, "ca",
                           "unknown CA " + text::quote(ca, k_max_quoted) + "; " + known_ca_list());
      }
      for (std::size_t j = 0; j < i; ++j) {
        if (raw.cas[j] == ca) {
          return field_error(line, "ca", "names " + text::quote(ca, k_max_quoted) + " twice");
        }
      }
    }

    auto not_after = parse_date(line, "not_after", raw.not_after);
    if (!not_after) return fail(not_after.error().message);
    auto renew_at = parse_date(line, "renew_at", raw.renew_at);
    if (!renew_at) return fail(renew_at.error().message);
    if (*not_after && *renew_at && **renew_at > **not_after) {
      return field_error(line, "renew_at",
                         format_timestamp(**renew_at) + " is after not_after " +
                             format_timestamp(**not_after) +
                             "; a certificate is renewed before it expires");
    }

    std::string key = request->text();
    auto [it, inserted] = m_lines.try_emplace(key, line);
    if (!inserted) {
      return field_error(line, "name",
                         text::quote(key, k_max_quoted) + " appears twice, on lines " +
                             std::to_string(it->second) + " and " + std::to_string(line));
    }

    m_specs.push_back(store::DomainSpec{std::move(*request), std::move(raw.cas), *not_after,
                                        *renew_at, raw.enabled});
    return Ok{};
  }

  // At most one domain per line: reserving once saves rehashing the
  // duplicate index over and over in large imports.
  void reserve(std::size_t lines) {
    m_lines.reserve(lines);
    m_specs.reserve(lines);
  }

  std::vector<store::DomainSpec> take() { return std::move(m_specs); }

 private:
  bool is_known_ca(std::string_view name) const {
    for (const std::string& known : m_known_cas) {
      if (known == name) return true;
    }
    return false;
  }

  std::string known_ca_list() const {
    if (m_known_cas.empty()) return "no CAs are configured";
    std::string out = "the configured CAs are ";
    for (std::size_t i = 0; i < m_known_cas.size(); ++i) {
      if (i > 0) out += ", ";
      out += m_known_cas[i];
    }
    return out;
  }

  Result<std::optional<UnixSeconds>> parse_date(std::size_t line, std::string_view field,
                                                std::string_view text) const {
    if (trim(text).empty()) return std::optional<UnixSeconds>{};
    auto t = parse_timestamp(trim(text));
    if (!t) return field_error(line, field, t.error().message);
    return std::optional<UnixSeconds>{*t};
  }

  std::string m_source;
  const std::vector<std::string>& m_known_cas;
  std::unordered_map<std::string, std::size_t> m_lines;  // domain "*.x"/"x" -> line
  std::vector<store::DomainSpec> m_specs;
};

// RFC 4180 records, one at a time, from the whole text.
class CsvReader {
 public:
  CsvReader(std::string_view text, const Collector& collector)
      : m_text(text), m_collector(collector) {}

  // Reads the next record into `fields` (trimmed values) and its first line
  // into `line`. Returns false at the end of the text.
  Result<bool> next(std::vector<std::string>& fields, std::size_t& line) {
    skip_blank_lines();
    if (m_pos >= m_text.size()) return false;
    line = m_line;
    fields.clear();
    while (true) {
      std::string field;
      while (m_pos < m_text.size() && is_blank(m_text[m_pos])) ++m_pos;
      if (m_pos < m_text.size() && m_text[m_pos] == '"') {
        Status quoted = read_quoted(field, fields.size() + 1, line);
        if (!quoted) return fail(quoted.error().message);
      } else {
        Status plain = read_plain(field, fields.size() + 1);
        if (!plain) return fail(plain.error().message);
      }
      fields.emplace_back(trim(field));
      if (m_pos >= m_text.size()) return true;
      if (m_text[m_pos] == ',') {
        ++m_pos;
        continue;
      }
      // At a line end: read_* stop only at a comma, a line end or the end.
      consume_line_end();
      return true;
    }
  }

 private:
  bool at_line_end() const {
    if (m_pos >= m_text.size()) return true;
    const char c = m_text[m_pos];
    if (c == '\n') return true;
    // A CR counts only before LF (or at the very end): a lone CR elsewhere is
    // a byte in a value, and the name check will reject it by name.
    return c == '\r' && (m_pos + 1 == m_text.size() || m_text[m_pos + 1] == '\n');
  }

  void consume_line_end() {
    if (m_pos < m_text.size() && m_text[m_pos] == '\r') ++m_pos;
    if (m_pos < m_text.size() && m_text[m_pos] == '\n') ++m_pos;
    ++m_line;
  }

  void skip_blank_lines() {
    while (m_pos < m_text.size()) {
      std::size_t end = m_text.find('\n', m_pos);
      if (end == std::string_view::npos) end = m_text.size();
      std::string_view content = m_text.substr(m_pos, end - m_pos);
      if (content.ends_with('\r')) content.remove_suffix(1);
      if (!is_blank_line(content)) return;
      m_pos = end < m_text.size() ? end + 1 : end;
      ++m_line;
    }
  }

  Status read_plain(std::string& field, std::size_t column) {
    const std::size_t start = m_pos;
    while (!at_line_end() && m_text[m_pos] != ',') {
      if (m_text[m_pos] == '"') {
        return fail(
            m_collector.at(m_line) + "field " + std::to_string(column) +
            ": a '\"' inside an unquoted value; quote the whole field and double the quote (\"\")");
      }
      ++m_pos;
    }
    field.assign(m_text.substr(start, m_pos - start));
    return Ok{};
  }

  Status read_quoted(std::string& field, std::size_t column, std::size_t record_line) {
    ++m_pos;  // the opening quote
    while (true) {
      if (m_pos >= m_text.size()) {
        return fail(m_collector.at(record_line) + "field " + std::to_string(column) +
                    ": the quoted value is never closed");
      }
      const char c = m_text[m_pos];
      if (c == '"') {
        if (m_pos + 1 < m_text.size() && m_text[m_pos + 1] == '"') {
          field += '"';
          m_pos += 2;
          continue;
        }
        ++m_pos;
        break;
      }
      if (c == '\n') ++m_line;
      field += c;
      ++m_pos;
    }
    while (m_pos < m_text.size() && is_blank(m_text[m_pos])) ++m_pos;
    if (!at_line_end() && m_text[m_pos] != ',') {
      return fail(m_collector.at(m_line) + "field " + std::to_string(column) + ": " +
                  text::describe_char(m_text[m_pos]) +
                  " after the closing quote; expected ',' or the end of the line");
    }
    return Ok{};
  }

  std::string_view m_text;
  const Collector& m_collector;
  std::size_t m_pos = 0;
  std::size_t m_line = 1;
};

Result<bool> parse_wildcard_text(std::string_view text) {
  const std::string v = lower_ascii(trim(text));
  if (v == "true" || v == "1" || v == "yes") return true;
  if (v == "false" || v == "0" || v == "no") return false;
  return fail(text::quote(text, k_max_quoted) + " is not true, false, 1, 0, yes or no");
}

Result<std::vector<store::DomainSpec>> parse_csv(std::string_view text, Collector& collector) {
  CsvReader reader(text, collector);
  std::vector<std::string> fields;
  std::size_t line = 0;

  auto header = reader.next(fields, line);
  if (!header) return fail(header.error().message);
  if (!*header) {
    return fail(collector.at(1) + "no header line; the first line names the columns, as in \"" +
                std::string(k_csv_column_list) + "\"");
  }
  // columns[i]: which of k_csv_columns field i holds.
  std::vector<std::size_t> columns;
  std::array<bool, k_csv_columns.size()> present{};
  for (std::size_t i = 0; i < fields.size(); ++i) {
    const std::string name = lower_ascii(fields[i]);
    if (name.empty()) {
      return fail(collector.at(line) + "column " + std::to_string(i + 1) +
                  " has no name; the columns are " + std::string(k_csv_column_list));
    }
    std::size_t which = k_csv_columns.size();
    for (std::size_t c = 0; c < k_csv_columns.size(); ++c) {
      if (k_csv_columns[c] == name) which = c;
    }
    if (which == k_csv_columns.size()) {
      return fail(collector.at(line) + "unknown column " + text::quote(fields[i], k_max_quoted) +
                  "; the columns are " + std::string(k_csv_column_list));
    }
    if (present[which]) {
      return fail(collector.at(line) + "column " + text::quote(name) + " appears twice");
    }
    present[which] = true;
    columns.push_back(which);
  }
  if (!present[0]) return fail(collector.at(line) + "no \"name\" column; the header must name one");

  while (true) {
    auto more = reader.next(fields, line);
    if (!more) return fail(more.error().message);
    if (!*more) break;
    if (fields.size() != columns.size()) {
      return fail(collector.at(line) + std::to_string(fields.size()) +
                  (fields.size() == 1 ? " field" : " fields") + ", but the header has " +
                  std::to_string(columns.size()));
    }
    RawDomain raw;
    for (std::size_t i = 0; i < fields.size(); ++i) {
      std::string& value = fields[i];
      switch (columns[i]) {
        case 0:
          raw.name = std::move(value);
          break;
        case 1:
          if (!value.empty()) {
            auto w = parse_wildcard_text(value);
            if (!w) return collector.field_error(line, "wildcard", w.error().message);
            raw.wildcard = *w;
          }
          break;
        case 2: {
          Status split = collector.split_cas(line, value, raw.cas);
          if (!split) return fail(split.error().message);
          break;
        }
        case 3:
          raw.not_after = std::move(value);
          break;
        default:
          raw.renew_at = std::move(value);
          break;
      }
    }
    Status added = collector.add(std::move(raw), line);
    if (!added) return fail(added.error().message);
  }
  return collector.take();
}

// The JSON type name for messages: "found a number".
std::string json_type(const nlohmann::json& v) {
  return v.type_name();
}

// An optional date: a string or null.
Status json_date(const Collector& collector, std::size_t line, const char* key,
                 const nlohmann::json& v, std::string& out) {
  if (v.is_null()) return Ok{};
  if (!v.is_string()) {
    return collector.field_error(line, key, "must be a date string or null, found " + json_type(v));
  }
  out = v.get<std::string>();
  return Ok{};
}

Status json_line(std::string_view content, std::size_t line, Collector& collector) {
  nlohmann::json doc = nlohmann::json::parse(content, nullptr, false);
  if (doc.is_discarded()) {
    return fail(collector.at(line) + "not valid JSON: " + text::quote(content, k_max_quoted));
  }
  if (!doc.is_object()) {
    return fail(collector.at(line) + "expected a JSON object with a \"name\", found " +
                json_type(doc));
  }
  RawDomain raw;
  bool has_name = false;
  for (const auto& [key, v] : doc.items()) {
    if (key == "name") {
      if (!v.is_string()) {
        return collector.field_error(line, "name", "must be a string, found " + json_type(v));
      }
      raw.name = v.get<std::string>();
      has_name = true;
    } else if (key == "wildcard") {
      if (!v.is_boolean()) {
        return collector.field_error(line, "wildcard",
                                     "must be true or false, found " + json_type(v));
      }
      raw.wildcard = v.get<bool>();
    } else if (key == "ca") {
      if (v.is_string()) {
        Status split = collector.split_cas(line, v.get<std::string>(), raw.cas);
        if (!split) return split;
      } else if (v.is_array()) {
        for (const auto& item : v) {
          if (!item.is_string()) {
            return collector.field_error(line, "ca",
                                         "the list must hold strings, found " + json_type(item));
          }
          raw.cas.push_back(item.get<std::string>());
        }
      } else {
        return collector.field_error(
            line, "ca", "must be a string or a list of strings, found " + json_type(v));
      }
    } else if (key == "not_after") {
      Status date = json_date(collector, line, "not_after", v, raw.not_after);
      if (!date) return date;
    } else if (key == "renew_at") {
      Status date = json_date(collector, line, "renew_at", v, raw.renew_at);
      if (!date) return date;
    } else if (key == "enabled") {
      if (!v.is_boolean()) {
        return collector.field_error(line, "enabled",
                                     "must be true or false, found " + json_type(v));
      }
      raw.enabled = v.get<bool>();
    } else {
      return fail(collector.at(line) + "unknown key " + text::quote(key, k_max_quoted) +
                  "; the keys are " + std::string(k_json_key_list));
    }
  }
  if (!has_name) return collector.field_error(line, "name", "is missing");
  return collector.add(std::move(raw), line);
}

Result<std::vector<store::DomainSpec>> parse_jsonl(std::string_view text, Collector& collector) {
  std::size_t pos = 0;
  std::size_t line = 0;
  while (pos < text.size()) {
    ++line;
    std::size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    std::string_view content = text.substr(pos, end - pos);
    pos = end + 1;
    if (content.ends_with('\r')) content.remove_suffix(1);
    if (is_blank_line(content)) continue;
    Status parsed = json_line(content, line, collector);
    if (!parsed) return fail(parsed.error().message);
  }
  return collector.take();
}

}  // namespace

Format detect_format(std::string_view first_line) {
  first_line = skip_bom(first_line);
  for (char c : first_line) {
    if (c == ' ' || c == '\t' || c == '\r' || c == '\n') continue;
    return c == '{' ? Format::jsonl : Format::csv;
  }
  return Format::csv;
}

Result<std::vector<store::DomainSpec>> parse(std::istream& in, Format format,
                                             std::string_view source,
                                             const std::vector<std::string>& known_cas) {
  // The whole file is read first: CSV values may span lines, and an import
  // is all or nothing anyway, so nothing is gained by streaming.
  std::ostringstream buffer;
  if (in.peek() != std::char_traits<char>::eof()) buffer << in.rdbuf();
  if (in.bad()) return fail(std::string(source) + ": could not be read");
  const std::string whole = std::move(buffer).str();

  Collector collector(source, known_cas);
  const std::string_view text = skip_bom(whole);
  collector.reserve(static_cast<std::size_t>(std::count(text.begin(), text.end(), '\n')) + 1);
  return format == Format::csv ? parse_csv(text, collector) : parse_jsonl(text, collector);
}

}  // namespace caad::domains
