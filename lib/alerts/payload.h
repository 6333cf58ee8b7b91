// Alert messages: what an event says to a person (describe), and the JSON
// body each webhook format wants (render, render_digest). Pure: the event
// data that lib/events stored is all a message needs, so a row can be
// rendered long after the domain's state has moved on.
//
// Every single-event message says the domain, the verdict per CA, the record
// that blocks and the name it lives at, the CNAME chain, the failure when a
// lookup failed, the renewal date and days left, and the remedy in one line;
// the severity is in the title (and the colour, where the format has one);
// recoveries say that they are recoveries. A digest stands for many events
// at once: counts by kind and severity and the worst few examples.
#pragma once

#include <cstddef>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "lib/store/types.h"
#include "lib/util/time.h"

namespace caad::alerts {

// slack: incoming webhook, "text" plus Block Kit "blocks".
// mattermost: Slack-compatible "text" plus "attachments" (with colour).
// discord: "content" plus one embed, within Discord's size limits.
// teams: a Workflows webhook message carrying an Adaptive Card 1.4.
// generic: {type, timestamp, data} for programs, signed (Standard Webhooks).
enum class Format { slack, mattermost, discord, teams, generic };
std::optional<Format> parse_format(std::string_view text);
const char* to_string(Format f);

// One labelled line of an alert. `code`: DNS text (names, records) that
// chat formats show in monospace so that "*" and "_" stay literal.
struct Fact {
  std::string label;
  std::string value;
  bool code = false;
};

// What an event says, before it is put into a format. Plain text.
struct AlertText {
  std::string title;    // severity first: "CRITICAL: CAA now denies renewal of shop.example"
  std::string summary;  // the event's reason, one sentence
  std::vector<Fact> facts;
  std::string remedy;   // one line
  store::Severity severity = store::Severity::info;
  bool resolved = false;  // a recovery: announced as RESOLVED, in green
};
AlertText describe(const store::Event& e);

// The JSON body to POST for one outbox row's event.
std::string render(Format f, const store::OutboxRow& row);

// The JSON body of one summary message standing for `rows` (at least one).
// `endpoint` names the webhook in the text; `now` stamps the generic form.
std::string render_digest(Format f, std::span<const store::OutboxRow> rows,
                          std::string_view endpoint, UnixSeconds now);

// The rows a digest shows as examples: the most severe first, then the
// soonest renewal (unknown renewal last), then the oldest; at most `limit`.
std::vector<const store::OutboxRow*> worst(std::span<const store::OutboxRow> rows,
                                           std::size_t limit);

// A regression as a sample for `caad webhook test`, stamped `now`.
store::OutboxRow sample_row(UnixSeconds now);

// `text` cut to at most `max_units` UTF-16 code units (how Discord and
// Slack count characters), ending in "…" when cut; invalid UTF-8 becomes
// U+FFFD first, and a cut never splits a character.
std::string truncate_text(std::string_view text, std::size_t max_units);
// The length of UTF-8 `text` in UTF-16 code units.
std::size_t text_units(std::string_view text);

// A URL for logs: scheme and host only ("https://hooks.slack.com/…"),
// because the path of a chat webhook URL is its secret.
std::string redact_url(std::string_view url);

}  // namespace caad::alerts
