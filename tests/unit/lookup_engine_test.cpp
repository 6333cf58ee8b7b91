// Tests for lib/lookup/engine: the RFC 8659 §3 climb, CNAME/DNAME handling,
// failure kinds, caching, coalescing, deadlines and re-entrancy. DNS answers
// are scripted per question and may be held back and released by the test,
// and time moves only on a ManualClock, so every case is deterministic.
#include <doctest/doctest.h>

#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "lib/caa/record.h"
#include "lib/dns/message.h"
#include "lib/dns/name.h"
#include "lib/lookup/engine.h"
#include "lib/lookup/result.h"
#include "lib/lookup/transport.h"
#include "lib/util/clock.h"

namespace {

using namespace caad;
using lookup::Answer;
using lookup::Engine;
using lookup::EngineOptions;
using lookup::Failed;
using lookup::FailureKind;
using lookup::LookupResult;
using lookup::Question;
using lookup::Reply;
using lookup::ReplyHandler;
using lookup::TransportFailure;

constexpr const char* k_server = "127.0.0.1:53";

dns::Name name(std::string_view text) {
  std::optional<dns::Name> n = dns::Name::from_dns(text);
  REQUIRE(n);
  return *n;
}

std::vector<dns::Name> names(std::initializer_list<std::string_view> texts) {
  std::vector<dns::Name> out;
  for (std::string_view t : texts) out.push_back(name(t));
  return out;
}

caa::Record record(std::string_view presentation) {
  auto r = caa::parse_presentation(presentation);
  REQUIRE(r);
  return *r;
}

dns::ResourceRecord caa_rr(std::string_view owner, std::string_view presentation,
                           std::uint32_t ttl = 300) {
  dns::ResourceRecord rr{name(owner), static_cast<std::uint16_t>(dns::RRType::caa), ttl, {}, {},
                         {}};
  rr.caa = record(presentation);
  return rr;
}

dns::ResourceRecord alias_rr(dns::RRType type, std::string_view owner, std::string_view target,
                             std::uint32_t ttl = 300) {
  dns::ResourceRecord rr{name(owner), static_cast<std::uint16_t>(type), ttl, {}, {}, {}};
  rr.target = name(target);
  return rr;
}

dns::ResourceRecord cname(std::string_view owner, std::string_view target,
                          std::uint32_t ttl = 300) {
  return alias_rr(dns::RRType::cname, owner, target, ttl);
}

dns::ResourceRecord dname(std::string_view owner, std::string_view target,
                          std::uint32_t ttl = 300) {
  return alias_rr(dns::RRType::dname, owner, target, ttl);
}

dns::ResourceRecord soa(std::string_view zone, std::uint32_t ttl = 300,
                        std::uint32_t minimum = 300) {
  dns::ResourceRecord rr{name(zone), static_cast<std::uint16_t>(dns::RRType::soa), ttl, {}, {}, {}};
  rr.soa_minimum = minimum;
  return rr;
}

dns::ResourceRecord ns(std::string_view zone) {
  return dns::ResourceRecord{name(zone), static_cast<std::uint16_t>(dns::RRType::ns), 300, {}, {},
                             {}};
}

dns::Message message(dns::Rcode rcode, std::vector<dns::ResourceRecord> answer = {},
                     std::vector<dns::ResourceRecord> authority = {}) {
  dns::Message m;
  m.rcode = static_cast<std::uint16_t>(rcode);
  m.answer = std::move(answer);
  m.authority = std::move(authority);
  return m;
}

dns::Message rcode_only(std::uint16_t rcode) {
  dns::Message m;
  m.rcode = rcode;
  return m;
}

dns::Message nodata(std::string_view zone = "example", std::uint32_t ttl = 300,
                    std::uint32_t minimum = 300) {
  return message(dns::Rcode::noerror, {}, {soa(zone, ttl, minimum)});
}

dns::Message nxdomain(std::string_view zone = "example") {
  return message(dns::Rcode::nxdomain, {}, {soa(zone)});
}

dns::Message caa_at(std::string_view owner,
                    std::string_view presentation = "0 issue \"letsencrypt.org\"",
                    std::uint32_t ttl = 300) {
  return message(dns::Rcode::noerror, {caa_rr(owner, presentation, ttl)});
}

// Answers each question from a script keyed by (name, CD bit), at once or
// when the test releases it. Unscripted questions get the default answer,
// NODATA unless a test changes it, and every question is logged.
class ScriptedTransport final : public lookup::Transport {
 public:
  enum class Mode { immediate, held };

  void script(std::string_view qname, dns::Message m, bool cd = false) {
    m_script.insert_or_assign(Key{std::string(qname), cd}, Reply{Answer{std::move(m), k_server}});
  }
  void script_failure(std::string_view qname, TransportFailure kind, bool cd = false) {
    m_script.insert_or_assign(
        Key{std::string(qname), cd},
        Reply{Failed{kind, std::string("no usable answer from ") + k_server, k_server}});
  }
  // Answers the next question for qname (plain, CD=0) with m, once, before
  // any standing script applies.
  void script_once(std::string_view qname, dns::Message m) {
    m_once[std::string(qname)].push_back(Reply{Answer{std::move(m), k_server}});
  }
  void set_default(dns::Message m) { m_default = std::move(m); }
  void set_mode(Mode mode) { m_mode = mode; }

  void query(const Question& q, ReplyHandler done) override {
    m_log.push_back(q);
    Reply reply = Answer{m_default, k_server};
    if (auto it = m_script.find(Key{q.name.text(), q.checking_disabled}); it != m_script.end()) {
      reply = it->second;
    }
    if (auto it = m_once.find(q.name.text()); !q.checking_disabled && it != m_once.end() && !it->second.empty()) {
      reply = std::move(it->second.front());
      it->second.pop_front();
    }
    if (m_mode == Mode::held) {
      m_held.emplace_back(std::move(done), std::move(reply));
    } else {
      done(std::move(reply));
    }
  }

