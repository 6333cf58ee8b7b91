// Tests for lib/alerts/payload: what every alert says (domain, verdict per
// CA, blocking record and where it lives, CNAME chain, failure, renewal,
// remedy), the shape each format's receiver expects, Discord's limits,
// escaping of untrusted DNS text, digests, and the text helpers.
#include "lib/alerts/payload.h"

#include <doctest/doctest.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace alerts = caad::alerts;
using alerts::Format;
using caad::store::Event;
using caad::store::OutboxRow;
using caad::store::Severity;
using nlohmann::json;

namespace {

constexpr caad::UnixSeconds k_now = 1'780'000'000;  // 2026-05-28T20:26:40Z

// An event's data the way lib/events writes it for a domain.
json domain_data(const std::string& domain, const std::string& verdict, std::optional<std::int64_t> days_left) {
  json d = {
      {"domain", domain},
      {"wildcard", false},
      {"verdict", verdict},
      {"previous_verdict", "permitted"},
      {"exposure", "exposed"},
      {"cas",
       json::array({{{"ca", "letsencrypt"},
                     {"issuer", "letsencrypt.org"},
                     {"verdict", verdict},
                     {"reason", "the reason"},
                     {"deciding_record", verdict == "denied" ? json("0 issue \"digicert.com\"") : json(nullptr)}},
                    {{"ca", "sectigo"},
                     {"issuer", "sectigo.com"},
                     {"verdict", "permitted"},
                     {"reason", "ok"},
                     {"deciding_record", nullptr}}})},
      {"found_at", "customer.example"},
      {"relevant_owner", "customer.example"},
      {"records", json::array({"0 issue \"digicert.com\"", "0 issue \"sectigo.com\""})},
      {"cname_chain", json::array({"t.provider.example"})},
      {"failure", nullptr},
      {"reason", domain + ": the CAA record 0 issue \"digicert.com\" at customer.example does not allow letsencrypt.org"},
      {"renewal_at", days_left ? json(caad::format_timestamp(k_now + *days_left * 86400)) : json(nullptr)},
      {"days_left", days_left ? json(*days_left) : json(nullptr)},
      {"remedy", "Publish a CAA record allowing letsencrypt.org at your provider target, or ask the customer to add "
                 "`0 issue \"letsencrypt.org\"` at customer.example"}};
  return d;
}

OutboxRow row(std::int64_t id, const std::string& kind, Severity severity, const std::string& subject, json data) {
  OutboxRow r;
  r.id = id;
  r.event_id = id + 1000;
  r.endpoint = "hook";
  r.created_at = k_now;
  r.next_attempt_at = k_now;
  r.event = Event{kind, severity, subject, k_now, std::move(data)};
  return r;
}

OutboxRow regression(std::int64_t id = 7, const std::string& domain = "shop.customer.example",
                     Severity severity = Severity::critical, std::optional<std::int64_t> days = 12) {
  return row(id, "regression", severity, domain, domain_data(domain, "denied", days));
}

json parsed(Format f, const OutboxRow& r) {
  const std::string body = alerts::render(f, r);
  json j = json::parse(body, nullptr, false);
  REQUIRE_FALSE(j.is_discarded());
  return j;
}

bool contains(const std::string& text, std::string_view part) {
  return text.find(part) != std::string::npos;
}

// Every string anywhere in a JSON value, joined: "does the message say X".
std::string all_text(const json& j) {
  if (j.is_string()) return j.get<std::string>() + "\n";
  std::string out;
  if (j.is_structured()) {
    for (const auto& e : j) out += all_text(e);
  }
  return out;
}

// Discord's limits, checked on a rendered body.
void check_discord_limits(const json& body) {
  CHECK(alerts::text_units(body.value("content", "")) <= 2000);
  REQUIRE(body.contains("embeds"));
  CHECK(body["embeds"].size() <= 10);
  std::size_t total = 0;
  for (const json& e : body["embeds"]) {
    const std::size_t title = alerts::text_units(e.value("title", ""));
    const std::size_t description = alerts::text_units(e.value("description", ""));
    CHECK(title <= 256);
    CHECK(description <= 4096);
    total += title + description;
    if (e.contains("footer")) {
      CHECK(alerts::text_units(e["footer"].value("text", "")) <= 2048);
      total += alerts::text_units(e["footer"].value("text", ""));
    }
    if (e.contains("fields")) {
      CHECK(e["fields"].size() <= 25);
      for (const json& f : e["fields"]) {
        const std::size_t name = alerts::text_units(f.value("name", ""));
        const std::size_t value = alerts::text_units(f.value("value", ""));
        CHECK(name >= 1);
        CHECK(name <= 256);
        CHECK(value >= 1);
        CHECK(value <= 1024);
        total += name + value;
      }
    }
  }
  CHECK(total <= 6000);
}

}  // namespace

