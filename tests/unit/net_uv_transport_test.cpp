// Tests for daemon/net/uv_transport against the scripted fault responder
// (tests/support) on loopback: normal answers, drops, late answers, forged
// and broken answers that must not end a query, TC=1 and the TCP retry with
// partial reads, error RCODEs and fail-over between resolvers, the caps on
// questions in flight and queries per second, and shutting down. Every test
// closes all handles and checks that the loop then closes cleanly.
#include <doctest/doctest.h>
#include <uv.h>

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <stdexcept>
#include <string>
#include <variant>
#include <vector>

#include "daemon/net/uv_transport.h"
#include "tests/support/fault_responder.h"

namespace {

using namespace std::chrono_literals;
using caad::caa::Record;
using caad::dns::Name;
using caad::lookup::Answer;
using caad::lookup::Failed;
using caad::lookup::Question;
using caad::lookup::Reply;
using caad::lookup::TransportFailure;
using caad::net::ResolverAddress;
using caad::net::TransportOptions;
using caad::net::UvTransport;
using caad::test::Action;
using caad::test::Fault;
using caad::test::FaultResponder;
using caad::test::Reaction;
using caad::test::TcpMode;

// A libuv loop for one test. finish() runs it until every handle has
// closed and returns uv_loop_close()'s result; if a test stops early, the
// destructor does the same so that later tests start clean.
class Loop {
 public:
  Loop() { REQUIRE(uv_loop_init(&m_loop) == 0); }
  ~Loop() {
    if (!m_closed) static_cast<void>(finish());
  }
  Loop(const Loop&) = delete;
  Loop& operator=(const Loop&) = delete;

  uv_loop_t* get() { return &m_loop; }

  // Runs the loop until `done()` holds or `limit` has passed. A ticking
  // timer makes sure each turn of the loop ends soon, so that the deadline
  // is checked even when nothing else happens.
  bool run_until(const std::function<bool()>& done, std::chrono::milliseconds limit = 5s) {
    auto* ticker = new uv_timer_t{};
    uv_timer_init(&m_loop, ticker);
    uv_timer_start(
        ticker, [](uv_timer_t*) {}, 5, 5);
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (!done() && std::chrono::steady_clock::now() < deadline) uv_run(&m_loop, UV_RUN_ONCE);
    uv_close(reinterpret_cast<uv_handle_t*>(ticker),
             [](uv_handle_t* h) { delete reinterpret_cast<uv_timer_t*>(h); });
    return done();
  }

  // Runs the loop to its end. A handle left open by mistake would keep it
  // running forever, so an unreferenced watchdog stops it after a while and
  // uv_loop_close() then reports the leak as UV_EBUSY.
  int finish() {
    m_closed = true;
    auto* watchdog = new uv_timer_t{};
    uv_timer_init(&m_loop, watchdog);
    uv_timer_start(
        watchdog, [](uv_timer_t* t) { uv_stop(t->loop); }, 3000, 0);
    uv_unref(reinterpret_cast<uv_handle_t*>(watchdog));
    uv_run(&m_loop, UV_RUN_DEFAULT);
    uv_close(reinterpret_cast<uv_handle_t*>(watchdog),
             [](uv_handle_t* h) { delete reinterpret_cast<uv_timer_t*>(h); });
    uv_run(&m_loop, UV_RUN_NOWAIT);
    return uv_loop_close(&m_loop);
  }

 private:
  uv_loop_t m_loop{};
  bool m_closed = false;
};

// Collects the replies the transport delivers.
struct Replies {
  std::vector<Reply> got;
  std::vector<std::string> order;  // names, in the order the replies came