  // Answers held questions in the order they were asked, including those
  // asked while releasing.
  void release_all() {
    while (release_one()) {
    }
  }
  bool release_one() {
    if (m_held.empty()) return false;
    auto [done, reply] = std::move(m_held.front());
    m_held.pop_front();
    done(std::move(reply));
    return true;
  }
  std::size_t held() const { return m_held.size(); }

  std::size_t asked(std::string_view qname, bool cd = false) const {
    std::size_t n = 0;
    for (const Question& q : m_log) {
      if (q.name.text() == qname && q.checking_disabled == cd) ++n;
    }
    return n;
  }
  std::vector<std::string> asked_names() const {
    std::vector<std::string> out;
    for (const Question& q : m_log)
      out.push_back(q.name.text() + (q.checking_disabled ? " +cd" : ""));
    return out;
  }
  std::size_t total() const { return m_log.size(); }

 private:
  using Key = std::pair<std::string, bool>;
  std::map<Key, Reply> m_script;
  std::map<std::string, std::deque<Reply>> m_once;
  dns::Message m_default = nodata();
  Mode m_mode = Mode::immediate;
  std::deque<std::pair<ReplyHandler, Reply>> m_held;
  std::vector<Question> m_log;
};

// Collects results and checks that each handler runs exactly once.
struct Results {
  std::vector<LookupResult> done;
  std::map<std::string, int> calls;