TEST_CASE("describe: an alert says domain, verdicts, blocking record and owner, chain, renewal, remedy") {
  const alerts::AlertText t = alerts::describe(regression().event);
  CHECK(t.title == "CRITICAL: CAA now denies renewal of shop.customer.example");
  CHECK(contains(t.summary, "does not allow letsencrypt.org"));
  CHECK(contains(t.remedy, "Publish a CAA record allowing letsencrypt.org"));
  CHECK_FALSE(t.resolved);
  auto fact = [&](const std::string& label) -> std::string {
    for (const alerts::Fact& f : t.facts) {
      if (f.label == label) return f.value;
    }
    FAIL_CHECK("no fact " << label);
    return {};
  };
  CHECK(fact("Verdict per CA") == "letsencrypt.org (letsencrypt): denied\nsectigo.com (sectigo): permitted");
  CHECK(fact("Change") == "permitted → denied");
  CHECK(fact("Blocking record") == "0 issue \"digicert.com\"");
  CHECK(fact("Record lives at") == "customer.example");
  CHECK(fact("CAA records at customer.example") == "0 issue \"digicert.com\"\n0 issue \"sectigo.com\"");
  CHECK(fact("CNAME chain") == "shop.customer.example → t.provider.example");
  CHECK(fact("Exposure") == "exposed: the customer's own CAA decides");
  CHECK(fact("Renewal") == "2026-06-09T20:26:40Z (12 days left)");
}

TEST_CASE("describe: titles per kind, severity first, recoveries resolved") {
  json failure = domain_data("x.example", "lookup_failed", -3);
  failure["failure"] = {{"kind", "servfail"}, {"name", "x.example"}, {"detail", "SERVFAIL twice"}, {"server", "127.0.0.1:53"}};
  failure["records"] = json::array();
  failure["cname_chain"] = json::array();
  const alerts::AlertText f = alerts::describe(row(1, "lookup_failure", Severity::warning, "x.example", failure).event);
  CHECK(f.title == "WARNING: CAA lookup failed for x.example (servfail)");
  bool saw_failure = false;
  for (const alerts::Fact& fact : f.facts) {
    if (fact.label == "Lookup failure") {
      saw_failure = true;
      CHECK(fact.value == "servfail for x.example from 127.0.0.1:53: SERVFAIL twice");
    }
    if (fact.label == "CNAME chain") CHECK(fact.value == "none (x.example has no alias)");
    if (fact.label == "Renewal") CHECK(contains(fact.value, "overdue by 3 days"));
    CHECK_FALSE(contains(fact.label, "CAA records"));
  }
  CHECK(saw_failure);

  CHECK(alerts::describe(row(2, "renewal_at_risk", Severity::critical, "y.example", domain_data("y.example", "denied", 1)).event)
            .title == "CRITICAL: renewal of y.example at risk (1 day left)");
  const alerts::AlertText rec =
      alerts::describe(row(3, "recovery", Severity::info, "y.example", domain_data("y.example", "permitted", 20)).event);
  CHECK(rec.title == "RESOLVED: CAA permits renewal of y.example again");
  CHECK(rec.resolved);

  json target = {{"target", "t.provider.example"}, {"pinned_domains", 5000}, {"verdict", "denied"},
                 {"previous_verdict", "permitted"}, {"cas", json::array()}, {"relevant_owner", "t.provider.example"},
                 {"records", json::array({"0 issue \"digicert.com\""})}, {"reason", "r"}, {"failure", nullptr},
                 {"remedy", "Fix the CAA record at the provider target t.provider.example"}};
  const alerts::AlertText broken =
      alerts::describe(row(4, "provider_target_broken", Severity::critical, "t.provider.example", target).event);
  CHECK(broken.title == "CRITICAL: provider target t.provider.example no longer permits issuance (5000 pinned domains)");
  CHECK(broken.facts.front().label == "Pinned domains");
  CHECK(alerts::describe(row(5, "provider_target_recovered", Severity::info, "t.provider.example", target).event).title ==
        "RESOLVED: provider target t.provider.example permits issuance again");
  CHECK(alerts::describe(row(6, "something_new", Severity::warning, "z.example", json::object()).event).title ==
        "WARNING: something_new for z.example");
}

