// caad-status's output: aligned tables with relative and absolute times for
// people (colour only when asked for), JSON Lines and CSV for scripts. Pure
// functions of the values in lib/status/model.h and an injected "now", so
// every line is tested without a database or a terminal.
//
// The JSON and CSV field names are a stable interface, documented in
// man/caad-status.1: fields may be added, never renamed or removed.
#pragma once

#include <cstddef>
#include <nlohmann/json.hpp>
#include <ostream>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "lib/status/model.h"

namespace caad::status {

enum class Format { table, json, csv };
enum class ColorMode { never, automatic, always };

// Whether to colour: `always` does, `never` does not; `automatic` only on a
// terminal and only when NO_COLOR is not set (to any value, even empty).
bool use_color(ColorMode mode, bool is_terminal, bool no_color_set);

struct RenderOptions {
  Format format = Format::table;
  bool color = false;
  UnixSeconds now = 0;
};

// ---- Building blocks --------------------------------------------------------

// "45s", "12m", "5h", "12d": the largest unit that fits, rounded down; hours
// up to two days so that "in 30h" is not flattened to "in 1d".
std::string format_age(std::int64_t seconds);
// "3h ago", "in 12d", "now".
std::string format_relative(UnixSeconds t, UnixSeconds now);
// "3h ago (2026-05-28T07:00:00Z)"; "never" for 0.
std::string format_when(UnixSeconds t, UnixSeconds now);

// Text from the database (DNS records, HTTP errors, reasons) made safe for a
// terminal and a table cell: control characters (C0, DEL, C1) and invalid
// UTF-8 become "\xNN", so no escape sequence or line break gets through.
std::string printable(std::string_view text);
// Columns a string takes on a terminal: its code points (caad's text is
// A-labels and Latin script; wide characters are not measured).
std::size_t display_width(std::string_view text);

// One RFC 4180 field: quoted when it holds a comma, a double quote, CR or
// LF, with inner quotes doubled.
std::string csv_field(std::string_view text);
// A record: fields joined by commas, ended by CRLF.
std::string csv_record(std::span<const std::string> fields);

enum class Colour { none, red, yellow, green, dim, bold };
// `text` wrapped in the ANSI sequence for `c` when `on`.
std::string paint(std::string_view text, Colour c, bool on);
// The colour of a verdict: denied red, lookup_failed yellow, permitted green,
// unchecked dim.
Colour verdict_colour(std::string_view verdict);

enum class Align { left, right };
struct Cell {
  std::string text;
  Colour colour = Colour::none;
};

// Columns padded to their widest cell, two spaces apart; the last column is
// not padded, so lines carry no trailing blanks. Cells are made printable.
class Table {
 public:
  explicit Table(std::vector<std::string> headers, std::vector<Align> align = {});
  void add(std::vector<Cell> row);
  bool empty() const { return m_rows.empty(); }
  void render(std::ostream& out, bool color) const;

 private:
  std::vector<std::string> m_headers;
  std::vector<Align> m_align;
  std::vector<std::vector<Cell>> m_rows;
};

// ---- JSON objects (one per line) -------------------------------------------

nlohmann::json domain_json(const DomainRow& d, UnixSeconds now);
nlohmann::json target_json(const TargetRow& t);
nlohmann::json summary_json(const Summary& s, UnixSeconds now);
nlohmann::json event_json(const EventRow& e);
nlohmann::json outbox_json(const OutboxRow& o);
nlohmann::json detail_json(const DomainDetail& d, UnixSeconds now);

// ---- Whole outputs ---------------------------------------------------------

// The summary screen. CSV: "metric,value" records.
void render_summary(std::ostream& out, const Summary& s, const RenderOptions& o);
// `caad-status list`.
void render_domains(std::ostream& out, std::span<const DomainRow> rows, const RenderOptions& o);
// `caad-status show` (table or JSON; there is no CSV form).
void render_detail(std::ostream& out, const DomainDetail& d, const RenderOptions& o);
// `caad-status events`.
void render_events(std::ostream& out, std::span<const EventRow> rows, const RenderOptions& o);
// `caad-status outbox`.
void render_outbox(std::ostream& out, std::span<const OutboxRow> rows, const RenderOptions& o);

}  // namespace caad::status