  lookup::LookupHandler handler(std::string key) {
    return [this, key](LookupResult r) {
      ++calls[key];
      CHECK(calls[key] == 1);
      done.push_back(std::move(r));
    };
  }
};

dns::DomainRequest request(std::string_view text) {
  auto r = dns::parse_domain(text);
  REQUIRE(r);
  return *r;
}

LookupResult run(Engine& engine, std::string_view domain) {
  std::optional<LookupResult> out;
  int calls = 0;
  engine.lookup(request(domain), [&](LookupResult r) {
    ++calls;
    out = std::move(r);
  });
  REQUIRE(calls == 1);
  return std::move(*out);
}

struct Fixture {
  ScriptedTransport transport;
  ManualClock clock;
};

// --- the climb -------------------------------------------------------------

TEST_CASE("CAA at the requested name is the relevant RRset") {
  Fixture f;
  f.transport.script(
      "shop.example.com",
      message(dns::Rcode::noerror, {caa_rr("shop.example.com", "0 issue \"letsencrypt.org\""),
                                    caa_rr("shop.example.com", "0 iodef \"mailto:a@b.example\"")}));
  f.transport.script("example.com", caa_at("example.com", "0 issue \";\""));
  Engine engine(f.transport, f.clock);
  LookupResult r = run(engine, "shop.example.com");
  CHECK_FALSE(r.failure);
  REQUIRE(r.found_at);
  CHECK(*r.found_at == name("shop.example.com"));
  CHECK(*r.relevant_owner == name("shop.example.com"));
  REQUIRE(r.records.size() == 2);
  CHECK(r.records[0] == record("0 issue \"letsencrypt.org\""));
  CHECK(r.cname_chain.empty());
  CHECK(r.queries == 1);
  CHECK(f.transport.asked_names() == std::vector<std::string>{"shop.example.com"});
  CHECK(engine.in_flight() == 0);
}

TEST_CASE("a name without CAA inherits its parent's") {
  Fixture f;
  f.transport.script("shop.example.com", nodata("example.com"));
  f.transport.script("example.com", caa_at("example.com"));
  Engine engine(f.transport, f.clock);
  LookupResult r = run(engine, "shop.example.com");
  CHECK_FALSE(r.failure);
  CHECK(*r.found_at == name("example.com"));
  CHECK(*r.relevant_owner == name("example.com"));
  CHECK(r.records.size() == 1);
  CHECK(r.queries == 2);
  CHECK(f.transport.asked_names() == std::vector<std::string>{"shop.example.com", "example.com"});
}

TEST_CASE("the climb includes the TLD and stops before the root") {
  Fixture f;
  Engine engine(f.transport, f.clock);
  LookupResult r = run(engine, "a.b.example");
  CHECK_FALSE(r.failure);
  CHECK_FALSE(r.found_at);
  CHECK_FALSE(r.relevant_owner);
  CHECK(r.records.empty());
  CHECK_FALSE(r.nxdomain_tld);
  CHECK(r.queries == 3);
  CHECK(f.transport.asked_names() ==
        std::vector<std::string>{"a.b.example", "b.example", "example"});
}

TEST_CASE("NODATA and NXDOMAIN are both empty and the climb goes on") {
  Fixture f;
  f.transport.script("a.b.example", nxdomain());
  f.transport.script("b.example", nodata());
  f.transport.script("example", caa_at("example"));
  Engine engine(f.transport, f.clock);
  LookupResult r = run(engine, "a.b.example");
  CHECK_FALSE(r.failure);
  CHECK(*r.found_at == name("example"));
  CHECK(r.queries == 3);
}

TEST_CASE("NODATA without an SOA is empty too") {
  Fixture f;
  f.transport.script("shop.example", message(dns::Rcode::noerror));
  f.transport.script("example", caa_at("example"));
  Engine engine(f.transport, f.clock);
  LookupResult r = run(engine, "shop.example");
  CHECK_FALSE(r.failure);
  CHECK(*r.found_at == name("example"));
}

TEST_CASE("an iodef-only RRset is non-empty and stops the climb") {
  Fixture f;
  f.transport.script("shop.example.com",
                     caa_at("shop.example.com", "0 iodef \"mailto:sec@example.com\""));
  f.transport.script("example.com", caa_at("example.com", "0 issue \";\""));
  Engine engine(f.transport, f.clock);
  LookupResult r = run(engine, "shop.example.com");
  CHECK(*r.found_at == name("shop.example.com"));
  REQUIRE(r.records.size() == 1);
  CHECK(r.records[0].tag_is("iodef"));
  CHECK(f.transport.asked("example.com") == 0);
}

TEST_CASE("a wildcard request works on the name below the star") {
  Fixture f;
  f.transport.script("example.com", caa_at("example.com", "0 issuewild \"letsencrypt.org\""));
  Engine engine(f.transport, f.clock);
  LookupResult r = run(engine, "*.example.com");
  CHECK(r.request.wildcard);
  CHECK(r.request.name == name("example.com"));
  CHECK(*r.found_at == name("example.com"));
  CHECK(f.transport.asked_names() == std::vector<std::string>{"example.com"});
}

TEST_CASE("NXDOMAIN at a bare TLD is empty but reported") {
  Fixture f;
  f.transport.set_default(message(dns::Rcode::nxdomain));
  Engine engine(f.transport, f.clock);
  SUBCASE("the TLD does not exist") {
    LookupResult r = run(engine, "shop.nosuchtld");
    CHECK_FALSE(r.failure);
    CHECK(r.records.empty());
    REQUIRE(r.nxdomain_tld);
    CHECK(*r.nxdomain_tld == name("nosuchtld"));
  }
  SUBCASE("NXDOMAIN below a TLD that exists is not reported") {
    f.transport.script("com", nodata("com"));
    LookupResult r = run(engine, "shop.example.com");
    CHECK_FALSE(r.failure);
    CHECK_FALSE(r.nxdomain_tld);
    CHECK(r.queries == 3);
  }
}

// --- aliases ---------------------------------------------------------------

TEST_CASE("a CNAME to a target with CAA uses the target's records") {
  Fixture f;
  f.transport.script(
      "www.customer.example",
      message(dns::Rcode::noerror, {cname("www.customer.example", "t.provider.example"),
                                    caa_rr("t.provider.example", "0 issue \"digicert.com\"")}));
  f.transport.script("customer.example", caa_at("customer.example", "0 issue \"letsencrypt.org\""));
  Engine engine(f.transport, f.clock);
  LookupResult r = run(engine, "www.customer.example");
  CHECK_FALSE(r.failure);
  CHECK(*r.found_at == name("www.customer.example"));
  CHECK(*r.relevant_owner == name("t.provider.example"));
  CHECK(r.cname_chain == names({"t.provider.example"}));
  REQUIRE(r.records.size() == 1);
  CHECK(r.records[0] == record("0 issue \"digicert.com\""));
  CHECK(r.queries == 1);
  CHECK(f.transport.asked("customer.example") == 0);
}

TEST_CASE("a CNAME to a target without CAA climbs the request's parents, never the target's") {
  Fixture f;
  SUBCASE("the target has NODATA") {
    f.transport.script(
        "www.customer.example",
        message(dns::Rcode::noerror, {cname("www.customer.example", "t.provider.example")},
                {soa("provider.example")}));
  }
  SUBCASE("the target does not exist") {
    f.transport.script(
        "www.customer.example",
        message(dns::Rcode::nxdomain, {cname("www.customer.example", "t.provider.example")},
                {soa("provider.example")}));
  }
  f.transport.script("customer.example", caa_at("customer.example"));
  f.transport.script("provider.example", caa_at("provider.example", "0 issue \";\""));
  Engine engine(f.transport, f.clock);
  LookupResult r = run(engine, "www.customer.example");
  CHECK_FALSE(r.failure);
  CHECK(*r.found_at == name("customer.example"));
  CHECK(*r.relevant_owner == name("customer.example"));
  CHECK(r.cname_chain == names({"t.provider.example"}));
  CHECK_FALSE(r.nxdomain_tld);
  CHECK(f.transport.asked("t.provider.example") == 0);  // the answer was proof enough
  CHECK(f.transport.asked("provider.example") == 0);
  CHECK(f.transport.asked_names() ==
        std::vector<std::string>{"www.customer.example", "customer.example"});
}

TEST_CASE("a chain of several CNAMEs is followed in order") {
  Fixture f;
  f.transport.script(
      "a.example",
      message(dns::Rcode::noerror,
              {cname("b.example", "c.example"), cname("a.example", "b.example"),
               caa_rr("d.example", "0 issue \"x.example\""), cname("c.example", "d.example")}));
  Engine engine(f.transport, f.clock);
  LookupResult r = run(engine, "a.example");
  CHECK_FALSE(r.failure);
  CHECK(*r.found_at == name("a.example"));
  CHECK(*r.relevant_owner == name("d.example"));
  CHECK(r.cname_chain == names({"b.example", "c.example", "d.example"}));
  CHECK(r.queries == 1);
}

TEST_CASE("a DNAME rewrites names below its owner") {
  Fixture f;
  SUBCASE("without a synthesized CNAME") {
    f.transport.script(
        "www.old.example",
        message(dns::Rcode::noerror, {dname("old.example", "new.example"),
                                      caa_rr("www.new.example", "0 issue \"x.example\"")}));
  }
  SUBCASE("with the synthesized CNAME, counted once") {
    f.transport.script(
        "www.old.example",
        message(dns::Rcode::noerror,
                {dname("old.example", "new.example"), cname("www.old.example", "www.new.example"),
                 caa_rr("www.new.example", "0 issue \"x.example\"")}));
  }
  Engine engine(f.transport, f.clock);
  LookupResult r = run(engine, "www.old.example");
  CHECK_FALSE(r.failure);
  CHECK(*r.found_at == name("www.old.example"));
  CHECK(*r.relevant_owner == name("www.new.example"));
  CHECK(r.cname_chain == names({"www.new.example"}));
  CHECK(r.records.size() == 1);
}

TEST_CASE("a DNAME never applies to its own owner") {
  Fixture f;
  f.transport.script("old.example", message(dns::Rcode::noerror,
                                            {dname("old.example", "new.example"),
                                             caa_rr("old.example", "0 issue \"own.example\"")}));
  Engine engine(f.transport, f.clock);
  LookupResult r = run(engine, "old.example");
  CHECK(*r.relevant_owner == name("old.example"));
  CHECK(r.cname_chain.empty());
  CHECK(r.records[0] == record("0 issue \"own.example\""));
}

TEST_CASE("a CNAME in the middle of the path is followed from the climbing step") {
  Fixture f;
  f.transport.script("a.b.customer.example", nxdomain("customer.example"));
  f.transport.script(
      "b.customer.example",
      message(dns::Rcode::noerror, {cname("b.customer.example", "t.provider.example"),
                                    caa_rr("t.provider.example", "0 issue \"digicert.com\"")}));
  f.transport.script("customer.example", caa_at("customer.example"));
  Engine engine(f.transport, f.clock);
  LookupResult r = run(engine, "a.b.customer.example");
  CHECK_FALSE(r.failure);
  CHECK(*r.found_at == name("b.customer.example"));
  CHECK(*r.relevant_owner == name("t.provider.example"));
  CHECK(r.cname_chain.empty());  // the request name itself is no alias
  CHECK(r.queries == 2);
  CHECK(f.transport.asked("customer.example") == 0);
}

TEST_CASE("a chain without records or negative proof makes the engine ask the target") {
  Fixture f;
  f.transport.script(
      "www.customer.example",
      message(dns::Rcode::noerror, {cname("www.customer.example", "t.provider.example")}));
  SUBCASE("the target has CAA") {
    f.transport.script("t.provider.example",
                       caa_at("t.provider.example", "0 issue \"digicert.com\""));
    Engine engine(f.transport, f.clock);
    LookupResult r = run(engine, "www.customer.example");
    CHECK_FALSE(r.failure);
    CHECK(*r.found_at == name("www.customer.example"));
    CHECK(*r.relevant_owner == name("t.provider.example"));
    CHECK(r.cname_chain == names({"t.provider.example"}));
    CHECK(r.queries == 2);
    CHECK(f.transport.asked_names() ==
          std::vector<std::string>{"www.customer.example", "t.provider.example"});
  }
  SUBCASE("the target is an alias again, then empty: the request's parents are climbed") {
    f.transport.script("t.provider.example",
                       message(dns::Rcode::noerror, {cname("t.provider.example", "u.cdn.example")},
                               {soa("cdn.example")}));
    f.transport.script("customer.example", caa_at("customer.example"));
    Engine engine(f.transport, f.clock);
    LookupResult r = run(engine, "www.customer.example");
    CHECK_FALSE(r.failure);
    CHECK(*r.found_at == name("customer.example"));
    CHECK(r.cname_chain == names({"t.provider.example", "u.cdn.example"}));
    CHECK(r.queries == 3);
    CHECK(f.transport.asked("provider.example") == 0);
    CHECK(f.transport.asked("cdn.example") == 0);
    CHECK(f.transport.asked("u.cdn.example") == 0);
  }
}

TEST_CASE("alias loops fail the lookup") {
  Fixture f;
  SUBCASE("inside one answer") {
    f.transport.script("a.example",
                       message(dns::Rcode::noerror,
                               {cname("a.example", "b.example"), cname("b.example", "a.example")}));
  }
  SUBCASE("across re-queries") {
    f.transport.script("a.example",
                       message(dns::Rcode::noerror, {cname("a.example", "b.example")}));
    f.transport.script("b.example",
                       message(dns::Rcode::noerror, {cname("b.example", "a.example")}));
  }
  f.transport.script("example", caa_at("example"));
  Engine engine(f.transport, f.clock);
  LookupResult r = run(engine, "a.example");
  REQUIRE(r.failure);
  CHECK(r.failure->kind == FailureKind::alias_loop);
  CHECK(r.records.empty());
  CHECK(f.transport.asked("example") == 0);
  CHECK(f.transport.asked("a.example") == 1);
}

TEST_CASE("a chain longer than max_chain fails the lookup") {
  Fixture f;
  EngineOptions options;
  options.max_chain = 3;
  SUBCASE("exactly max_chain aliases are fine") {
    f.transport.script(
        "a.example",
        message(dns::Rcode::noerror,
                {cname("a.example", "b.example"), cname("b.example", "c.example"),
                 cname("c.example", "d.example"), caa_rr("d.example", "0 issue \";\"")}));
    Engine engine(f.transport, f.clock, options);
    LookupResult r = run(engine, "a.example");
    CHECK_FALSE(r.failure);
    CHECK(r.cname_chain.size() == 3);
  }
  SUBCASE("one more in one answer") {
    f.transport.script("a.example",
                       message(dns::Rcode::noerror,
                               {cname("a.example", "b.example"), cname("b.example", "c.example"),
                                cname("c.example", "d.example"), cname("d.example", "e.example"),
                                caa_rr("e.example", "0 issue \";\"")}));
    Engine engine(f.transport, f.clock, options);
    LookupResult r = run(engine, "a.example");
    REQUIRE(r.failure);
    CHECK(r.failure->kind == FailureKind::chain_too_long);
    CHECK(r.failure->name == name("a.example"));
  }
  SUBCASE("one more across re-queries") {
    f.transport.script("a.example",
                       message(dns::Rcode::noerror,
                               {cname("a.example", "b.example"), cname("b.example", "c.example")}));
    f.transport.script("c.example",
                       message(dns::Rcode::noerror,
                               {cname("c.example", "d.example"), cname("d.example", "e.example"),
                                caa_rr("e.example", "0 issue \";\"")}));
    Engine engine(f.transport, f.clock, options);
    LookupResult r = run(engine, "a.example");
    REQUIRE(r.failure);
    CHECK(r.failure->kind == FailureKind::chain_too_long);
    CHECK(r.failure->name == name("c.example"));
  }
}

// --- failures ----------------------------------------------------------------

TEST_CASE("SERVFAIL is retried with CD=1 to tell DNSSEC bogus apart") {
  Fixture f;
  f.transport.script("example.com", rcode_only(2));
  f.transport.script("com", caa_at("com"));
  SUBCASE("still SERVFAIL with CD=1: servfail") {
    f.transport.script("example.com", rcode_only(2), true);
    Engine engine(f.transport, f.clock);
    LookupResult r = run(engine, "example.com");
    REQUIRE(r.failure);
    CHECK(r.failure->kind == FailureKind::servfail);
    CHECK(r.failure->name == name("example.com"));
    CHECK(r.failure->server == k_server);
    CHECK(r.failure->detail.find("127.0.0.1:53 answered SERVFAIL for CAA example.com") !=
          std::string::npos);
    CHECK(r.queries == 3);
    CHECK(f.transport.asked_names() ==
          std::vector<std::string>{"example.com", "example.com", "example.com +cd"});
  }
  SUBCASE("the CD=1 retry times out: servfail") {
    f.transport.script_failure("example.com", TransportFailure::timeout, true);
    Engine engine(f.transport, f.clock);
    LookupResult r = run(engine, "example.com");
    REQUIRE(r.failure);
    CHECK(r.failure->kind == FailureKind::servfail);
  }
  SUBCASE("NOERROR with CD=1: dnssec_bogus") {
    f.transport.script("example.com", caa_at("example.com"), true);
    Engine engine(f.transport, f.clock);
    LookupResult r = run(engine, "example.com");
    REQUIRE(r.failure);
    CHECK(r.failure->kind == FailureKind::dnssec_bogus);
    CHECK(r.failure->detail.find("DNSSEC bogus") != std::string::npos);
    CHECK(r.records.empty());  // records read without validation are not the answer
    CHECK(r.queries == 3);
  }
  SUBCASE("NXDOMAIN with CD=1: dnssec_bogus") {
    f.transport.script("example.com", nxdomain("com"), true);
    Engine engine(f.transport, f.clock);
    LookupResult r = run(engine, "example.com");
    REQUIRE(r.failure);
    CHECK(r.failure->kind == FailureKind::dnssec_bogus);
  }
  CHECK(f.transport.asked("com") == 0);
}

TEST_CASE("a transient SERVFAIL is asked again before it can count as DNSSEC bogus") {
  ScriptedTransport transport;
  ManualClock clock;
  dns::Message servfail;
  servfail.rcode = 2;
  transport.script_once("example.com", servfail);
  transport.script("example.com", caa_at("example.com"));
  transport.script("example.com", caa_at("example.com"), true);
  Engine engine(transport, clock);
  LookupResult r = run(engine, "example.com");
  CHECK_FALSE(r.failure);
  CHECK(r.records.size() == 1);
  CHECK(transport.asked("example.com", true) == 0);
  CHECK(r.queries == 2);
}

TEST_CASE("each failing RCODE keeps its own kind, without a CD retry") {
  struct Row {
    std::uint16_t rcode;
    FailureKind kind;
    const char* text;
  };
  const Row rows[] = {
      {5, FailureKind::refused, "REFUSED"},      {4, FailureKind::notimp, "NOTIMP"},
      {1, FailureKind::formerr, "FORMERR"},      {6, FailureKind::other_rcode, "YXDOMAIN"},
      {23, FailureKind::other_rcode, "RCODE23"},
  };
  for (const Row& row : rows) {
    CAPTURE(row.text);
    Fixture f;
    f.transport.script("shop.example.com", rcode_only(row.rcode));
    Engine engine(f.transport, f.clock);
    LookupResult r = run(engine, "shop.example.com");
    REQUIRE(r.failure);
    CHECK(r.failure->kind == row.kind);
    CHECK(r.failure->name == name("shop.example.com"));
    CHECK(r.failure->detail ==
          std::string("127.0.0.1:53 answered ") + row.text + " for CAA shop.example.com");
    CHECK(f.transport.total() == 1);
  }
}

TEST_CASE("transport failures map to their kinds") {
  struct Row {
    TransportFailure transport;
    FailureKind kind;
  };
  const Row rows[] = {{TransportFailure::timeout, FailureKind::timeout},
                      {TransportFailure::network, FailureKind::network},
                      {TransportFailure::malformed, FailureKind::malformed},
                      {TransportFailure::truncated, FailureKind::truncated}};
  for (const Row& row : rows) {
    CAPTURE(lookup::to_string(row.transport));
    Fixture f;
    f.transport.script("shop.example.com", nodata());
    f.transport.script_failure("example.com", row.transport);
    Engine engine(f.transport, f.clock);
    LookupResult r = run(engine, "shop.example.com");
    REQUIRE(r.failure);
    CHECK(r.failure->kind == row.kind);
    CHECK(r.failure->name == name("example.com"));
    CHECK(r.failure->server == k_server);
    CHECK(r.failure->detail == "no usable answer from 127.0.0.1:53");
    CHECK(r.queries == 2);
  }
}

TEST_CASE("an answer still marked truncated is a failure, not an empty set") {
  Fixture f;
  dns::Message m = nodata();
  m.truncated = true;
  f.transport.script("shop.example.com", m);
  Engine engine(f.transport, f.clock);
  LookupResult r = run(engine, "shop.example.com");
  REQUIRE(r.failure);
  CHECK(r.failure->kind == FailureKind::truncated);
}

TEST_CASE("a referral is a failure") {
  Fixture f;
  f.transport.script("shop.example.com", message(dns::Rcode::noerror, {}, {ns("example.com")}));
  Engine engine(f.transport, f.clock);
  LookupResult r = run(engine, "shop.example.com");
  REQUIRE(r.failure);
  CHECK(r.failure->kind == FailureKind::referral);
  CHECK(r.failure->name == name("shop.example.com"));
}

TEST_CASE("a failure at the request name is fatal even when the parent has records") {
  Fixture f;
  f.transport.script("shop.example.com", rcode_only(5));
  f.transport.script("example.com", caa_at("example.com"));
  Engine engine(f.transport, f.clock);
  LookupResult r = run(engine, "shop.example.com");
  REQUIRE(r.failure);
  CHECK(r.failure->kind == FailureKind::refused);
  CHECK_FALSE(r.found_at);
  CHECK(r.records.empty());
  CHECK(f.transport.asked("example.com") == 0);
}

TEST_CASE("a failure while asking an alias target names the target") {
  Fixture f;
  f.transport.script(
      "www.customer.example",
      message(dns::Rcode::noerror, {cname("www.customer.example", "t.provider.example")}));
  f.transport.script("t.provider.example", rcode_only(5));
  Engine engine(f.transport, f.clock);
  LookupResult r = run(engine, "www.customer.example");
  REQUIRE(r.failure);
  CHECK(r.failure->kind == FailureKind::refused);
  CHECK(r.failure->name == name("t.provider.example"));
  CHECK(r.failure->detail.find("www.customer.example") != std::string::npos);
  CHECK(r.cname_chain == names({"t.provider.example"}));
}

// --- caching and coalescing --------------------------------------------------

TEST_CASE("1,000 leaves under one parent ask the parent once per TTL") {
  Fixture f;
  f.transport.set_default(nxdomain("example.com"));
  f.transport.script("example.com", caa_at("example.com", "0 issue \"letsencrypt.org\"", 300));
  f.transport.set_mode(ScriptedTransport::Mode::held);
  Engine engine(f.transport, f.clock);
  Results results;
  auto start_batch = [&](const std::string& prefix) {
    for (int i = 0; i < 1000; ++i) {
      const std::string leaf = prefix + std::to_string(i) + ".example.com";
      engine.lookup(request(leaf), results.handler(leaf));
    }
  };

  start_batch("a");
  CHECK(engine.in_flight() == 1000);
  CHECK(f.transport.held() == 1000);
  f.transport.release_all();
  REQUIRE(results.done.size() == 1000);
  CHECK(engine.in_flight() == 0);
  CHECK(f.transport.asked("example.com") == 1);
  CHECK(engine.stats().queries_sent == 1001);
  CHECK(engine.stats().coalesced == 999);
  unsigned queries = 0;
  for (const LookupResult& r : results.done) {
    CHECK(*r.found_at == name("example.com"));
    queries += r.queries;
  }
  CHECK(queries == 1001);  // each question counted for the lookup that sent it

  // Within the TTL every leaf finds the parent in the cache.
  f.clock.advance(std::chrono::seconds(299));
  start_batch("b");
  f.transport.release_all();
  CHECK(results.done.size() == 2000);
  CHECK(f.transport.asked("example.com") == 1);
  CHECK(engine.stats().cache_hits == 1000);

  // After it, the parent is asked once more, and cached again.
  f.clock.advance(std::chrono::seconds(2));
  start_batch("c");
  f.transport.release_all();
  CHECK(results.done.size() == 3000);
  CHECK(f.transport.asked("example.com") == 2);
  CHECK(engine.stats().queries_sent == 3002);
  for (const auto& [leaf, calls] : results.calls) CHECK(calls == 1);
}

TEST_CASE("identical questions in flight are sent once, even for the request name") {
  Fixture f;
  f.transport.script("shop.example.com", caa_at("shop.example.com"));
  f.transport.set_mode(ScriptedTransport::Mode::held);
  Engine engine(f.transport, f.clock);
  Results results;
  engine.lookup(request("shop.example.com"), results.handler("one"));
  engine.lookup(request("*.shop.example.com"), results.handler("two"));
  CHECK(f.transport.held() == 1);
  f.transport.release_all();
  REQUIRE(results.done.size() == 2);
  CHECK(results.done[0].queries == 1);
  CHECK(results.done[1].queries == 0);
  CHECK(*results.done[1].found_at == name("shop.example.com"));
  CHECK(engine.stats().coalesced == 1);
  // The request name's own answer is not cached: the next lookup asks again.
  engine.lookup(request("shop.example.com"), results.handler("three"));
  f.transport.release_all();
  CHECK(f.transport.asked("shop.example.com") == 2);
  CHECK(engine.stats().cache_hits == 0);
}

TEST_CASE("a request name that is another lookup's parent is served from the cache") {
  Fixture f;
  f.transport.script("example.com", caa_at("example.com"));
  Engine engine(f.transport, f.clock);
  run(engine, "shop.example.com");
  LookupResult r = run(engine, "example.com");
  CHECK(*r.found_at == name("example.com"));
  CHECK(r.queries == 0);
  CHECK(f.transport.asked("example.com") == 1);
  CHECK(engine.stats().cache_hits == 1);
}

TEST_CASE("alias targets asked directly are cached; the chain is still checked per lookup") {
  Fixture f;
  for (const char* customer : {"www.one.example", "www.two.example"}) {
    f.transport.script(customer,
                       message(dns::Rcode::noerror, {cname(customer, "t.provider.example")}));
  }
  f.transport.script("t.provider.example", caa_at("t.provider.example"));
  Engine engine(f.transport, f.clock);
  LookupResult one = run(engine, "www.one.example");
  LookupResult two = run(engine, "www.two.example");
  CHECK(*two.relevant_owner == name("t.provider.example"));
  CHECK(two.cname_chain == names({"t.provider.example"}));
  CHECK(one.queries == 2);
  CHECK(two.queries == 1);
  CHECK(f.transport.asked("t.provider.example") == 1);
}

TEST_CASE("negative answers are cached for min(SOA TTL, SOA MINIMUM), capped by max_cache_ttl") {
  Fixture f;
  f.transport.script("example.com", nodata("example.com", 3600, 30));
  f.transport.script("example.org", caa_at("example.org", "0 issue \";\"", 86400));
  EngineOptions options;
  options.max_cache_ttl = std::chrono::seconds(100);
  Engine engine(f.transport, f.clock, options);
  run(engine, "a.example.com");
  f.clock.advance(std::chrono::seconds(29));
  run(engine, "b.example.com");
  CHECK(f.transport.asked("example.com") == 1);
  f.clock.advance(std::chrono::seconds(2));
  run(engine, "c.example.com");
  CHECK(f.transport.asked("example.com") == 2);

  run(engine, "a.example.org");
  f.clock.advance(std::chrono::seconds(99));
  run(engine, "b.example.org");
  CHECK(f.transport.asked("example.org") == 1);
  f.clock.advance(std::chrono::seconds(2));
  run(engine, "c.example.org");
  CHECK(f.transport.asked("example.org") == 2);
}

TEST_CASE("failures are not cached") {
  Fixture f;
  f.transport.script("example.com", rcode_only(5));
  Engine engine(f.transport, f.clock);
  CHECK(run(engine, "a.example.com").failure);
  CHECK(run(engine, "b.example.com").failure);
  CHECK(f.transport.asked("example.com") == 2);
}

TEST_CASE("the cache keeps at most cache_entries names, least recently used out first") {
  Fixture f;
  for (const char* parent : {"p1.example", "p2.example", "p3.example"}) {
    f.transport.script(parent, caa_at(parent));
  }
  EngineOptions options;
  options.cache_entries = 2;
  Engine engine(f.transport, f.clock, options);
  run(engine, "a.p1.example");
  run(engine, "a.p2.example");
  run(engine, "b.p1.example");  // p1 is now the most recently used
  run(engine, "a.p3.example");  // evicts p2
  CHECK(f.transport.asked("p1.example") == 1);
  run(engine, "c.p1.example");
  run(engine, "b.p3.example");
  CHECK(f.transport.asked("p1.example") == 1);
  CHECK(f.transport.asked("p3.example") == 1);
  run(engine, "b.p2.example");
  CHECK(f.transport.asked("p2.example") == 2);
}

// --- deadlines, re-entrancy, lifetime ---------------------------------------

TEST_CASE("a lookup past its deadline fails with timeout; the late answer is ignored but cached") {
  Fixture f;
  f.transport.script("x.example.com", nxdomain("example.com"));
  f.transport.script("example.com", caa_at("example.com"));
  f.transport.set_mode(ScriptedTransport::Mode::held);
  EngineOptions options;
  options.lookup_deadline = std::chrono::seconds(10);
  Engine engine(f.transport, f.clock, options);
  Results results;
  engine.lookup(request("x.example.com"), results.handler("x"));
  f.clock.advance(std::chrono::seconds(5));
  engine.lookup(request("y.other.example"), results.handler("y"));
  CHECK(f.transport.release_one());  // x.example.com → NXDOMAIN; example.com now held
  f.clock.advance(std::chrono::seconds(5));
  engine.expire_deadlines();
  REQUIRE(results.done.size() == 1);
  const LookupResult& x = results.done[0];
  REQUIRE(x.failure);
  CHECK(x.failure->kind == FailureKind::timeout);
  CHECK(x.failure->name == name("example.com"));
  CHECK(x.queries == 2);
  CHECK(engine.in_flight() == 1);  // y has time left

  f.transport.release_all();  // example.com's answer and y's arrive late
  CHECK(results.done.size() == 2);
  CHECK(results.calls["x"] == 1);
  CHECK(results.calls["y"] == 1);
  CHECK(engine.in_flight() == 0);

  f.transport.set_mode(ScriptedTransport::Mode::immediate);
  LookupResult z = run(engine, "z.example.com");
  CHECK(*z.found_at == name("example.com"));
  CHECK(f.transport.asked("example.com") == 1);
  CHECK(engine.stats().cache_hits == 1);
}

TEST_CASE("a question in flight longer than the deadline is sent again rather than joined") {
  Fixture f;
  f.transport.script("shop.example.com", caa_at("shop.example.com"));
  f.transport.set_mode(ScriptedTransport::Mode::held);
  EngineOptions options;
  options.lookup_deadline = std::chrono::seconds(10);
  Engine engine(f.transport, f.clock, options);
  Results results;
  engine.lookup(request("shop.example.com"), results.handler("first"));
  f.clock.advance(std::chrono::seconds(10));
  engine.expire_deadlines();
  REQUIRE(results.done.size() == 1);
  CHECK(results.done[0].failure->kind == FailureKind::timeout);

  engine.lookup(request("shop.example.com"), results.handler("second"));
  CHECK(f.transport.asked("shop.example.com") == 2);
  CHECK(engine.stats().coalesced == 0);
  f.transport.release_all();  // both answers arrive; the second is ignored
  REQUIRE(results.done.size() == 2);
  CHECK(*results.done[1].found_at == name("shop.example.com"));
  CHECK(results.done[1].queries == 1);
  CHECK(results.calls["first"] == 1);
  CHECK(results.calls["second"] == 1);
}

// A transport that breaks its contract by throwing.
class ThrowingTransport final : public lookup::Transport {
 public:
  void query(const Question&, ReplyHandler) override { throw std::runtime_error("out of sockets"); }
};

TEST_CASE("a transport that throws fails the question instead of hanging it") {
  ThrowingTransport transport;
  ManualClock clock;
  Engine engine(transport, clock);
  LookupResult r = run(engine, "shop.example.com");
  REQUIRE(r.failure);
  CHECK(r.failure->kind == FailureKind::network);
  CHECK(r.failure->detail.find("out of sockets") != std::string::npos);
  CHECK(engine.in_flight() == 0);
}

TEST_CASE("a handler may start new lookups, and long synchronous runs do not recurse") {
  Fixture f;
  f.transport.script("example.com", caa_at("example.com"));
  Engine engine(f.transport, f.clock);
  SUBCASE("one nested lookup") {
    std::vector<LookupResult> done;
    engine.lookup(request("a.example.com"), [&](LookupResult r) {
      done.push_back(std::move(r));
      engine.lookup(request("b.example.com"),
                    [&](LookupResult inner) { done.push_back(std::move(inner)); });
    });
    REQUIRE(done.size() == 2);
    CHECK(done[1].request.name == name("b.example.com"));
    CHECK(*done[1].found_at == name("example.com"));
  }
  SUBCASE("a chain of 20,000 lookups, each started by the previous one's handler") {
    int remaining = 20'000;
    int finished = 0;
    std::function<void(LookupResult)> next = [&](LookupResult r) {
      CHECK_FALSE(r.failure);
      ++finished;
      if (--remaining > 0)
        engine.lookup(request("leaf" + std::to_string(remaining) + ".example.com"), next);
    };
    engine.lookup(request("leaf.example.com"), next);
    CHECK(finished == 20'000);
    CHECK(engine.in_flight() == 0);
  }
  SUBCASE("with held replies") {
    f.transport.set_mode(ScriptedTransport::Mode::held);
    std::vector<LookupResult> done;
    engine.lookup(request("a.example.com"), [&](LookupResult r) {
      done.push_back(std::move(r));
      engine.lookup(request("b.example.com"),
                    [&](LookupResult inner) { done.push_back(std::move(inner)); });
    });
    f.transport.release_all();
    REQUIRE(done.size() == 2);
    CHECK(f.transport.asked("example.com") == 1);
  }
}

TEST_CASE("destroying the engine drops pending lookups and ignores late replies") {
  Fixture f;
  f.transport.set_mode(ScriptedTransport::Mode::held);
  int calls = 0;
  {
    Engine engine(f.transport, f.clock);
    engine.lookup(request("shop.example.com"), [&](LookupResult) { ++calls; });
    CHECK(engine.in_flight() == 1);
  }
  f.transport.release_all();
  CHECK(calls == 0);
}

TEST_CASE("the trace tells the story for caad check --explain") {
  Fixture f;
  f.transport.script(
      "shop.example.com",
      message(dns::Rcode::noerror, {cname("shop.example.com", "t.provider.example"),
                                    caa_rr("t.provider.example", "0 issue \"letsencrypt.org\"")}));
  EngineOptions options;
  options.trace = true;
  Engine engine(f.transport, f.clock, options);
  LookupResult r = run(engine, "shop.example.com");
  auto has = [&](std::string_view text) {
    for (const std::string& line : r.trace) {
      if (line.find(text) != std::string::npos) return true;
    }
    return false;
  };
  CAPTURE(r.trace);
  CHECK(has(
      "CAA? shop.example.com → NOERROR from 127.0.0.1:53: CNAME t.provider.example, 1 CAA record"));
  CHECK(has("alias: shop.example.com is a CNAME for t.provider.example"));
  CHECK(has("t.provider.example CAA 0 issue \"letsencrypt.org\""));
  CHECK(has("found"));

  EngineOptions quiet;
  Engine plain(f.transport, f.clock, quiet);
  CHECK(run(plain, "shop.example.com").trace.empty());
}

TEST_CASE("the trace shows cache hits, climbing and the empty decision") {
  Fixture f;
  EngineOptions options;
  options.trace = true;
  Engine engine(f.transport, f.clock, options);
  run(engine, "a.example");
  LookupResult r = run(engine, "b.example");
  CAPTURE(r.trace);
  bool cached = false;
  bool decision = false;
  for (const std::string& line : r.trace) {
    cached = cached || line.find("CAA? example → from cache") != std::string::npos;
    decision = decision || line.find("CAA places no restriction") != std::string::npos;
  }
  CHECK(cached);
  CHECK(decision);
}

TEST_CASE("names for failure kinds and RCODEs") {
  CHECK(std::string(lookup::to_string(FailureKind::dnssec_bogus)) == "dnssec_bogus");
  CHECK(std::string(lookup::to_string(FailureKind::chain_too_long)) == "chain_too_long");
  CHECK(std::string(lookup::to_string(TransportFailure::truncated)) == "truncated");
  CHECK(dns::rcode_name(2) == "SERVFAIL");
  CHECK(dns::rcode_name(3) == "NXDOMAIN");
  CHECK(dns::rcode_name(23) == "RCODE23");
}

}  // namespace
