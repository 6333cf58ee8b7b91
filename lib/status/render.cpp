// caad-status's renderers (see the header).
//
// Text that came from outside (DNS records and reasons quoting them, HTTP
// errors, names) goes through printable() before it reaches a terminal: a
// customer controls their CAA records, and a record holding an escape
// sequence must not be able to repaint an operator's screen. JSON and CSV
// carry the text as it is stored; their quoting keeps it in its field.
#include "lib/status/render.h"

#include <algorithm>
#include <string>
#include <utility>

#include "lib/util/text.h"
#include "lib/util/time.h"

namespace caad::status {
namespace {

constexpr std::size_t k_label_width = 12;

std::string dump(const nlohmann::json& j) {
  // replace: a stray invalid UTF-8 byte in the database must not throw.
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

nlohmann::json time_json(UnixSeconds t) {
  return t == 0 ? nlohmann::json(nullptr) : nlohmann::json(format_timestamp(t));
}

nlohmann::json time_json(const std::optional<UnixSeconds>& t) {
  return t ? nlohmann::json(format_timestamp(*t)) : nlohmann::json(nullptr);
}

nlohmann::json text_json(const std::optional<std::string>& t) {
  return t ? nlohmann::json(*t) : nlohmann::json(nullptr);
}

std::string time_csv(UnixSeconds t) {
  return t == 0 ? std::string() : format_timestamp(t);
}

std::string time_csv(const std::optional<UnixSeconds>& t) {
  return t ? format_timestamp(*t) : std::string();
}

std::string join(const std::vector<std::string>& items, std::string_view sep) {
  std::string out;
  for (const auto& i : items) {
    if (!out.empty()) out += sep;
    out += i;
  }
  return out;
}

bool is_problem(std::string_view verdict) {
  return verdict == "denied" || verdict == "lookup_failed";
}

Colour severity_colour(std::string_view severity) {
  if (severity == "critical") return Colour::red;
  if (severity == "warning") return Colour::yellow;
  return Colour::none;
}

// "in 12d (2026-06-09T00:00:00Z)", or "unknown".
std::string renewal_text(const DomainRow& d, UnixSeconds now) {
  return d.renewal ? format_relative(*d.renewal, now) + " (" + format_timestamp(*d.renewal) + ")"
                   : std::string("unknown");
}

// Renewal within a week (or past) is red, within 30 days yellow: the bands
// the daemon's severities use.
Colour renewal_colour(const DomainRow& d, UnixSeconds now) {
  if (!d.renewal || !is_problem(d.verdict)) return Colour::none;
  const std::int64_t left = *d.renewal - now;
  if (left <= 7 * k_day) return Colour::red;
  if (left <= 30 * k_day) return Colour::yellow;
  return Colour::none;
}

Cell verdict_cell(std::string_view verdict) {
  return Cell{std::string(verdict_name(verdict)), verdict_colour(verdict)};
}

std::string subject_text(const DomainRow& d) {
  return d.enabled ? d.subject : d.subject + " (disabled)";
}

// "label       value" lines of the summary and the detail.
void field(std::ostream& out, std::string_view label, const std::string& value) {
  std::string line(label);
  line.resize(std::max(k_label_width, label.size() + 1), ' ');
  out << line << value << "\n";
}

nlohmann::json check_detail_json(const CheckDetail& c) {
  nlohmann::json cas = nlohmann::json::array();
  for (const CaResult& r : c.cas) {
    cas.push_back({{"ca", r.ca},
                   {"issuer", r.issuer},
                   {"verdict", r.verdict},
                   {"reason", r.reason},
                   {"outcome", text_json(r.outcome)},
                   {"deciding_record", text_json(r.deciding_record)}});
  }
  nlohmann::json failure = nullptr;
  if (c.failure) {
    failure = {{"kind", c.failure->kind},
               {"name", c.failure->name},
               {"detail", c.failure->detail},
               {"server", c.failure->server}};
  }
  return {{"verdict", c.verdict},
          {"exposure", c.exposure},
          {"reason", c.reason},
          {"cas", cas},
          {"found_at", text_json(c.found_at)},
          {"relevant_owner", text_json(c.relevant_owner)},
          {"nxdomain_tld", text_json(c.nxdomain_tld)},
          {"records", c.records},
          {"cname_chain", c.cname_chain},
          {"failure", failure}};
}

std::string event_reason(const EventRow& e) {
  auto it = e.data.find("reason");
  return it != e.data.end() && it->is_string() ? it->get<std::string>() : std::string();
}

void render_domain_table(std::ostream& out, std::span<const DomainRow> rows, const RenderOptions& o,
                         bool with_checked) {
  std::vector<std::string> headers{"DOMAIN", "VERDICT", "EXPOSURE", "RENEWAL", "CHANGED"};
  if (with_checked) headers.emplace_back("CHECKED");
  headers.emplace_back("REASON");
  Table table(std::move(headers));
  for (const DomainRow& d : rows) {
    std::vector<Cell> row{
        {subject_text(d), d.enabled ? Colour::none : Colour::dim},
        verdict_cell(d.verdict),
        {d.verdict.empty() ? std::string("-") : d.exposure},
        {renewal_text(d, o.now), renewal_colour(d, o.now)},
        {d.verdict.empty() ? std::string("never") : format_when(d.changed_at, o.now)}};
    if (with_checked) row.push_back({format_when(d.last_checked_at, o.now)});
    row.push_back({d.reason});
    table.add(std::move(row));
  }
  table.render(out, o.color);
}

}  // namespace

// ---- Building blocks --------------------------------------------------------

bool use_color(ColorMode mode, bool is_terminal, bool no_color_set) {
  switch (mode) {
    case ColorMode::never:
      return false;
    case ColorMode::always:
      return true;
    case ColorMode::automatic:
      break;
  }
  return is_terminal && !no_color_set;
}

std::string format_age(std::int64_t seconds) {
  if (seconds < 0) seconds = -seconds;
  if (seconds < 60) return std::to_string(seconds) + "s";
  if (seconds < 3600) return std::to_string(seconds / 60) + "m";
  if (seconds < 2 * k_day) return std::to_string(seconds / 3600) + "h";
  return std::to_string(seconds / k_day) + "d";
}

std::string format_relative(UnixSeconds t, UnixSeconds now) {
  if (t == now) return "now";
  return t > now ? "in " + format_age(t - now) : format_age(now - t) + " ago";
}

std::string format_when(UnixSeconds t, UnixSeconds now) {
  if (t == 0) return "never";
  return format_relative(t, now) + " (" + format_timestamp(t) + ")";
}

std::string printable(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  std::size_t i = 0;
  while (i < text.size()) {
    const auto byte = static_cast<unsigned char>(text[i]);
    if (byte < 0x80) {
      if (byte < 0x20 || byte == 0x7f) {
        out += text::hex_byte(byte);
      } else {
        out += static_cast<char>(byte);
      }
      ++i;
      continue;
    }
    char32_t cp = 0;
    const std::size_t n = text::utf8_sequence_at(text, i, cp);
    if (n == 0) {
      out += text::hex_byte(byte);
      ++i;
      continue;
    }
    // C1 controls, line and paragraph separators, and the bidi controls
    // that could reorder what an operator reads.
    const bool control = (cp >= 0x80 && cp <= 0x9f) || cp == 0x2028 || cp == 0x2029 ||
                         (cp >= 0x202a && cp <= 0x202e) || (cp >= 0x2066 && cp <= 0x2069);
    if (control) {
      out += "<" + text::code_point_name(cp) + ">";
    } else {
      out.append(text.substr(i, n));
    }
    i += n;
  }
  return out;
}

std::size_t display_width(std::string_view text) {
  std::size_t n = 0;
  for (char c : text) {
    if ((static_cast<unsigned char>(c) & 0xc0) != 0x80) ++n;  // not a continuation byte
  }
  return n;
}

std::string csv_field(std::string_view text) {
  if (text.find_first_of(",\"\r\n") == std::string_view::npos) return std::string(text);
  std::string out = "\"";
  for (char c : text) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

std::string csv_record(std::span<const std::string> fields) {
  std::string out;
  for (std::size_t i = 0; i < fields.size(); ++i) {
    if (i > 0) out += ',';
    out += csv_field(fields[i]);
  }
  return out + "\r\n";
}

std::string paint(std::string_view text, Colour c, bool on) {
  const char* code = nullptr;
  switch (c) {
    case Colour::none:
      break;
    case Colour::red:
      code = "31";
      break;
    case Colour::yellow:
      code = "33";
      break;
    case Colour::green:
      code = "32";
      break;
    case Colour::dim:
      code = "2";
      break;
    case Colour::bold:
      code = "1";
      break;
  }
  if (!on || code == nullptr || text.empty()) return std::string(text);
  return std::string("\033[") + code + "m" + std::string(text) + "\033[0m";
}

Colour verdict_colour(std::string_view verdict) {
  if (verdict == "denied") return Colour::red;
  if (verdict == "lookup_failed") return Colour::yellow;
  if (verdict == "permitted") return Colour::green;
  return Colour::dim;
}

Table::Table(std::vector<std::string> headers, std::vector<Align> align)
    : m_headers(std::move(headers)), m_align(std::move(align)) {
  m_align.resize(m_headers.size(), Align::left);
}

void Table::add(std::vector<Cell> row) {
  row.resize(m_headers.size());
  for (Cell& c : row) c.text = printable(c.text);
  m_rows.push_back(std::move(row));
}

void Table::render(std::ostream& out, bool color) const {
  std::vector<std::size_t> widths(m_headers.size(), 0);
  for (std::size_t i = 0; i < m_headers.size(); ++i) widths[i] = display_width(m_headers[i]);
  for (const auto& row : m_rows) {
    for (std::size_t i = 0; i < row.size(); ++i) {
      widths[i] = std::max(widths[i], display_width(row[i].text));
    }
  }
  auto line = [&](const std::vector<Cell>& cells) {
    std::string text;
    for (std::size_t i = 0; i < cells.size(); ++i) {
      const bool last = i + 1 == cells.size();
      const std::size_t pad = widths[i] - display_width(cells[i].text);
      const std::string painted = paint(cells[i].text, cells[i].colour, color);
      if (m_align[i] == Align::right) {
        text += std::string(pad, ' ') + painted;
      } else {
        text += painted;
        if (!last) text += std::string(pad, ' ');
      }
      if (!last) text += "  ";
    }
    // An empty last cell would leave the separator behind.
    while (!text.empty() && text.back() == ' ') text.pop_back();
    out << text << "\n";
  };
  std::vector<Cell> header;
  for (const auto& h : m_headers) header.push_back(Cell{h, Colour::bold});
  line(header);
  for (const auto& row : m_rows) line(row);
}

// ---- JSON objects -----------------------------------------------------------

nlohmann::json domain_json(const DomainRow& d, UnixSeconds now) {
  const bool checked = !d.verdict.empty();
  return {{"domain", d.subject},
          {"name", d.name},
          {"wildcard", d.wildcard},
          {"enabled", d.enabled},
          {"ca", d.cas},
          {"verdict", std::string(verdict_name(d.verdict))},
          {"exposure", checked ? nlohmann::json(d.exposure) : nlohmann::json(nullptr)},
          {"relevant_owner", text_json(d.relevant_owner)},
          {"failure_kind", text_json(d.failure_kind)},
          {"reason", checked ? nlohmann::json(d.reason) : nlohmann::json(nullptr)},
          {"renewal_at", time_json(d.renewal)},
          {"days_left",
           d.renewal ? nlohmann::json(days_until(now, *d.renewal)) : nlohmann::json(nullptr)},
          {"not_after", time_json(d.not_after)},
          {"renew_at", time_json(d.renew_at)},
          {"last_checked_at", time_json(d.last_checked_at)},
          {"changed_at", checked ? time_json(d.changed_at) : nlohmann::json(nullptr)},
          {"next_check_at", time_json(d.next_check_at)},
          {"consecutive_failures", d.consecutive_failures}};
}

nlohmann::json target_json(const TargetRow& t) {
  return {{"name", t.name},
          {"verdict", std::string(verdict_name(t.verdict))},
          {"exposure", t.verdict.empty() ? nlohmann::json(nullptr) : nlohmann::json(t.exposure)},
          {"relevant_owner", text_json(t.relevant_owner)},
          {"failure_kind", text_json(t.failure_kind)},
          {"reason", t.reason},
          {"last_checked_at", time_json(t.last_checked_at)},
          {"changed_at", time_json(t.changed_at)},
          {"consecutive_failures", t.consecutive_failures},
          {"pinned_domains", t.pinned_domains}};
}

nlohmann::json summary_json(const Summary& s, UnixSeconds now) {
  const DomainCounts& c = s.domains;
  nlohmann::json soonest = nlohmann::json::array();
  for (const DomainRow& d : s.at_risk) soonest.push_back(domain_json(d, now));
  nlohmann::json targets = nlohmann::json::array();
  for (const TargetRow& t : s.targets) targets.push_back(target_json(t));
  return {{"database", s.database},
          {"schema", s.schema},
          {"generated_at", format_timestamp(now)},
          {"domains",
           {{"total", c.total},
            {"enabled", c.enabled},
            {"due", c.due},
            {"permitted", c.permitted},
            {"denied", c.denied},
            {"lookup_failed", c.lookup_failed},
            {"unchecked", c.unchecked},
            {"pinned", c.pinned},
            {"exposed", c.exposed}}},
          {"at_risk",
           {{"total", s.at_risk_total},
            {"unknown_renewal", s.at_risk_unknown_renewal},
            {"soonest", soonest}}},
          {"provider_targets", targets},
          {"outbox", {{"pending", s.outbox.pending}, {"dead", s.outbox.dead}}},
          {"daemon",
           {{"alive", daemon_alive(s.daemon, now)},
            {"pid", s.daemon.pid ? nlohmann::json(*s.daemon.pid) : nlohmann::json(nullptr)},
            {"heartbeat_at", time_json(s.daemon.heartbeat_at)},
            {"last_sweep_at", time_json(s.daemon.last_sweep_at)},
            {"status_line", s.daemon.status_line}}}};
}

nlohmann::json event_json(const EventRow& e) {
  const std::string reason = event_reason(e);
  return {{"id", e.id},
          {"at", format_timestamp(e.at)},
          {"subject", e.subject},
          {"kind", e.kind},
          {"severity", e.severity},
          {"reason", reason.empty() ? nlohmann::json(nullptr) : nlohmann::json(reason)},
          {"data", e.data}};
}

nlohmann::json outbox_json(const OutboxRow& o) {
  return {{"id", o.id},
          {"event_id", o.event_id},
          {"event_kind", o.event_kind},
          {"subject", o.subject},
          {"severity", o.severity},
          {"endpoint", o.endpoint},
          {"state", o.state},
          {"attempts", o.attempts},
          {"next_attempt_at", time_json(o.next_attempt_at)},
          {"last_error", text_json(o.last_error)},
          {"created_at", time_json(o.created_at)},
          {"delivered_at", time_json(o.delivered_at)}};
}

nlohmann::json detail_json(const DomainDetail& d, UnixSeconds now) {
  nlohmann::json history = nlohmann::json::array();
  for (const HistoryRow& h : d.history) {
    history.push_back({{"first_checked_at", time_json(h.first_checked_at)},
                       {"checked_at", time_json(h.checked_at)},
                       {"checks", h.checks},
                       {"verdict", h.verdict},
                       {"exposure", h.exposure},
                       {"failure_kind", text_json(h.failure_kind)},
                       {"reason", h.reason}});
  }
  nlohmann::json events = nlohmann::json::array();
  for (const EventRow& e : d.events) events.push_back(event_json(e));
  return {{"subject", d.subject},
          {"domain", d.domain ? domain_json(*d.domain, now) : nlohmann::json(nullptr)},
          {"last_check", d.last_check ? check_detail_json(*d.last_check) : nlohmann::json(nullptr)},
          {"history", history},
          {"events", events}};
}

// ---- Whole outputs ------------------------------------------------------------

void render_summary(std::ostream& out, const Summary& s, const RenderOptions& o) {
  const DomainCounts& c = s.domains;
  const bool alive = daemon_alive(s.daemon, o.now);
  if (o.format == Format::json) {
    out << dump(summary_json(s, o.now)) << "\n";
    return;
  }
  if (o.format == Format::csv) {
    std::size_t broken = 0;
    for (const TargetRow& t : s.targets) {
      if (is_problem(t.verdict)) ++broken;
    }
    const DomainRow* soonest = s.at_risk.empty() ? nullptr : &s.at_risk.front();
    const std::vector<std::pair<std::string, std::string>> metrics = {
        {"database", s.database},
        {"schema", std::to_string(s.schema)},
        {"generated_at", format_timestamp(o.now)},
        {"domains_total", std::to_string(c.total)},
        {"domains_enabled", std::to_string(c.enabled)},
        {"domains_due", std::to_string(c.due)},
        {"permitted", std::to_string(c.permitted)},
        {"denied", std::to_string(c.denied)},
        {"lookup_failed", std::to_string(c.lookup_failed)},
        {"unchecked", std::to_string(c.unchecked)},
        {"pinned", std::to_string(c.pinned)},
        {"exposed", std::to_string(c.exposed)},
        {"at_risk", std::to_string(s.at_risk_total)},
        {"at_risk_unknown_renewal", std::to_string(s.at_risk_unknown_renewal)},
        {"at_risk_soonest", soonest ? soonest->subject : std::string()},
        {"at_risk_soonest_renewal_at", soonest ? time_csv(soonest->renewal) : std::string()},
        {"provider_targets", std::to_string(s.targets.size())},
        {"provider_targets_broken", std::to_string(broken)},
        {"outbox_pending", std::to_string(s.outbox.pending)},
        {"outbox_dead", std::to_string(s.outbox.dead)},
        {"daemon_alive", alive ? "true" : "false"},
        {"daemon_pid", s.daemon.pid ? std::to_string(*s.daemon.pid) : std::string()},
        {"heartbeat_at", time_csv(s.daemon.heartbeat_at)},
        {"last_sweep_at", time_csv(s.daemon.last_sweep_at)},
    };
    out << csv_record(std::vector<std::string>{"metric", "value"});
    for (const auto& [name, value] : metrics) {
      out << csv_record(std::vector<std::string>{name, value});
    }
    return;
  }

  const bool on = o.color;
  field(out, "Database", printable(s.database) + " (schema " + std::to_string(s.schema) + ")");
  if (s.daemon.heartbeat_at == 0) {
    field(out, "Daemon", paint("has never run on this database", Colour::yellow, on));
  } else {
    std::string pid = s.daemon.pid ? ", pid " + std::to_string(*s.daemon.pid) : std::string();
    field(out, "Daemon",
          alive ? paint("alive", Colour::green, on) + ": heartbeat " +
                      format_when(s.daemon.heartbeat_at, o.now) + pid
                : paint("not running?", Colour::red, on) + " last heartbeat " +
                      format_when(s.daemon.heartbeat_at, o.now) + pid);
    if (!s.daemon.status_line.empty()) {
      field(out, "", paint(printable(s.daemon.status_line), Colour::dim, on));
    }
  }
  field(out, "Last sweep", format_when(s.daemon.last_sweep_at, o.now));
  field(out, "Domains",
        std::to_string(c.enabled) + " watched, " + std::to_string(c.total - c.enabled) +
            " disabled, " + std::to_string(c.due) + " due now");
  auto count = [&](const char* label, std::size_t n, Colour colour) {
    return paint(std::string(label) + " " + std::to_string(n), n > 0 ? colour : Colour::none, on);
  };
  field(out, "",
        count("permitted", c.permitted, Colour::green) + ", " +
            count("denied", c.denied, Colour::red) + ", " +
            count("lookup_failed", c.lookup_failed, Colour::yellow) + ", " +
            count("unchecked", c.unchecked, Colour::dim));
  field(out, "", "pinned " + std::to_string(c.pinned) + ", exposed " + std::to_string(c.exposed));
  field(out, "Outbox",
        std::to_string(s.outbox.pending) + " pending, " +
            paint(std::to_string(s.outbox.dead) + " dead",
                  s.outbox.dead > 0 ? Colour::red : Colour::none, on));

  out << "\n";
  if (s.at_risk_total == 0) {
    out << "At risk: none (no watched domain is denied or failing)\n";
  } else {
    out << "At risk: " << s.at_risk_total << " denied or failing";
    if (s.at_risk_unknown_renewal > 0) {
      out << " (" << s.at_risk_unknown_renewal << " with no renewal date)";
    }
    out << ", soonest renewal first\n";
    render_domain_table(out, s.at_risk, o, false);
    if (s.at_risk.size() < s.at_risk_total) {
      out << "... and " << s.at_risk_total - s.at_risk.size()
          << " more: caad-status list --failing --sort renewal\n";
    }
  }

  out << "\n";
  if (s.targets.empty()) {
    out << "Provider targets: none checked yet\n";
    return;
  }
  out << "Provider targets\n";
  Table table({"TARGET", "VERDICT", "PINNED", "CHECKED", "REASON"},
              {Align::left, Align::left, Align::right, Align::left, Align::left});
  for (const TargetRow& t : s.targets) {
    table.add({{t.name},
               verdict_cell(t.verdict),
               {std::to_string(t.pinned_domains)},
               {format_when(t.last_checked_at, o.now)},
               {t.reason}});
  }
  table.render(out, on);
}

void render_domains(std::ostream& out, std::span<const DomainRow> rows, const RenderOptions& o) {
  if (o.format == Format::json) {
    for (const DomainRow& d : rows) out << dump(domain_json(d, o.now)) << "\n";
    return;
  }
  if (o.format == Format::csv) {
    out << csv_record(std::vector<std::string>{"domain", "wildcard", "enabled", "verdict",
                                               "exposure", "renewal_at", "days_left", "changed_at",
                                               "last_checked_at", "next_check_at", "relevant_owner",
                                               "failure_kind", "ca", "reason"});
    for (const DomainRow& d : rows) {
      const bool checked = !d.verdict.empty();
      out << csv_record(std::vector<std::string>{
          d.subject, d.wildcard ? "true" : "false", d.enabled ? "true" : "false",
          std::string(verdict_name(d.verdict)), checked ? d.exposure : std::string(),
          time_csv(d.renewal),
          d.renewal ? std::to_string(days_until(o.now, *d.renewal)) : std::string(),
          checked ? time_csv(d.changed_at) : std::string(), time_csv(d.last_checked_at),
          time_csv(d.next_check_at), d.relevant_owner.value_or(""), d.failure_kind.value_or(""),
          join(d.cas, ";"), d.reason});
    }
    return;
  }
  if (rows.empty()) {
    out << "no matching domains\n";
    return;
  }
  render_domain_table(out, rows, o, true);
}

void render_detail(std::ostream& out, const DomainDetail& d, const RenderOptions& o) {
  if (o.format != Format::table) {
    out << dump(detail_json(d, o.now)) << "\n";
    return;
  }
  const bool on = o.color;
  out << paint(printable(d.subject), Colour::bold, on) << "\n";
  if (!d.domain) {
    field(out, "status", "not in the database (removed); its checks and events are kept");
  } else {
    const DomainRow& r = *d.domain;
    if (!r.enabled) field(out, "status", paint("disabled: not checked", Colour::yellow, on));
    std::string verdict =
        paint(std::string(verdict_name(r.verdict)), verdict_colour(r.verdict), on);
    if (!r.verdict.empty()) {
      verdict += ", " + r.exposure + "; changed " + format_when(r.changed_at, o.now);
    }
    field(out, "verdict", verdict);
    std::string checked = format_when(r.last_checked_at, o.now);
    if (r.next_check_at == 0) {
      checked += "; next check at once";
    } else if (r.next_check_at <= o.now) {
      checked += "; due since " + format_when(r.next_check_at, o.now);
    } else {
      checked += "; next check " + format_when(r.next_check_at, o.now);
    }
    if (r.consecutive_failures > 0) {
      checked += "; " + std::to_string(r.consecutive_failures) +
                 (r.consecutive_failures == 1 ? " failure" : " failures in a row");
    }
    field(out, "checked", checked);
    std::string renewal = paint(renewal_text(r, o.now), renewal_colour(r, o.now), on);
    if (r.renew_at) {
      renewal += ", from renew_at";
    } else if (r.not_after) {
      renewal += ", assumed from not_after " + format_timestamp(*r.not_after);
    }
    field(out, "renewal", renewal);
    field(out, "CAs",
          r.cas.empty() ? std::string("every configured CA")
                        : printable(join(r.cas, ", ")) + " (primary first)");
  }

  if (d.last_check) {
    const CheckDetail& c = *d.last_check;
    if (!d.domain) field(out, "last verdict", std::string(verdict_name(c.verdict)));
    if (c.failure) {
      const FailureInfo& f = *c.failure;
      field(out, "failure",
            paint(printable(f.kind), Colour::yellow, on) + " for " + printable(f.name) +
                (f.server.empty() ? std::string() : " from " + printable(f.server)) + ": " +
                printable(f.detail));
    }
    std::string where = "records";
    if (c.failure) {
      field(out, where, "unknown: the lookup failed");
    } else if (c.records.empty()) {
      field(out, where, "none on the path (no CAA record restricts issuance)");
    } else {
      std::string at = "at " + printable(c.found_at.value_or("?"));
      if (c.relevant_owner && c.relevant_owner != c.found_at) {
        at += ", owned by " + printable(*c.relevant_owner);
      }
      field(out, where, at);
      for (const auto& rec : c.records) field(out, "", "  " + printable(rec));
    }
    if (!c.cname_chain.empty()) {
      field(out, "CNAME chain",
            printable(d.subject) + " -> " + printable(join(c.cname_chain, " -> ")));
    }
    if (c.nxdomain_tld) field(out, "NXDOMAIN TLD", printable(*c.nxdomain_tld));
    out << "\nVerdict per CA\n";
    Table cas({"CA", "ISSUER", "VERDICT", "DECIDING RECORD", "REASON"});
    for (const CaResult& ca : c.cas) {
      cas.add({{ca.ca},
               {ca.issuer},
               verdict_cell(ca.verdict),
               {ca.deciding_record.value_or("-")},
               {ca.reason}});
    }
    cas.render(out, on);
  } else if (d.domain) {
    field(out, "records", "not checked yet");
  }

  out << "\nHistory (runs of checks that found the same result)\n";
  if (d.history.empty()) {
    out << "none recorded\n";
  } else {
    Table history({"FIRST", "LAST", "CHECKS", "VERDICT", "EXPOSURE", "FAILURE", "REASON"},
                  {Align::left, Align::left, Align::right, Align::left, Align::left, Align::left,
                   Align::left});
    for (const HistoryRow& h : d.history) {
      history.add({{format_when(h.first_checked_at, o.now)},
                   {format_when(h.checked_at, o.now)},
                   {std::to_string(h.checks)},
                   verdict_cell(h.verdict),
                   {h.exposure},
                   {h.failure_kind.value_or("-")},
                   {h.reason}});
    }
    history.render(out, on);
  }
  out << "\nEvents\n";
  if (d.events.empty()) {
    out << "none recorded\n";
  } else {
    Table events({"AT", "SEVERITY", "KIND", "REASON"});
    for (const EventRow& e : d.events) {
      events.add({{format_when(e.at, o.now)},
                  {e.severity, severity_colour(e.severity)},
                  {e.kind},
                  {event_reason(e)}});
    }
    events.render(out, on);
  }
}

void render_events(std::ostream& out, std::span<const EventRow> rows, const RenderOptions& o) {
  if (o.format == Format::json) {
    for (const EventRow& e : rows) out << dump(event_json(e)) << "\n";
    return;
  }
  if (o.format == Format::csv) {
    out << csv_record(
        std::vector<std::string>{"id", "at", "subject", "kind", "severity", "reason"});
    for (const EventRow& e : rows) {
      out << csv_record(std::vector<std::string>{std::to_string(e.id), format_timestamp(e.at),
                                                 e.subject, e.kind, e.severity, event_reason(e)});
    }
    return;
  }
  if (rows.empty()) {
    out << "no events\n";
    return;
  }
  Table table({"AT", "SEVERITY", "KIND", "SUBJECT", "REASON"});
  for (const EventRow& e : rows) {
    table.add({{format_when(e.at, o.now)},
               {e.severity, severity_colour(e.severity)},
               {e.kind},
               {e.subject},
               {event_reason(e)}});
  }
  table.render(out, o.color);
}

void render_outbox(std::ostream& out, std::span<const OutboxRow> rows, const RenderOptions& o) {
  if (o.format == Format::json) {
    for (const OutboxRow& r : rows) out << dump(outbox_json(r)) << "\n";
    return;
  }
  if (o.format == Format::csv) {
    out << csv_record(std::vector<std::string>{"id", "event_id", "event_kind", "subject",
                                               "endpoint", "state", "attempts", "next_attempt_at",
                                               "created_at", "delivered_at", "last_error"});
    for (const OutboxRow& r : rows) {
      out << csv_record(std::vector<std::string>{
          std::to_string(r.id), std::to_string(r.event_id), r.event_kind, r.subject, r.endpoint,
          r.state, std::to_string(r.attempts), time_csv(r.next_attempt_at), time_csv(r.created_at),
          time_csv(r.delivered_at), r.last_error.value_or("")});
    }
    return;
  }
  if (rows.empty()) {
    out << "no deliveries\n";
    return;
  }
  Table table({"ID", "STATE", "ENDPOINT", "EVENT", "SUBJECT", "ATTEMPTS", "WHEN", "LAST ERROR"},
              {Align::right, Align::left, Align::left, Align::left, Align::left, Align::right,
               Align::left, Align::left});
  for (const OutboxRow& r : rows) {
    std::string when;
    Colour state_colour = Colour::none;
    if (r.state == "pending") {
      when = "next attempt " + format_when(r.next_attempt_at, o.now);
      state_colour = Colour::yellow;
    } else if (r.state == "delivered") {
      when = "delivered " + format_when(r.delivered_at.value_or(0), o.now);
      state_colour = Colour::green;
    } else {
      when = "created " + format_when(r.created_at, o.now);
      state_colour = Colour::red;
    }
    table.add({{std::to_string(r.id)},
               {r.state, state_colour},
               {r.endpoint},
               {r.event_kind},
               {r.subject},
               {std::to_string(r.attempts)},
               {when},
               {r.last_error.value_or("-")}});
  }
  table.render(out, o.color);
}

}  // namespace caad::status