  caad::lookup::ReplyHandler handler(std::string name = {}) {
    return [this, name](Reply reply) {
      got.push_back(std::move(reply));
      order.push_back(name);
    };
  }
  std::function<bool()> count_is(std::size_t n) {
    return [this, n] { return got.size() >= n; };
  }
  const Answer& answer(std::size_t i = 0) const {
    REQUIRE(got.size() > i);
    const auto* a = std::get_if<Answer>(&got[i]);
    if (a == nullptr) FAIL("reply " << i << " is a failure: " << std::get<Failed>(got[i]).detail);
    return *a;
  }
  const Failed& failed(std::size_t i = 0) const {
    REQUIRE(got.size() > i);
    const auto* f = std::get_if<Failed>(&got[i]);
    REQUIRE_MESSAGE(f != nullptr, "reply " << i << " is an answer");
    return *f;
  }
};

Question question(const std::string& name) {
  return Question{.name = *Name::parse(name), .type = 257, .checking_disabled = false};
}

TransportOptions options(std::vector<ResolverAddress> resolvers,
                         std::chrono::milliseconds timeout = 300ms, unsigned attempts = 3) {
  TransportOptions o;
  o.resolvers = std::move(resolvers);
  o.attempt_timeout = timeout;
  o.attempts = attempts;
  return o;
}

std::unique_ptr<FaultResponder> start_responder(uv_loop_t* loop,
                                                const std::string& host = "127.0.0.1") {
  auto responder = FaultResponder::start(loop, host);
  REQUIRE(responder != nullptr);
  responder->set_records("example.com", {Record{0, "issue", "ca.example"}});
  return responder;
}

const std::vector<Record> k_one_record{Record{0, "issue", "ca.example"}};

std::vector<Record> caa_values(const Answer& answer) {
  std::vector<Record> out;
  for (const auto& rr : answer.message.answer) {
    if (rr.caa) out.push_back(*rr.caa);
  }
  return out;
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

}  // namespace

TEST_CASE("an answer arrives from the loop, never inside query()") {
  Loop loop;
  auto responder = start_responder(loop.get());
  UvTransport transport(loop.get(), options({responder->address()}));
  Replies replies;
  transport.query(question("example.com"), replies.handler());
  CHECK(replies.got.empty());
  REQUIRE(loop.run_until(replies.count_is(1)));

  const Answer& answer = replies.answer();
  CHECK(answer.server == responder->address().text());
  CHECK(answer.message.rcode == 0);
  CHECK_FALSE(answer.message.truncated);
  CHECK(caa_values(answer) == k_one_record);
  CHECK(responder->udp_queries("example.com") == 1);
  CHECK(transport.counters().sent_udp == 1);
  CHECK(transport.counters().sent_tcp == 0);
  CHECK(transport.counters().by_rcode[0] == 1);

  transport.close();
  responder->close();
  CHECK(loop.finish() == 0);
}

TEST_CASE("a server that drops every query: timeout after all attempts") {
  Loop loop;
  auto responder = start_responder(loop.get());
  responder->script("example.com", {Reaction{}});
  UvTransport transport(loop.get(), options({responder->address()}, 100ms, 3));
  Replies replies;
  transport.query(question("example.com"), replies.handler());
  REQUIRE(loop.run_until(replies.count_is(1)));

  const Failed& failed = replies.failed();
  CHECK(failed.kind == TransportFailure::timeout);
  CHECK(contains(failed.detail, "after 3 tries"));
  CHECK(contains(failed.detail, responder->address().text()));
  CHECK(failed.server == responder->address().text());
  CHECK(responder->udp_queries("example.com") == 3);
  CHECK(transport.counters().timeouts == 3);
  CHECK(transport.counters().sent_udp == 3);

  transport.close();
  responder->close();
  CHECK(loop.finish() == 0);
}

TEST_CASE("late answers: taken within the attempt timeout, lost after it") {
  Loop loop;
  auto responder = start_responder(loop.get());
  responder->set_records("late.example.com", k_one_record);
  responder->set_records("later.example.com", k_one_record);
  responder->script("late.example.com", {Reaction{Action{Fault::answer, 60}}});
  // The first attempt's answer comes after that attempt has given up: its
  // socket may still be open for other queries, but no query waits for that
  // ID on it any more, so the answer is dropped. The second attempt is
  // answered at once.
  responder->script("later.example.com",
                    {Reaction{Action{Fault::answer, 250}}, Reaction{Action{Fault::answer, 0}}});
  UvTransport transport(loop.get(), options({responder->address()}, 150ms, 3));
  Replies replies;
  transport.query(question("late.example.com"), replies.handler());
  transport.query(question("later.example.com"), replies.handler());
  REQUIRE(loop.run_until(replies.count_is(2)));

  CHECK(caa_values(replies.answer(0)) == k_one_record);
  CHECK(caa_values(replies.answer(1)) == k_one_record);
  CHECK(responder->udp_queries("late.example.com") == 1);
  CHECK(responder->udp_queries("later.example.com") == 2);
  CHECK(transport.counters().timeouts == 1);

  transport.close();
  responder->close();
  CHECK(loop.finish() == 0);
}

TEST_CASE("forged or broken answers before the real one do not end the query") {
  struct Case {
    Fault fault;
    const char* what;
  };
  for (const Case c :
       {Case{Fault::wrong_id, "wrong ID"}, Case{Fault::wrong_question, "wrong question"},
        Case{Fault::garbage, "garbage"}, Case{Fault::spoof, "spoofed source port"}}) {
    CAPTURE(c.what);
    Loop loop;
    auto responder = start_responder(loop.get());
    responder->script("example.com", {Reaction{Action{c.fault, 0}, Action{Fault::answer, 40}}});
    UvTransport transport(loop.get(), options({responder->address()}, 1000ms, 1));
    Replies replies;
    transport.query(question("example.com"), replies.handler());
    REQUIRE(loop.run_until(replies.count_is(1)));

    CHECK(caa_values(replies.answer()) == k_one_record);
    CHECK(responder->udp_queries("example.com") == 1);
    const auto& counters = transport.counters();
    if (c.fault == Fault::wrong_id) CHECK(counters.mismatched == 1);
    if (c.fault == Fault::wrong_question || c.fault == Fault::garbage)
      CHECK(counters.malformed == 1);
    // A spoofed datagram from another port is dropped by the kernel (the
    // socket is connected) or, failing that, counted as mismatched.
    if (c.fault == Fault::spoof) CHECK(counters.malformed == 0);

    transport.close();
    responder->close();
    CHECK(loop.finish() == 0);
  }
}

TEST_CASE("only unusable answers: malformed after all attempts") {
  for (const Fault fault : {Fault::wrong_id, Fault::wrong_question, Fault::garbage}) {
    CAPTURE(static_cast<int>(fault));
    Loop loop;
    auto responder = start_responder(loop.get());
    responder->script("example.com", {Reaction{Action{fault, 0}}});
    UvTransport transport(loop.get(), options({responder->address()}, 100ms, 2));
    Replies replies;
    transport.query(question("example.com"), replies.handler());
    REQUIRE(loop.run_until(replies.count_is(1)));

    const Failed& failed = replies.failed();
    CHECK(failed.kind == TransportFailure::malformed);
    CHECK(contains(failed.detail, "after 2 tries"));
    CHECK(responder->udp_queries("example.com") == 2);

    transport.close();
    responder->close();
    CHECK(loop.finish() == 0);
  }
}

TEST_CASE("TC=1: the full RRset comes over TCP, read in pieces") {
  Loop loop;
  auto responder = start_responder(loop.get());
  std::vector<Record> big;
  for (int i = 0; i < 40; ++i) {
    big.push_back(Record{
        0, "issue", "ca" + std::to_string(i) + ".example.net; account=" + std::string(20, 'x')});
  }
  responder->set_records("big.example.com", big);
  responder->script("big.example.com", {Reaction{Action{Fault::truncated, 0}}});
  UvTransport transport(loop.get(), options({responder->address()}));
  Replies replies;
  transport.query(question("big.example.com"), replies.handler());
  REQUIRE(loop.run_until(replies.count_is(1)));

  const Answer& answer = replies.answer();
  CHECK_FALSE(answer.message.truncated);
  CHECK(caa_values(answer) == big);
  CHECK(responder->udp_queries("big.example.com") == 1);
  CHECK(responder->tcp_queries("big.example.com") == 1);
  const auto& counters = transport.counters();
  CHECK(counters.truncated == 1);
  CHECK(counters.sent_udp == 1);
  CHECK(counters.sent_tcp == 1);

  transport.close();
  responder->close();
  CHECK(loop.finish() == 0);
}

TEST_CASE("TC=1 and a TCP server that closes early: truncated after all attempts") {
  Loop loop;
  auto responder = start_responder(loop.get());
  responder->script("example.com", {Reaction{Action{Fault::truncated, 0}}});
  responder->set_tcp_mode(TcpMode::close_early);
  UvTransport transport(loop.get(), options({responder->address()}, 500ms, 2));
  Replies replies;
  transport.query(question("example.com"), replies.handler());
  REQUIRE(loop.run_until(replies.count_is(1)));

  const Failed& failed = replies.failed();
  CHECK(failed.kind == TransportFailure::truncated);
  CHECK(contains(failed.detail, "closed the TCP connection"));
  CHECK(responder->udp_queries("example.com") == 2);
  CHECK(responder->tcp_queries("example.com") == 2);
  CHECK(transport.counters().truncated == 2);

  transport.close();
  responder->close();
  CHECK(loop.finish() == 0);
}

TEST_CASE("error RCODEs from the only resolver are answers") {
  struct Case {
    Fault fault;
    std::uint16_t rcode;
  };
  for (const Case c : {Case{Fault::servfail, 2}, Case{Fault::refused, 5}, Case{Fault::notimp, 4}}) {
    CAPTURE(c.rcode);
    Loop loop;
    auto responder = start_responder(loop.get());
    responder->script("example.com", {Reaction{Action{c.fault, 0}}});
    UvTransport transport(loop.get(), options({responder->address()}));
    Replies replies;
    transport.query(question("example.com"), replies.handler());
    REQUIRE(loop.run_until(replies.count_is(1)));

    CHECK(replies.answer().message.rcode == c.rcode);
    CHECK(responder->udp_queries("example.com") == 1);
    CHECK(transport.counters().by_rcode[c.rcode] == 1);

    transport.close();
    responder->close();
    CHECK(loop.finish() == 0);
  }
}

TEST_CASE("fail-over between resolvers") {
  Loop loop;
  auto first = start_responder(loop.get());
  auto second = start_responder(loop.get());
  Replies replies;

  SUBCASE("REFUSED, then an answer from the second resolver") {
    first->script("example.com", {Reaction{Action{Fault::refused, 0}}});
    UvTransport transport(loop.get(), options({first->address(), second->address()}));
    transport.query(question("example.com"), replies.handler());
    REQUIRE(loop.run_until(replies.count_is(1)));
    CHECK(replies.answer().server == second->address().text());
    CHECK(caa_values(replies.answer()) == k_one_record);
    CHECK(first->udp_queries("example.com") == 1);
    CHECK(second->udp_queries("example.com") == 1);
    CHECK(transport.counters().by_rcode[5] == 1);
    transport.close();
  }
  SUBCASE("a drop, then an answer from the second resolver") {
    first->script("example.com", {Reaction{}});
    UvTransport transport(loop.get(), options({first->address(), second->address()}, 100ms));
    transport.query(question("example.com"), replies.handler());
    REQUIRE(loop.run_until(replies.count_is(1)));
    CHECK(replies.answer().server == second->address().text());
    CHECK(first->udp_queries("example.com") == 1);
    transport.close();
  }
  SUBCASE("SERVFAIL everywhere: the last SERVFAIL is the answer") {
    first->script("example.com", {Reaction{Action{Fault::servfail, 0}}});
    second->script("example.com", {Reaction{Action{Fault::servfail, 0}}});
    UvTransport transport(loop.get(), options({first->address(), second->address()}, 300ms, 2));
    transport.query(question("example.com"), replies.handler());
    REQUIRE(loop.run_until(replies.count_is(1)));
    CHECK(replies.answer().message.rcode == 2);
    CHECK(replies.answer().server == second->address().text());
    CHECK(first->udp_queries("example.com") == 1);
    CHECK(second->udp_queries("example.com") == 1);
    transport.close();
  }
  SUBCASE("SERVFAIL, then silence: the SERVFAIL is kept and returned") {
    first->script("example.com", {Reaction{Action{Fault::servfail, 0}}});
    second->script("example.com", {Reaction{}});
    UvTransport transport(loop.get(), options({first->address(), second->address()}, 100ms, 2));
    transport.query(question("example.com"), replies.handler());
    REQUIRE(loop.run_until(replies.count_is(1)));
    CHECK(replies.answer().message.rcode == 2);
    CHECK(replies.answer().server == first->address().text());
    transport.close();
  }
  SUBCASE("NOTIMP is final: no fail-over") {
    first->script("example.com", {Reaction{Action{Fault::notimp, 0}}});
    UvTransport transport(loop.get(), options({first->address(), second->address()}));
    transport.query(question("example.com"), replies.handler());
    REQUIRE(loop.run_until(replies.count_is(1)));
    CHECK(replies.answer().message.rcode == 4);
    CHECK(second->udp_queries("example.com") == 0);
    transport.close();
  }
  SUBCASE("attempts rotate back to the first resolver") {
    first->script("example.com", {Reaction{}, Reaction{Action{Fault::answer, 0}}});
    second->script("example.com", {Reaction{}});
    UvTransport transport(loop.get(), options({first->address(), second->address()}, 100ms, 3));
    transport.query(question("example.com"), replies.handler());
    REQUIRE(loop.run_until(replies.count_is(1)));
    CHECK(replies.answer().server == first->address().text());
    CHECK(first->udp_queries("example.com") == 2);
    CHECK(second->udp_queries("example.com") == 1);
    transport.close();
  }

  first->close();
  second->close();
  CHECK(loop.finish() == 0);
}

TEST_CASE("questions are spread over the resolvers in turn") {
  Loop loop;
  auto first = start_responder(loop.get());
  auto second = start_responder(loop.get());
  UvTransport transport(loop.get(), options({first->address(), second->address()}));
  Replies replies;
  for (int i = 0; i < 4; ++i) transport.query(question("example.com"), replies.handler());
  REQUIRE(loop.run_until(replies.count_is(4)));
  for (std::size_t i = 0; i < 4; ++i) CHECK(caa_values(replies.answer(i)) == k_one_record);
  CHECK(first->udp_queries("example.com") == 2);
  CHECK(second->udp_queries("example.com") == 2);

  transport.close();
  first->close();
  second->close();
  CHECK(loop.finish() == 0);
}

TEST_CASE("a closed UDP port: network failure after all attempts") {
  Loop loop;
  // Bind a socket to learn a free port, then close it again.
  auto* probe = new uv_udp_t{};
  uv_udp_init(loop.get(), probe);
  sockaddr_in any{};
  uv_ip4_addr("127.0.0.1", 0, &any);
  REQUIRE(uv_udp_bind(probe, reinterpret_cast<const sockaddr*>(&any), 0) == 0);
  sockaddr_in bound{};
  int length = sizeof bound;
  REQUIRE(uv_udp_getsockname(probe, reinterpret_cast<sockaddr*>(&bound), &length) == 0);
  uv_close(reinterpret_cast<uv_handle_t*>(probe),
           [](uv_handle_t* h) { delete reinterpret_cast<uv_udp_t*>(h); });
  uv_run(loop.get(), UV_RUN_NOWAIT);

  const ResolverAddress closed{"127.0.0.1", ntohs(bound.sin_port), false};
  UvTransport transport(loop.get(), options({closed}, 1000ms, 2));
  Replies replies;
  transport.query(question("example.com"), replies.handler());
  REQUIRE(loop.run_until(replies.count_is(1)));
  const Failed& failed = replies.failed();
  CHECK(failed.kind == TransportFailure::network);
  CHECK(contains(failed.detail, "after 2 tries"));
  CHECK(failed.server == closed.text());
  CHECK(transport.counters().sent_udp == 2);

  transport.close();
  CHECK(loop.finish() == 0);
}

TEST_CASE("max_in_flight: no more than two questions on the wire at once") {
  Loop loop;
  auto responder = start_responder(loop.get());
  std::vector<std::string> names;
  for (int i = 0; i < 10; ++i) {
    names.push_back("n" + std::to_string(i) + ".example.com");
    responder->set_records(names.back(), k_one_record);
    responder->script(names.back(), {Reaction{Action{Fault::answer, 30}}});
  }
  TransportOptions o = options({responder->address()});
  o.max_in_flight = 2;
  UvTransport transport(loop.get(), o);
  Replies replies;
  for (const auto& name : names) transport.query(question(name), replies.handler(name));
  REQUIRE(loop.run_until(replies.count_is(10)));

  for (std::size_t i = 0; i < 10; ++i) CHECK(caa_values(replies.answer(i)) == k_one_record);
  CHECK(responder->max_outstanding() == 2);
  REQUIRE(responder->arrivals().size() == 10);
  for (std::size_t i = 0; i < 10; ++i) CHECK(responder->arrivals()[i].name == names[i]);

  transport.close();
  responder->close();
  CHECK(loop.finish() == 0);
}

TEST_CASE("max_qps_per_resolver: five per second spreads ten questions over about a second") {
  Loop loop;
  auto responder = start_responder(loop.get());
  std::vector<std::string> names;
  for (int i = 0; i < 10; ++i) {
    names.push_back("q" + std::to_string(i) + ".example.com");
    responder->set_records(names.back(), k_one_record);
  }
  TransportOptions o = options({responder->address()});
  o.max_qps_per_resolver = 5;
  UvTransport transport(loop.get(), o);
  Replies replies;
  const auto started = std::chrono::steady_clock::now();
  for (const auto& name : names) transport.query(question(name), replies.handler(name));
  REQUIRE(loop.run_until(replies.count_is(10)));
  const auto elapsed = std::chrono::steady_clock::now() - started;

  // A full bucket sends five at once; the other five follow one every
  // 200 ms. Only a loose lower bound is checked: machines are slow, not fast.
  CHECK(elapsed >= 800ms);
  REQUIRE(responder->arrivals().size() == 10);
  for (std::size_t i = 0; i < 10; ++i) CHECK(responder->arrivals()[i].name == names[i]);
  CHECK(responder->arrivals()[9].at_ms - responder->arrivals()[0].at_ms >= 800);
  CHECK(replies.order == names);

  transport.close();
  responder->close();
  CHECK(loop.finish() == 0);
}

TEST_CASE("close() fails pending and queued questions; later questions fail from the loop") {
  Loop loop;
  auto responder = start_responder(loop.get());
  responder->script("example.com", {Reaction{}});
  TransportOptions o = options({responder->address()}, 5000ms);
  o.max_in_flight = 1;
  UvTransport transport(loop.get(), o);
  Replies replies;
  for (int i = 0; i < 3; ++i) transport.query(question("example.com"), replies.handler());
  REQUIRE(loop.run_until([&] { return responder->udp_queries("example.com") == 1; }));
  CHECK(replies.got.empty());

  transport.close();
  REQUIRE(replies.got.size() == 3);
  for (std::size_t i = 0; i < 3; ++i) {
    CHECK(replies.failed(i).kind == TransportFailure::network);
    CHECK(replies.failed(i).detail == "shutting down");
  }
  transport.close();  // a second close is harmless
  transport.query(question("example.com"), replies.handler());
  CHECK(replies.got.size() == 3);
  REQUIRE(loop.run_until(replies.count_is(4)));
  CHECK(replies.failed(3).detail == "shutting down");

  responder->close();
  CHECK(loop.finish() == 0);
}

TEST_CASE("handlers may ask again or close the transport") {
  Loop loop;
  auto responder = start_responder(loop.get());
  responder->set_records("second.example.com", k_one_record);
  responder->script("slow.example.com", {Reaction{}});
  UvTransport transport(loop.get(), options({responder->address()}, 5000ms));
  std::vector<std::string> events;

  transport.query(question("slow.example.com"), [&](Reply reply) {
    events.push_back(std::holds_alternative<Failed>(reply)
                         ? "slow failed: " + std::get<Failed>(reply).detail
                         : "slow answered");
  });
  transport.query(question("example.com"), [&](Reply reply) {
    events.push_back(std::holds_alternative<Answer>(reply) ? "first answered" : "first failed");
    transport.query(question("second.example.com"), [&](Reply second) {
      events.push_back(std::holds_alternative<Answer>(second) ? "second answered"
                                                              : "second failed");
      transport.close();
      transport.query(question("example.com"), [&](Reply) { events.push_back("after close"); });
    });
  });
  REQUIRE(loop.run_until([&] { return events.size() == 4; }));
  const std::vector<std::string> expected{"first answered", "second answered",
                                          "slow failed: shutting down", "after close"};
  CHECK(events == expected);

  responder->close();
  CHECK(loop.finish() == 0);
}

TEST_CASE("a handler that throws does not break the transport") {
  Loop loop;
  auto responder = start_responder(loop.get());
  UvTransport transport(loop.get(), options({responder->address()}));
  Replies replies;
  transport.query(question("example.com"),
                  [](Reply) { throw std::runtime_error("test handler throws on purpose"); });
  transport.query(question("example.com"), replies.handler());
  REQUIRE(loop.run_until(replies.count_is(1)));
  CHECK(caa_values(replies.answer()) == k_one_record);

  transport.close();
  responder->close();
  CHECK(loop.finish() == 0);
}

TEST_CASE("no resolvers: a network failure, from the loop") {
  Loop loop;
  UvTransport transport(loop.get(), options({}));
  Replies replies;
  transport.query(question("example.com"), replies.handler());
  CHECK(replies.got.empty());
  REQUIRE(loop.run_until(replies.count_is(1)));
  CHECK(replies.failed().kind == TransportFailure::network);
  transport.close();
  CHECK(loop.finish() == 0);
}

TEST_CASE("destroying the transport fails what is pending and closes its handles") {
  Loop loop;
  auto responder = start_responder(loop.get());
  responder->script("example.com", {Reaction{}});
  Replies replies;
  {
    UvTransport transport(loop.get(), options({responder->address()}, 5000ms));
    transport.query(question("example.com"), replies.handler());
    REQUIRE(loop.run_until([&] { return responder->udp_queries("example.com") == 1; }));
  }
  REQUIRE(replies.got.size() == 1);
  CHECK(replies.failed().detail == "shutting down");
  responder->close();
  CHECK(loop.finish() == 0);
}

TEST_CASE("IPv6: UDP and the TCP retry over ::1") {
  Loop loop;
  auto responder = FaultResponder::start(loop.get(), "::1");
  if (!responder) {
    MESSAGE("skipped: cannot bind ::1 on this machine");
    CHECK(loop.finish() == 0);
    return;
  }
  responder->set_records("example.com", k_one_record);
  responder->set_records("big.example.com", k_one_record);
  responder->script("big.example.com", {Reaction{Action{Fault::truncated, 0}}});
  UvTransport transport(loop.get(), options({responder->address()}));
  Replies replies;
  transport.query(question("example.com"), replies.handler());
  transport.query(question("big.example.com"), replies.handler());
  REQUIRE(loop.run_until(replies.count_is(2)));
  CHECK(replies.answer(0).server == "[::1]:" + std::to_string(responder->address().port));
  CHECK(caa_values(replies.answer(0)) == k_one_record);
  CHECK(caa_values(replies.answer(1)) == k_one_record);
  CHECK(responder->tcp_queries("big.example.com") == 1);

  transport.close();
  responder->close();
  CHECK(loop.finish() == 0);
}

TEST_CASE("UDP sockets are pooled: each takes a few queries, then a socket on a fresh port") {
  Loop loop;
  auto responder = start_responder(loop.get());
  std::vector<std::string> names;
  for (int i = 0; i < 12; ++i) {
    names.push_back("p" + std::to_string(i) + ".example.com");
    responder->set_records(names.back(), k_one_record);
  }
  TransportOptions o = options({responder->address()});
  o.udp_sockets_per_resolver = 2;
  o.queries_per_socket = 3;
  o.socket_lifetime = 60s;
  UvTransport transport(loop.get(), o);
  Replies replies;
  for (const auto& name : names) transport.query(question(name), replies.handler(name));
  REQUIRE(loop.run_until(replies.count_is(12)));
  for (std::size_t i = 0; i < 12; ++i) CHECK(caa_values(replies.answer(i)) == k_one_record);

  // At most three queries per port, each with its own ID; so at least four
  // ports, and far fewer than one per query (a retired socket is replaced
  // at once, so the turns do not come out even).
  std::map<std::uint16_t, std::vector<std::uint16_t>> ids_by_port;
  for (const auto& arrival : responder->arrivals()) ids_by_port[arrival.source_port].push_back(arrival.id);
  CHECK(ids_by_port.size() >= 4);
  CHECK(ids_by_port.size() <= 6);
  for (const auto& [port, ids] : ids_by_port) {
    CAPTURE(port);
    CHECK(ids.size() <= 3);
    CHECK(std::set<std::uint16_t>(ids.begin(), ids.end()).size() == ids.size());
  }
  CHECK(transport.counters().sent_udp == 12);

  transport.close();
  responder->close();
  CHECK(loop.finish() == 0);
}

TEST_CASE("a pooled socket is replaced once its lifetime is over") {
  Loop loop;
  auto responder = start_responder(loop.get());
  responder->set_records("a.example.com", k_one_record);
  responder->set_records("b.example.com", k_one_record);
  responder->set_records("c.example.com", k_one_record);
  TransportOptions o = options({responder->address()});
  o.udp_sockets_per_resolver = 1;
  o.socket_lifetime = 50ms;
  UvTransport transport(loop.get(), o);
  Replies replies;
  transport.query(question("a.example.com"), replies.handler("a"));
  REQUIRE(loop.run_until(replies.count_is(1)));
  const auto waited = std::chrono::steady_clock::now() + 120ms;
  loop.run_until([&] { return std::chrono::steady_clock::now() >= waited; });
  transport.query(question("b.example.com"), replies.handler("b"));
  transport.query(question("c.example.com"), replies.handler("c"));
  REQUIRE(loop.run_until(replies.count_is(3)));

  const auto& arrivals = responder->arrivals();
  REQUIRE(arrivals.size() == 3);
  CHECK(arrivals[0].source_port != arrivals[1].source_port);  // a new socket for b
  CHECK(arrivals[1].source_port == arrivals[2].source_port);  // which c shares

  transport.close();
  responder->close();
  CHECK(loop.finish() == 0);
}

TEST_CASE("on a shared socket each answer goes to the query with its ID, in any order") {
  Loop loop;
  auto responder = start_responder(loop.get());
  responder->set_records("slow.example.com", {Record{0, "issue", "slow.example"}});
  responder->set_records("fast.example.com", {Record{0, "issue", "fast.example"}});
  responder->script("slow.example.com", {Reaction{Action{Fault::answer, 80}}});
  TransportOptions o = options({responder->address()}, 1000ms, 1);
  o.udp_sockets_per_resolver = 1;
  UvTransport transport(loop.get(), o);
  Replies replies;
  transport.query(question("slow.example.com"), replies.handler("slow"));
  transport.query(question("fast.example.com"), replies.handler("fast"));
  REQUIRE(loop.run_until(replies.count_is(2)));

  const std::vector<std::string> order{"fast", "slow"};
  CHECK(replies.order == order);
  CHECK(caa_values(replies.answer(0)) == std::vector<Record>{Record{0, "issue", "fast.example"}});
  CHECK(caa_values(replies.answer(1)) == std::vector<Record>{Record{0, "issue", "slow.example"}});
  const auto& arrivals = responder->arrivals();
  REQUIRE(arrivals.size() == 2);
  CHECK(arrivals[0].source_port == arrivals[1].source_port);
  CHECK(arrivals[0].id != arrivals[1].id);

  transport.close();
  responder->close();
  CHECK(loop.finish() == 0);
}

TEST_CASE("a wrong ID on a shared socket ends no query, and is reported for the question it answers") {
  Loop loop;
  auto responder = start_responder(loop.get());
  responder->set_records("other.example.com", k_one_record);
  responder->script("example.com", {Reaction{Action{Fault::wrong_id, 0}}});
  responder->script("other.example.com", {Reaction{Action{Fault::answer, 50}}});
  TransportOptions o = options({responder->address()}, 150ms, 1);
  o.udp_sockets_per_resolver = 1;
  UvTransport transport(loop.get(), o);
  Replies replies;
  transport.query(question("example.com"), replies.handler("example"));
  transport.query(question("other.example.com"), replies.handler("other"));
  REQUIRE(loop.run_until(replies.count_is(2)));

  // The other query on the socket is not disturbed by the stray ID.
  CHECK(replies.order[0] == "other");
  CHECK(caa_values(replies.answer(0)) == k_one_record);
  CHECK(replies.failed(1).kind == TransportFailure::malformed);
  CHECK(contains(replies.failed(1).detail, "wrong ID"));
  CHECK(transport.counters().mismatched == 1);

  transport.close();
  responder->close();
  CHECK(loop.finish() == 0);
}