TEST_CASE("slack: text plus blocks, mrkdwn escaped, DNS text as code") {
  OutboxRow r = regression();
  r.event.data["records"].push_back("0 iodef \"<!channel> & `x`\"");
  const json j = parsed(Format::slack, r);
  REQUIRE(j["text"].is_string());
  CHECK(j["text"] == "CRITICAL: CAA now denies renewal of shop.customer.example");
  REQUIRE(j["blocks"].is_array());
  CHECK(j["blocks"][0]["type"] == "header");
  CHECK(j["blocks"][0]["text"]["type"] == "plain_text");
  CHECK(contains(j["blocks"][0]["text"]["text"], "CRITICAL"));
  const std::string text = all_text(j["blocks"]);
  CHECK(contains(text, "*Blocking record*\n`0 issue \"digicert.com\"`"));
  CHECK(contains(text, "*Record lives at*\n`customer.example`"));
  CHECK(contains(text, "`shop.customer.example → t.provider.example`"));
  CHECK(contains(text, "2026-06-09T20:26:40Z (12 days left)"));
  CHECK(contains(text, "*Remedy:* Publish a CAA record"));
  // No ping, no broken code span.
  CHECK_FALSE(contains(text, "<!channel>"));
  CHECK(contains(text, "`0 iodef \"&lt;!channel&gt; &amp; 'x'\"`"));
  for (const json& b : j["blocks"]) {
    if (b.contains("fields")) {
      CHECK(b["fields"].size() <= 10);
      for (const json& f : b["fields"]) CHECK(alerts::text_units(f["text"].get<std::string>()) <= 2000);
    }
  }
  CHECK(j["blocks"].back()["type"] == "context");
  CHECK(contains(all_text(j["blocks"].back()), "event 1007"));
}

TEST_CASE("mattermost: Slack-compatible text plus a coloured attachment") {
  const json j = parsed(Format::mattermost, regression());
  CHECK(j["text"].is_string());
  REQUIRE(j["attachments"].size() == 1);
  const json& a = j["attachments"][0];
  CHECK(a["color"] == "#E01E5A");
  CHECK(a["title"] == "CRITICAL: CAA now denies renewal of shop.customer.example");
  CHECK(contains(a["text"], "**Remedy:**"));
  bool saw = false;
  for (const json& f : a["fields"]) {
    if (f["title"] == "Blocking record") {
      saw = true;
      CHECK(f["value"] == "`0 issue \"digicert.com\"`");
    }
  }
  CHECK(saw);
  CHECK_FALSE(j.contains("blocks"));

  OutboxRow rec = row(3, "recovery", Severity::info, "y.example", domain_data("y.example", "permitted", 20));
  CHECK(parsed(Format::mattermost, rec)["attachments"][0]["color"] == "#2EB67D");
  // A mention in untrusted text pings nobody.
  OutboxRow at = regression();
  at.event.data["reason"] = "mail @channel and @all";
  CHECK_FALSE(contains(parsed(Format::mattermost, at)["attachments"][0]["text"], "@channel"));
}

