// Alert messages (see the header). describe() turns an event into plain
// facts once; each renderer then only decides layout, escaping and limits
// for its format, so that the five formats always say the same things.
//
// Everything shown comes from DNS or from the customer's records, so none of
// it is trusted as markup: Slack text is entity-escaped (&, <, >, which also
// stops <!channel> pings), Markdown special characters are escaped for
// Discord and Mattermost, DNS text is shown as code, '@' cannot start a
// Mattermost mention, and Discord is told to parse no mentions at all.
// Invalid UTF-8 becomes U+FFFD before anything is measured or cut.
#include "lib/alerts/payload.h"

#include <algorithm>
#include <array>
#include <map>
#include <nlohmann/json.hpp>
#include <utility>

#include "lib/util/text.h"

namespace caad::alerts {
namespace {

using nlohmann::json;

constexpr std::string_view k_ellipsis = "\xE2\x80\xA6";  // …
constexpr std::string_view k_replacement = "\xEF\xBF\xBD";  // U+FFFD
constexpr std::size_t k_digest_examples = 5;
constexpr std::size_t k_generic_digest_examples = 10;
constexpr std::size_t k_records_shown = 10;

// Discord's documented limits (characters, counted as JavaScript does).
constexpr std::size_t k_discord_content = 2000;
constexpr std::size_t k_discord_title = 256;
constexpr std::size_t k_discord_description = 4096;
constexpr std::size_t k_discord_fields = 25;
constexpr std::size_t k_discord_field_name = 256;
constexpr std::size_t k_discord_field_value = 1024;
constexpr std::size_t k_discord_footer = 2048;
constexpr std::size_t k_discord_total = 6000;
constexpr std::size_t k_discord_embeds = 10;

// Slack Block Kit limits.
constexpr std::size_t k_slack_header = 150;
constexpr std::size_t k_slack_section = 3000;
constexpr std::size_t k_slack_field = 2000;
constexpr std::size_t k_slack_fields = 10;
// Slack and Mattermost show a long message folded anyway; keep values short.
constexpr std::size_t k_chat_value = 1000;
// Teams rejects payloads over 28 KB; a card with these caps stays far below.
constexpr std::size_t k_teams_text = 2000;

std::string valid_utf8(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  std::size_t pos = 0;
  while (pos < s.size()) {
    char32_t cp = 0;
    const std::size_t n = text::utf8_sequence_at(s, pos, cp);
    if (n == 0) {
      out += k_replacement;
      ++pos;
    } else {
      out.append(s.substr(pos, n));
      pos += n;
    }
  }
  return out;
}

// The string at `key`, or "" when absent or not a string.
std::string str(const json& j, const char* key) {
  if (!j.is_object()) return {};
  const auto it = j.find(key);
  if (it == j.end() || !it->is_string()) return {};
  return it->get<std::string>();
}

std::optional<std::int64_t> integer(const json& j, const char* key) {
  if (!j.is_object()) return std::nullopt;
  const auto it = j.find(key);
  if (it == j.end() || !it->is_number_integer()) return std::nullopt;
  return it->get<std::int64_t>();
}

std::vector<std::string> strings(const json& j, const char* key) {
  std::vector<std::string> out;
  if (!j.is_object()) return out;
  const auto it = j.find(key);
  if (it == j.end() || !it->is_array()) return out;
  for (const json& e : *it) {
    if (e.is_string()) out.push_back(e.get<std::string>());
  }
  return out;
}

std::string upper(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  }
  return out;
}

std::string join(const std::vector<std::string>& parts, std::string_view sep) {
  std::string out;
  for (std::size_t i = 0; i < parts.size(); ++i) {
    if (i > 0) out += sep;
    out += parts[i];
  }
  return out;
}

std::vector<std::string> lines_of(std::string_view s) {
  std::vector<std::string> out;
  std::size_t start = 0;
  for (;;) {
    const std::size_t nl = s.find('\n', start);
    out.emplace_back(s.substr(start, nl == std::string_view::npos ? std::string_view::npos : nl - start));
    if (nl == std::string_view::npos) return out;
    start = nl + 1;
  }
}

bool is_resolved_kind(std::string_view kind) {
  return kind == "recovery" || kind == "provider_target_recovered";
}

std::string severity_label(const store::Event& e) {
  return is_resolved_kind(e.kind) ? "RESOLVED" : upper(store::to_string(e.severity));
}

std::string days_phrase(std::int64_t days) {
  if (days < 0) return "overdue by " + std::to_string(-days) + (days == -1 ? " day" : " days");
  if (days == 0) return "due today";
  return std::to_string(days) + (days == 1 ? " day left" : " days left");
}

// The name an event is about: the domain ("*.x" form), the target, or the subject.
std::string subject_of(const store::Event& e) {
  std::string s = str(e.data, "domain");
  if (s.empty()) s = str(e.data, "target");
  if (s.empty()) s = e.subject;
  return s;
}

std::string title_of(const store::Event& e) {
  const json& d = e.data;
  const std::string sev = severity_label(e);
  const std::string subject = subject_of(e);
  std::string title;
  if (e.kind == "regression") {
    title = sev + ": CAA now denies renewal of " + subject;
  } else if (e.kind == "lookup_failure") {
    title = sev + ": CAA lookup failed for " + subject;
    if (d.is_object() && d.contains("failure") && d["failure"].is_object()) {
      const std::string kind = str(d["failure"], "kind");
      if (!kind.empty()) title += " (" + kind + ")";
    }
  } else if (e.kind == "renewal_at_risk") {
    title = sev + ": renewal of " + subject + " at risk";
    if (auto days = integer(d, "days_left")) title += " (" + days_phrase(*days) + ")";
  } else if (e.kind == "recovery") {
    title = sev + ": CAA permits renewal of " + subject + " again";
  } else if (e.kind == "provider_target_broken") {
    title = sev + ": provider target " + subject + " no longer permits issuance";
    if (auto n = integer(d, "pinned_domains")) {
      title += " (" + std::to_string(*n) + (*n == 1 ? " pinned domain)" : " pinned domains)");
    }
  } else if (e.kind == "provider_target_recovered") {
    title = sev + ": provider target " + subject + " permits issuance again";
  } else {
    title = sev + ": " + e.kind + " for " + subject;
  }
  if (d.is_object() && d.value("test", false)) title += " [test message from caad webhook test]";
  return title;
}

std::string verdicts_of(const json& d) {
  std::vector<std::string> lines;
  if (d.is_object() && d.contains("cas") && d["cas"].is_array()) {
    for (const json& ca : d["cas"]) {
      std::string line = str(ca, "issuer");
      const std::string name = str(ca, "ca");
      if (!name.empty() && name != line) line += " (" + name + ")";
      line += ": " + str(ca, "verdict");
      lines.push_back(line);
    }
  }
  if (lines.empty()) return str(d, "verdict");
  return join(lines, "\n");
}

// The deciding record of the first (primary first) CA that is denied.
std::string blocking_record(const json& d) {
  if (!d.is_object() || !d.contains("cas") || !d["cas"].is_array()) return {};
  for (const json& ca : d["cas"]) {
    if (str(ca, "verdict") != "denied") continue;
    const std::string record = str(ca, "deciding_record");
    if (!record.empty()) return record;
  }
  return {};
}

std::string renewal_of(const json& d) {
  const std::string at = str(d, "renewal_at");
  if (at.empty()) return "unknown (no renewal date is stored for this domain)";
  std::string out = at;
  if (auto days = integer(d, "days_left")) out += " (" + days_phrase(*days) + ")";
  return out;
}

std::string failure_of(const json& f) {
  std::string out = str(f, "kind");
  const std::string name = str(f, "name");
  if (!name.empty()) out += " for " + name;
  const std::string server = str(f, "server");
  if (!server.empty()) out += " from " + server;
  const std::string detail = str(f, "detail");
  if (!detail.empty()) out += ": " + detail;
  return out;
}

// ---- Digest ---------------------------------------------------------------

struct DigestText {
  std::string title;
  std::string summary;  // counts, one line each
  std::vector<std::string> examples;
  std::size_t more = 0;  // events not shown as examples
  store::Severity severity = store::Severity::info;
  bool resolved = false;  // every event is a recovery
  std::map<std::string, std::size_t> by_kind;
  std::map<std::string, std::size_t> by_severity;
};

std::string counts_line(const std::map<std::string, std::size_t>& counts,
                        const std::vector<std::string>& order) {
  std::vector<std::pair<std::string, std::size_t>> items(counts.begin(), counts.end());
  // A fixed order when one is given (severities), else the largest first.
  std::stable_sort(items.begin(), items.end(), [&](const auto& a, const auto& b) {
    if (!order.empty()) {
      auto pa = std::find(order.begin(), order.end(), a.first);
      auto pb = std::find(order.begin(), order.end(), b.first);
      return pa < pb;
    }
    return a.second > b.second;
  });
  std::vector<std::string> parts;
  for (const auto& [name, n] : items) parts.push_back(std::to_string(n) + " " + name);
  return join(parts, ", ");
}

std::string example_line(const store::OutboxRow& row) {
  const store::Event& e = row.event;
  std::string line = severity_label(e) + " " + e.kind + " " + subject_of(e);
  if (auto days = integer(e.data, "days_left")) line += " (" + days_phrase(*days) + ")";
  const std::string remedy = str(e.data, "remedy");
  if (!remedy.empty()) line += ": " + remedy;
  return truncate_text(line, 400);
}

DigestText describe_digest(std::span<const store::OutboxRow> rows) {
  DigestText t;
  bool all_resolved = true;
  for (const store::OutboxRow& r : rows) {
    ++t.by_kind[r.event.kind];
    ++t.by_severity[store::to_string(r.event.severity)];
    if (!is_resolved_kind(r.event.kind)) {
      all_resolved = false;
      t.severity = std::max(t.severity, r.event.severity);
    }
  }
  t.resolved = all_resolved;
  const std::string sev = all_resolved ? "RESOLVED" : upper(store::to_string(t.severity));
  t.title = sev + ": " + std::to_string(rows.size()) + " CAA alerts at once (" +
            counts_line(t.by_kind, {}) + ")";
  t.summary = "By kind: " + counts_line(t.by_kind, {}) + ".\nBy severity: " +
              counts_line(t.by_severity, {"critical", "warning", "info"}) + ".";
  for (const store::OutboxRow* r : worst(rows, k_digest_examples)) t.examples.push_back(example_line(*r));
  t.more = rows.size() - t.examples.size();
  return t;
}

std::string more_line(std::size_t more) {
  if (more == 0) return "caad · digest";
  return "caad · digest · " + std::to_string(more) + " more not shown; caad-status lists every event";
}

// ---- Colours ----------------------------------------------------------------

std::string hex_colour(store::Severity s, bool resolved) {
  if (resolved) return "#2EB67D";
  switch (s) {
    case store::Severity::critical: return "#E01E5A";
    case store::Severity::warning: return "#ECB22E";
    case store::Severity::info: break;
  }
  return "#36C5F0";
}

int int_colour(store::Severity s, bool resolved) {
  return std::stoi(hex_colour(s, resolved).substr(1), nullptr, 16);
}

// Adaptive Card container styles.
const char* card_style(store::Severity s, bool resolved) {
  if (resolved) return "good";
  switch (s) {
    case store::Severity::critical: return "attention";
    case store::Severity::warning: return "warning";
    case store::Severity::info: break;
  }
  return "accent";
}

std::string footer_of(const store::OutboxRow& row) {
  std::string out = "caad · " + row.event.kind;
  if (row.event_id > 0) out += " · event " + std::to_string(row.event_id);
  return out + " · " + format_timestamp(row.event.at);
}

// ---- Escaping -----------------------------------------------------------------

// Slack mrkdwn: only &, < and > are special (and < starts links and pings).
std::string slack_escape(std::string_view s) {
  std::string out;
  for (char c : valid_utf8(s)) {
    if (c == '&') {
      out += "&amp;";
    } else if (c == '<') {
      out += "&lt;";
    } else if (c == '>') {
      out += "&gt;";
    } else {
      out += c;
    }
  }
  return out;
}

// Markdown (Discord, Mattermost): characters that would start formatting are
// backslash-escaped; '@' gets a zero-width space so that it mentions nobody.
std::string md_escape(std::string_view s) {
  std::string out;
  for (char c : valid_utf8(s)) {
    if (c == '\\' || c == '*' || c == '_' || c == '~' || c == '`' || c == '|' || c == '>' ||
        c == '<' || c == '[' || c == ']') {
      out += '\\';
      out += c;
    } else if (c == '@') {
      out += "@\xE2\x80\x8B";
    } else {
      out += c;
    }
  }
  return out;
}

// Markdown text that may hold caad's own `code` spans (remedies quote the
// record to publish that way): the spans are kept, everything else is
// escaped. Unbalanced backticks are escaped like any other character.
std::string md_escape_keeping_code(std::string_view s) {
  const std::string valid = valid_utf8(s);
  if (std::count(valid.begin(), valid.end(), '`') % 2 != 0) return md_escape(valid);
  std::string out;
  bool inside = false;
  std::size_t start = 0;
  for (;;) {
    const std::size_t tick = valid.find('`', start);
    const std::string_view part =
        std::string_view(valid).substr(start, tick == std::string::npos ? std::string::npos : tick - start);
    out += inside ? std::string(part) : md_escape(part);
    if (tick == std::string::npos) return out;
    out += '`';
    inside = !inside;
    start = tick + 1;
  }
}

// Inline code, one span per line; a backtick inside would end the span, so
// it is shown as a quote.
std::string code(std::string_view s, bool slack) {
  std::vector<std::string> out;
  for (std::string line : lines_of(valid_utf8(s))) {
    std::replace(line.begin(), line.end(), '`', '\'');
    if (line.empty()) continue;
    out.push_back("`" + (slack ? slack_escape(line) : line) + "`");
  }
  return join(out, "\n");
}

std::string slack_value(const Fact& f) {
  return f.code ? code(f.value, true) : slack_escape(f.value);
}

std::string md_value(const Fact& f) {
  return f.code ? code(f.value, false) : md_escape(f.value);
}

// ---- Slack ----------------------------------------------------------------------

json slack_text(std::string text) {
  return {{"type", "mrkdwn"}, {"text", truncate_text(text, k_slack_section)}};
}

json slack_header(const std::string& title) {
  return {{"type", "header"},
          {"text", {{"type", "plain_text"}, {"text", truncate_text(title, k_slack_header)}, {"emoji", false}}}};
}

json slack_context(const std::string& text) {
  return {{"type", "context"}, {"elements", json::array({slack_text(slack_escape(text))})}};
}

json render_slack(const store::OutboxRow& row, const AlertText& t) {
  json blocks = json::array();
  blocks.push_back(slack_header(t.title));
  if (!t.summary.empty()) blocks.push_back({{"type", "section"}, {"text", slack_text(slack_escape(t.summary))}});
  json fields = json::array();
  for (const Fact& f : t.facts) {
    if (fields.size() == k_slack_fields) break;
    fields.push_back({{"type", "mrkdwn"},
                      {"text", truncate_text("*" + slack_escape(f.label) + "*\n" +
                                                 slack_value(Fact{"", truncate_text(f.value, k_chat_value), f.code}),
                                             k_slack_field)}});
  }
  if (!fields.empty()) blocks.push_back({{"type", "section"}, {"fields", fields}});
  if (!t.remedy.empty()) {
    blocks.push_back({{"type", "section"}, {"text", slack_text("*Remedy:* " + slack_escape(t.remedy))}});
  }
  blocks.push_back(slack_context(footer_of(row)));
  return {{"text", truncate_text(t.title, k_slack_section)}, {"blocks", blocks}};
}

json render_slack_digest(const DigestText& t, std::string_view endpoint) {
  json blocks = json::array();
  blocks.push_back(slack_header(t.title));
  blocks.push_back({{"type", "section"}, {"text", slack_text(slack_escape(t.summary))}});
  std::vector<std::string> lines;
  for (const std::string& e : t.examples) lines.push_back("• " + slack_escape(e));
  if (!lines.empty()) {
    blocks.push_back({{"type", "section"}, {"text", slack_text("*Most urgent:*\n" + join(lines, "\n"))}});
  }
  blocks.push_back(slack_context(more_line(t.more) + " · " + std::string(endpoint)));
  return {{"text", truncate_text(t.title, k_slack_section)}, {"blocks", blocks}};
}

// ---- Mattermost -------------------------------------------------------------------

json render_mattermost(const store::OutboxRow& row, const AlertText& t) {
  json fields = json::array();
  for (const Fact& f : t.facts) {
    fields.push_back({{"title", truncate_text(f.label, 256)},
                      {"value", md_value(Fact{"", truncate_text(f.value, k_chat_value), f.code})},
                      {"short", false}});
  }
  std::string text = md_escape_keeping_code(t.summary);
  if (!t.remedy.empty()) text += "\n\n**Remedy:** " + md_escape_keeping_code(t.remedy);
  json attachment = {{"fallback", truncate_text(t.title, 1000)},
                     {"color", hex_colour(t.severity, t.resolved)},
                     {"title", truncate_text(t.title, 1000)},
                     {"text", truncate_text(text, 4000)},
                     {"fields", fields},
                     {"footer", footer_of(row)}};
  return {{"text", md_escape(truncate_text(t.title, 1000))}, {"attachments", json::array({attachment})}};
}

json render_mattermost_digest(const DigestText& t, std::string_view endpoint) {
  std::string text = md_escape(t.summary);
  if (!t.examples.empty()) {
    text += "\n\n**Most urgent:**";
    for (const std::string& e : t.examples) text += "\n- " + md_escape_keeping_code(e);
  }
  json attachment = {{"fallback", truncate_text(t.title, 1000)},
                     {"color", hex_colour(t.severity, t.resolved)},
                     {"title", truncate_text(t.title, 1000)},
                     {"text", truncate_text(text, 8000)},
                     {"footer", more_line(t.more) + " · " + std::string(endpoint)}};
  return {{"text", md_escape(truncate_text(t.title, 1000))}, {"attachments", json::array({attachment})}};
}

// ---- Discord ----------------------------------------------------------------------

std::size_t units_at(const json& j, const char* key) {
  return j.is_object() && j.contains(key) && j[key].is_string() ? text_units(j[key].get_ref<const std::string&>())
                                                                 : 0;
}

void cut_at(json& j, const char* key, std::size_t max_units) {
  if (!j.is_object() || !j.contains(key) || !j[key].is_string()) return;
  j[key] = truncate_text(j[key].get_ref<const std::string&>(), max_units);
}

// What Discord counts towards an embed's 6000 characters.
std::size_t embed_units(const json& embed) {
  std::size_t n = units_at(embed, "title") + units_at(embed, "description");
  if (embed.contains("footer")) n += units_at(embed["footer"], "text");
  if (embed.contains("author")) n += units_at(embed["author"], "name");
  if (embed.contains("fields")) {
    for (const json& f : embed["fields"]) n += units_at(f, "name") + units_at(f, "value");
  }
  return n;
}

// Holds a message to Discord's limits, whatever built it: per-item limits
// first, then the total over all embeds, taken from the longest text (the
// description, else the longest field value) until it fits.
void fit_discord(json& body) {
  cut_at(body, "content", k_discord_content);
  if (!body.contains("embeds")) return;
  json& embeds = body["embeds"];
  while (embeds.size() > k_discord_embeds) embeds.erase(embeds.size() - 1);
  std::size_t total = 0;
  for (json& e : embeds) {
    cut_at(e, "title", k_discord_title);
    cut_at(e, "description", k_discord_description);
    if (e.contains("footer")) cut_at(e["footer"], "text", k_discord_footer);
    if (e.contains("fields")) {
      json& fields = e["fields"];
      while (fields.size() > k_discord_fields) fields.erase(fields.size() - 1);
      for (json& f : fields) {
        cut_at(f, "name", k_discord_field_name);
        cut_at(f, "value", k_discord_field_value);
        // Discord refuses an empty name or value.
        if (units_at(f, "name") == 0) f["name"] = "-";
        if (units_at(f, "value") == 0) f["value"] = "-";
      }
    }
    total += embed_units(e);
  }
  while (total > k_discord_total) {
    // The longest text anywhere, cut by what is over (but not below 64).
    json* longest = nullptr;
    const char* key = nullptr;
    std::size_t longest_units = 0;
    auto consider = [&](json& j, const char* k) {
      const std::size_t n = units_at(j, k);
      if (n > longest_units) {
        longest = &j;
        key = k;
        longest_units = n;
      }
    };
    for (json& e : embeds) {
      consider(e, "description");
      if (e.contains("fields")) {
        for (json& f : e["fields"]) consider(f, "value");
      }
    }
    if (longest == nullptr || longest_units <= 64) break;
    const std::size_t over = total - k_discord_total;
    const std::size_t target = longest_units > over + 64 ? longest_units - over : 64;
    cut_at(*longest, key, target);
    total = 0;
    for (const json& e : embeds) total += embed_units(e);
  }
}

json render_discord(const store::OutboxRow& row, const AlertText& t) {
  json fields = json::array();
  for (const Fact& f : t.facts) {
    fields.push_back({{"name", f.label}, {"value", md_value(Fact{"", truncate_text(f.value, 900), f.code})}, {"inline", false}});
  }
  std::string description = md_escape_keeping_code(t.summary);
  if (!t.remedy.empty()) description += "\n\n**Remedy:** " + md_escape_keeping_code(t.remedy);
  json embed = {{"title", t.title},
                {"description", description},
                {"color", int_colour(t.severity, t.resolved)},
                {"fields", fields},
                {"footer", {{"text", footer_of(row)}}},
                {"timestamp", format_timestamp(row.event.at)}};
  json body = {{"content", "**" + md_escape(truncate_text(t.title, 1500)) + "**"},
               {"allowed_mentions", {{"parse", json::array()}}},
               {"embeds", json::array({embed})}};
  fit_discord(body);
  return body;
}

json render_discord_digest(const DigestText& t, std::string_view endpoint, UnixSeconds now) {
  std::string description = md_escape(t.summary);
  if (!t.examples.empty()) {
    description += "\n\n**Most urgent:**";
    for (const std::string& e : t.examples) description += "\n- " + md_escape_keeping_code(e);
  }
  json embed = {{"title", t.title},
                {"description", description},
                {"color", int_colour(t.severity, t.resolved)},
                {"footer", {{"text", more_line(t.more) + " · " + std::string(endpoint)}}},
                {"timestamp", format_timestamp(now)}};
  json body = {{"content", "**" + md_escape(truncate_text(t.title, 1500)) + "**"},
               {"allowed_mentions", {{"parse", json::array()}}},
               {"embeds", json::array({embed})}};
  fit_discord(body);
  return body;
}

// ---- Teams ------------------------------------------------------------------------

json text_block(const std::string& text, json extra = json::object()) {
  json block = {{"type", "TextBlock"}, {"text", truncate_text(text, k_teams_text)}, {"wrap", true}};
  block.update(extra);
  return block;
}

json teams_message(store::Severity severity, bool resolved, const std::string& title, json rest) {
  json body = json::array();
  body.push_back({{"type", "Container"},
                  {"style", card_style(severity, resolved)},
                  {"bleed", true},
                  {"items", json::array({text_block(title, {{"weight", "Bolder"}, {"size", "Medium"}})})}});
  for (json& b : rest) body.push_back(std::move(b));
  json card = {{"$schema", "http://adaptivecards.io/schemas/adaptive-card.json"},
               {"type", "AdaptiveCard"},
               {"version", "1.4"},
               {"msteams", {{"width", "Full"}}},
               {"body", body}};
  return {{"type", "message"},
          {"attachments", json::array({{{"contentType", "application/vnd.microsoft.card.adaptive"},
                                        {"contentUrl", nullptr},
                                        {"content", card}}})}};
}

json render_teams(const store::OutboxRow& row, const AlertText& t) {
  json rest = json::array();
  if (!t.summary.empty()) rest.push_back(text_block(valid_utf8(t.summary)));
  json facts = json::array();
  for (const Fact& f : t.facts) {
    facts.push_back({{"title", truncate_text(f.label, 200)}, {"value", truncate_text(f.value, k_chat_value)}});
  }
  if (!facts.empty()) rest.push_back({{"type", "FactSet"}, {"facts", facts}});
  if (!t.remedy.empty()) rest.push_back(text_block("**Remedy:** " + valid_utf8(t.remedy)));
  rest.push_back(text_block(footer_of(row), {{"isSubtle", true}, {"size", "Small"}}));
  return teams_message(t.severity, t.resolved, t.title, std::move(rest));
}

json render_teams_digest(const DigestText& t, std::string_view endpoint) {
  json rest = json::array();
  rest.push_back(text_block(t.summary));
  if (!t.examples.empty()) {
    std::vector<std::string> lines;
    for (const std::string& e : t.examples) lines.push_back("- " + e);
    rest.push_back(text_block("**Most urgent:**\n\n" + join(lines, "\n")));
  }
  rest.push_back(text_block(more_line(t.more) + " · " + std::string(endpoint), {{"isSubtle", true}, {"size", "Small"}}));
  return teams_message(t.severity, t.resolved, t.title, std::move(rest));
}

// ---- Generic ----------------------------------------------------------------------

json event_json(const store::OutboxRow& row) {
  json data = row.event.data.is_object() ? row.event.data : json::object();
  data["event_id"] = row.event_id;
  data["kind"] = row.event.kind;
  data["severity"] = store::to_string(row.event.severity);
  data["subject"] = row.event.subject;
  data["at"] = format_timestamp(row.event.at);
  return data;
}

json render_generic(const store::OutboxRow& row, const AlertText& t) {
  json data = event_json(row);
  data["title"] = t.title;
  return {{"type", "caad." + row.event.kind}, {"timestamp", format_timestamp(row.event.at)}, {"data", data}};
}

json render_generic_digest(std::span<const store::OutboxRow> rows, const DigestText& t,
                           std::string_view endpoint, UnixSeconds now) {
  json ids = json::array();
  json outbox_ids = json::array();
  for (const store::OutboxRow& r : rows) {
    ids.push_back(r.event_id);
    outbox_ids.push_back(r.id);
  }
  json examples = json::array();
  for (const store::OutboxRow* r : worst(rows, k_generic_digest_examples)) examples.push_back(event_json(*r));
  json data = {{"endpoint", endpoint},
               {"count", rows.size()},
               {"title", t.title},
               {"by_kind", t.by_kind},
               {"by_severity", t.by_severity},
               {"event_ids", ids},
               {"outbox_ids", outbox_ids},
               {"examples", examples}};
  return {{"type", "caad.digest"}, {"timestamp", format_timestamp(now)}, {"data", data}};
}

std::string dump(const json& j) {
  // replace: a stray invalid byte in stored data must not throw here.
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

}  // namespace

std::optional<Format> parse_format(std::string_view text) {
  for (Format f : {Format::slack, Format::mattermost, Format::discord, Format::teams, Format::generic}) {
    if (text == to_string(f)) return f;
  }
  return std::nullopt;
}

const char* to_string(Format f) {
  switch (f) {
    case Format::slack: return "slack";
    case Format::mattermost: return "mattermost";
    case Format::discord: return "discord";
    case Format::teams: return "teams";
    case Format::generic: break;
  }
  return "generic";
}

AlertText describe(const store::Event& e) {
  const json& d = e.data;
  AlertText t;
  t.severity = e.severity;
  t.resolved = is_resolved_kind(e.kind);
  t.title = title_of(e);
  t.summary = str(d, "reason");
  t.remedy = str(d, "remedy");
  if (!d.is_object()) return t;

  if (auto n = integer(d, "pinned_domains")) {
    t.facts.push_back({"Pinned domains", std::to_string(*n) + " customer domains rely on this target's CAA"});
  }
  const std::string verdicts = verdicts_of(d);
  if (!verdicts.empty()) t.facts.push_back({"Verdict per CA", verdicts});
  const std::string previous = str(d, "previous_verdict");
  const std::string verdict = str(d, "verdict");
  if (!verdict.empty()) {
    t.facts.push_back({"Change", (previous.empty() ? std::string("first check") : previous) + " → " + verdict});
  }

  std::string owner = str(d, "relevant_owner");
  if (owner.empty()) owner = str(d, "found_at");
  const std::vector<std::string> records = strings(d, "records");
  const std::string blocking = blocking_record(d);
  if (!blocking.empty()) {
    t.facts.push_back({"Blocking record", blocking, true});
    if (!owner.empty()) t.facts.push_back({"Record lives at", owner, true});
  }
  if (!records.empty() && (blocking.empty() || records.size() > 1)) {
    std::vector<std::string> shown(records.begin(),
                                   records.begin() + static_cast<std::ptrdiff_t>(std::min(records.size(), k_records_shown)));
    std::string value = join(shown, "\n");
    if (records.size() > shown.size()) value += "\n… " + std::to_string(records.size() - shown.size()) + " more";
    t.facts.push_back({owner.empty() ? std::string("CAA records") : "CAA records at " + owner, value, true});
  }

  if (d.contains("cname_chain")) {
    const std::vector<std::string> chain = strings(d, "cname_chain");
    if (chain.empty()) {
      t.facts.push_back({"CNAME chain", "none (" + subject_of(e) + " has no alias)"});
    } else {
      t.facts.push_back({"CNAME chain", subject_of(e) + " → " + join(chain, " → "), true});
    }
  }
  const std::string exposure = str(d, "exposure");
  if (exposure == "pinned") {
    t.facts.push_back({"Exposure", "pinned: the CAA at your provider target decides"});
  } else if (exposure == "exposed") {
    t.facts.push_back({"Exposure", "exposed: the customer's own CAA decides"});
  }
  if (d.contains("failure") && d["failure"].is_object()) {
    t.facts.push_back({"Lookup failure", failure_of(d["failure"])});
  }
  if (d.contains("renewal_at")) t.facts.push_back({"Renewal", renewal_of(d)});
  return t;
}

std::string render(Format f, const store::OutboxRow& row) {
  const AlertText t = describe(row.event);
  switch (f) {
    case Format::slack: return dump(render_slack(row, t));
    case Format::mattermost: return dump(render_mattermost(row, t));
    case Format::discord: return dump(render_discord(row, t));
    case Format::teams: return dump(render_teams(row, t));
    case Format::generic: break;
  }
  return dump(render_generic(row, t));
}

std::string render_digest(Format f, std::span<const store::OutboxRow> rows, std::string_view endpoint,
                          UnixSeconds now) {
  const DigestText t = describe_digest(rows);
  switch (f) {
    case Format::slack: return dump(render_slack_digest(t, endpoint));
    case Format::mattermost: return dump(render_mattermost_digest(t, endpoint));
    case Format::discord: return dump(render_discord_digest(t, endpoint, now));
    case Format::teams: return dump(render_teams_digest(t, endpoint));
    case Format::generic: break;
  }
  return dump(render_generic_digest(rows, t, endpoint, now));
}

std::vector<const store::OutboxRow*> worst(std::span<const store::OutboxRow> rows, std::size_t limit) {
  std::vector<const store::OutboxRow*> out;
  out.reserve(rows.size());
  for (const store::OutboxRow& r : rows) out.push_back(&r);
  auto urgency = [](const store::OutboxRow* r) {
    // Recoveries are good news: never "the worst".
    const int severity = is_resolved_kind(r->event.kind) ? -1 : static_cast<int>(r->event.severity);
    const auto days = integer(r->event.data, "days_left");
    return std::make_tuple(-severity, days.has_value() ? 0 : 1, days.value_or(0), r->id);
  };
  const std::size_t n = std::min(limit, out.size());
  std::partial_sort(out.begin(), out.begin() + static_cast<std::ptrdiff_t>(n), out.end(),
                    [&](const store::OutboxRow* a, const store::OutboxRow* b) { return urgency(a) < urgency(b); });
  out.resize(n);
  return out;
}

store::OutboxRow sample_row(UnixSeconds now) {
  constexpr std::int64_t k_days_left = 12;
  const std::string denial =
      "shop.customer.example: the CAA record 0 issue \"digicert.com\" at customer.example does not "
      "allow letsencrypt.org";
  json data = {
      {"test", true},
      {"domain", "shop.customer.example"},
      {"wildcard", false},
      {"verdict", "denied"},
      {"previous_verdict", "permitted"},
      {"exposure", "exposed"},
      {"cas",
       json::array({{{"ca", "letsencrypt"},
                     {"issuer", "letsencrypt.org"},
                     {"verdict", "denied"},
                     {"reason", denial},
                     {"deciding_record", "0 issue \"digicert.com\""}}})},
      {"found_at", "customer.example"},
      {"relevant_owner", "customer.example"},
      {"records", json::array({"0 issue \"digicert.com\""})},
      {"cname_chain", json::array({"customers.provider.example"})},
      {"failure", nullptr},
      {"reason", denial},
      {"renewal_at", format_timestamp(now + k_days_left * 86400)},
      {"days_left", k_days_left},
      {"remedy",
       "Publish a CAA record allowing letsencrypt.org at your provider target, or ask the customer to "
       "add `0 issue \"letsencrypt.org\"` at customer.example"}};
  store::OutboxRow row;
  row.created_at = now;
  row.next_attempt_at = now;
  row.event = store::Event{"regression", store::Severity::critical, "shop.customer.example", now, std::move(data)};
  return row;
}

std::size_t text_units(std::string_view text) {
  std::size_t units = 0;
  std::size_t pos = 0;
  while (pos < text.size()) {
    char32_t cp = 0;
    const std::size_t n = text::utf8_sequence_at(text, pos, cp);
    if (n == 0) {
      ++units;  // shown as U+FFFD
      ++pos;
    } else {
      units += cp >= 0x10000 ? 2 : 1;
      pos += n;
    }
  }
  return units;
}

std::string truncate_text(std::string_view text, std::size_t max_units) {
  std::string valid = valid_utf8(text);
  if (text_units(valid) <= max_units) return valid;
  if (max_units == 0) return {};
  std::string out;
  std::size_t used = 0;
  std::size_t pos = 0;
  while (pos < valid.size()) {
    char32_t cp = 0;
    const std::size_t n = text::utf8_sequence_at(valid, pos, cp);
    const std::size_t units = cp >= 0x10000 ? 2 : 1;
    if (used + units > max_units - 1) break;  // room for the ellipsis
    out.append(valid, pos, n);
    used += units;
    pos += n;
  }
  return out + std::string(k_ellipsis);
}

std::string redact_url(std::string_view url) {
  const std::size_t scheme_end = url.find("://");
  if (scheme_end == std::string_view::npos) return "(a URL)";
  const std::size_t host_start = scheme_end + 3;
  std::size_t host_end = url.find_first_of("/?#", host_start);
  if (host_end == std::string_view::npos) host_end = url.size();
  std::string_view authority = url.substr(host_start, host_end - host_start);
  // user:password@ is a secret too.
  if (const std::size_t at = authority.rfind('@'); at != std::string_view::npos) authority.remove_prefix(at + 1);
  std::string out = std::string(url.substr(0, host_start)) + std::string(authority);
  if (host_end < url.size()) out += "/…";
  return valid_utf8(out);
}

}  // namespace caad::alerts