TEST_CASE("discord: content plus one embed, no mentions, severity colour") {
  const json j = parsed(Format::discord, regression());
  CHECK(contains(j["content"], "CRITICAL"));
  CHECK(j["allowed_mentions"]["parse"] == json::array());
  REQUIRE(j["embeds"].size() == 1);
  const json& e = j["embeds"][0];
  CHECK(e["title"] == "CRITICAL: CAA now denies renewal of shop.customer.example");
  CHECK(e["color"] == 0xE01E5A);
  CHECK(e["timestamp"] == "2026-05-28T20:26:40Z");
  CHECK(contains(e["description"], "**Remedy:**"));
  // caad's own code spans in the remedy stay code spans.
  CHECK(contains(e["description"], "add `0 issue \"letsencrypt.org\"` at customer.example"));
  CHECK(contains(all_text(e["fields"]), "`0 issue \"digicert.com\"`"));
  check_discord_limits(j);
  // Markdown in untrusted text is escaped; a wildcard stays a wildcard.
  OutboxRow w = regression(8, "*.shop_x.example");
  CHECK(contains(parsed(Format::discord, w)["content"], "\\*.shop\\_x.example"));
}

TEST_CASE("discord: a huge event is cut to every limit, emoji counted as two") {
  OutboxRow r = regression();
  json records = json::array();
  for (int i = 0; i < 400; ++i) records.push_back("0 issue \"ca" + std::to_string(i) + std::string(300, 'x') + "\"");
  r.event.data["records"] = records;
  std::string emoji;
  for (int i = 0; i < 3000; ++i) emoji += "\xF0\x9F\x94\x92";  // U+1F512, two UTF-16 units
  r.event.data["reason"] = emoji;
  r.event.data["remedy"] = std::string(9000, 'r');
  r.event.data["domain"] = std::string(300, 'd') + ".example";
  json cas = json::array();
  for (int i = 0; i < 40; ++i) {
    cas.push_back({{"ca", "ca" + std::to_string(i)}, {"issuer", std::string(200, 'i')}, {"verdict", "denied"},
                   {"reason", "r"}, {"deciding_record", std::string(2000, 'q')}});
  }
  r.event.data["cas"] = cas;
  const json j = parsed(Format::discord, r);
  check_discord_limits(j);
  CHECK(contains(j["embeds"][0]["title"], "…"));

  std::vector<OutboxRow> many;
  for (int i = 0; i < 300; ++i) many.push_back(regression(i, std::string(200, 'n') + std::to_string(i) + ".example"));
  const json d = json::parse(alerts::render_digest(Format::discord, many, "hook", k_now));
  check_discord_limits(d);
}

TEST_CASE("teams: a Workflows message carrying an Adaptive Card 1.4") {
  const json j = parsed(Format::teams, regression());
  CHECK(j["type"] == "message");
  REQUIRE(j["attachments"].size() == 1);
  const json& a = j["attachments"][0];
  CHECK(a["contentType"] == "application/vnd.microsoft.card.adaptive");
  const json& card = a["content"];
  CHECK(card["type"] == "AdaptiveCard");
  CHECK(card["version"] == "1.4");
  CHECK(card["$schema"] == "http://adaptivecards.io/schemas/adaptive-card.json");
  CHECK(card["body"][0]["type"] == "Container");
  CHECK(card["body"][0]["style"] == "attention");
  CHECK(card["body"][0]["items"][0]["text"] == "CRITICAL: CAA now denies renewal of shop.customer.example");
  bool facts = false;
  for (const json& b : card["body"]) {
    if (b["type"] == "FactSet") {
      facts = true;
      CHECK(contains(all_text(b), "0 issue \"digicert.com\""));
      CHECK(contains(all_text(b), "12 days left"));
    }
  }
  CHECK(facts);
  CHECK(alerts::render(Format::teams, regression()).size() < 28 * 1024);
  OutboxRow rec = row(3, "recovery", Severity::info, "y.example", domain_data("y.example", "permitted", 20));
  CHECK(parsed(Format::teams, rec)["attachments"][0]["content"]["body"][0]["style"] == "good");
}

TEST_CASE("generic: {type, timestamp, data} with the event's data and ids") {
  const json j = parsed(Format::generic, regression());
  CHECK(j["type"] == "caad.regression");
  CHECK(j["timestamp"] == "2026-05-28T20:26:40Z");
  const json& d = j["data"];
  CHECK(d["event_id"] == 1007);
  CHECK(d["kind"] == "regression");
  CHECK(d["severity"] == "critical");
  CHECK(d["subject"] == "shop.customer.example");
  CHECK(d["domain"] == "shop.customer.example");
  CHECK(d["days_left"] == 12);
  CHECK(d["records"].size() == 2);
  CHECK(d["title"] == "CRITICAL: CAA now denies renewal of shop.customer.example");
}

TEST_CASE("every format renders valid JSON from broken data") {
  OutboxRow r = regression();
  r.event.data["reason"] = std::string("bad \xff\xfe utf-8 \xc3");
  r.event.data["cas"] = "not an array";
  r.event.data["days_left"] = "twelve";
  OutboxRow empty = row(9, "regression", Severity::warning, "e.example", nullptr);
  for (Format f : {Format::slack, Format::mattermost, Format::discord, Format::teams, Format::generic}) {
    CAPTURE(alerts::to_string(f));
    CHECK_FALSE(json::parse(alerts::render(f, r), nullptr, false).is_discarded());
    CHECK_FALSE(json::parse(alerts::render(f, empty), nullptr, false).is_discarded());
    CHECK(alerts::parse_format(alerts::to_string(f)) == f);
  }
  CHECK_FALSE(alerts::parse_format("email").has_value());
}

TEST_CASE("digests: counts by kind and severity, the worst examples first") {
  std::vector<OutboxRow> rows;
  for (int i = 0; i < 20; ++i) {
    rows.push_back(regression(100 + i, "r" + std::to_string(i) + ".example", Severity::warning, 20 + i));
  }
  rows.push_back(regression(200, "soon.example", Severity::critical, 2));
  rows.push_back(regression(201, "sooner.example", Severity::critical, 1));
  for (int i = 0; i < 8; ++i) {
    json f = domain_data("f" + std::to_string(i) + ".example", "lookup_failed", std::nullopt);
    rows.push_back(row(300 + i, "lookup_failure", Severity::warning, "f.example", f));
  }
  rows.push_back(row(400, "recovery", Severity::info, "ok.example", domain_data("ok.example", "permitted", 0)));

  const auto w = alerts::worst(rows, 5);
  REQUIRE(w.size() == 5);
  CHECK(w[0]->id == 201);  // critical, 1 day left
  CHECK(w[1]->id == 200);  // critical, 2 days
  CHECK(w[2]->id == 100);  // warning, 20 days
  CHECK(w[3]->id == 101);

  const std::string title = "CRITICAL: 31 CAA alerts at once (22 regression, 8 lookup_failure, 1 recovery)";
  const json slack = json::parse(alerts::render_digest(Format::slack, rows, "ops", k_now));
  CHECK(slack["text"] == title);
  const std::string text = all_text(slack["blocks"]);
  CHECK(contains(text, "By kind: 22 regression, 8 lookup_failure, 1 recovery."));
  CHECK(contains(text, "By severity: 2 critical, 28 warning, 1 info."));
  // The examples, most urgent first, each with its remedy.
  const std::size_t first = text.find("sooner.example (1 day left): Publish");
  const std::size_t second = text.find("soon.example (2 days left)");
  CHECK(first != std::string::npos);
  CHECK(second != std::string::npos);
  CHECK(first < second);
  CHECK(contains(text, "26 more not shown"));

  const json mm = json::parse(alerts::render_digest(Format::mattermost, rows, "ops", k_now));
  CHECK(mm["attachments"][0]["title"] == title);
  CHECK(mm["attachments"][0]["color"] == "#E01E5A");
  const json teams = json::parse(alerts::render_digest(Format::teams, rows, "ops", k_now));
  CHECK(teams["attachments"][0]["content"]["body"][0]["items"][0]["text"] == title);
  const json discord = json::parse(alerts::render_digest(Format::discord, rows, "ops", k_now));
  CHECK(discord["embeds"][0]["title"] == title);
  check_discord_limits(discord);

  const json generic = json::parse(alerts::render_digest(Format::generic, rows, "ops", k_now));
  CHECK(generic["type"] == "caad.digest");
  CHECK(generic["timestamp"] == "2026-05-28T20:26:40Z");
  CHECK(generic["data"]["count"] == 31);
  CHECK(generic["data"]["endpoint"] == "ops");
  CHECK(generic["data"]["by_kind"] == json{{"regression", 22}, {"lookup_failure", 8}, {"recovery", 1}});
  CHECK(generic["data"]["by_severity"] == json{{"critical", 2}, {"warning", 28}, {"info", 1}});
  CHECK(generic["data"]["event_ids"].size() == 31);
  CHECK(generic["data"]["outbox_ids"][0] == 100);
  REQUIRE(generic["data"]["examples"].size() == 10);
  CHECK(generic["data"]["examples"][0]["domain"] == "sooner.example");

  // Only recoveries: good news, in green.
  std::vector<OutboxRow> good = {row(1, "recovery", Severity::info, "a.example", domain_data("a.example", "permitted", 5)),
                                 row(2, "recovery", Severity::info, "b.example", domain_data("b.example", "permitted", 5))};
  const json g = json::parse(alerts::render_digest(Format::mattermost, good, "ops", k_now));
  CHECK(g["attachments"][0]["color"] == "#2EB67D");
  CHECK(contains(g["text"], "RESOLVED: 2 CAA alerts"));
}

TEST_CASE("the sample alert for caad webhook test says it is a test") {
  const OutboxRow r = alerts::sample_row(k_now);
  const alerts::AlertText t = alerts::describe(r.event);
  CHECK(contains(t.title, "CRITICAL: CAA now denies renewal of shop.customer.example"));
  CHECK(contains(t.title, "test message"));
  CHECK(contains(t.remedy, "letsencrypt.org"));
}

TEST_CASE("truncate_text counts UTF-16 units, never splits a character, marks the cut") {
  CHECK(alerts::truncate_text("hello", 5) == "hello");
  CHECK(alerts::truncate_text("hello!", 5) == "hell…");
  CHECK(alerts::truncate_text("hello", 0).empty());
  CHECK(alerts::truncate_text("h\xC3\xA9llo!", 3) == "h\xC3\xA9…");
  const std::string lock = "\xF0\x9F\x94\x92";
  CHECK(alerts::text_units(lock) == 2);
  CHECK(alerts::text_units("\xC3\xA9") == 1);
  // Two units for the lock do not fit in the room left before the ellipsis.
  CHECK(alerts::truncate_text("a" + lock + "b", 3) == "a…");
  CHECK(alerts::truncate_text("a" + lock + "b", 4) == "a" + lock + "b");
  // Invalid bytes become U+FFFD.
  CHECK(alerts::truncate_text("a\xff" "b", 10) == "a\xEF\xBF\xBD" "b");
}

TEST_CASE("redact_url keeps scheme and host only") {
  CHECK(alerts::redact_url("https://hooks.slack.com/services/T000/B000/XXXX") == "https://hooks.slack.com/…");
  CHECK(alerts::redact_url("https://user:pw@example.com:8443/x?y") == "https://example.com:8443/…");
  CHECK(alerts::redact_url("http://127.0.0.1:8080") == "http://127.0.0.1:8080");
  CHECK(alerts::redact_url("nonsense") == "(a URL)");
}
