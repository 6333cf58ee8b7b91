// The CAA lookup engine: RFC 8659 §3 tree climbing over an injected transport.
//
// Three kinds of object take part, each with one owner (Engine::Impl):
//
//  * A Lookup is one certificate name. It climbs from the requested name X to
//    the TLD; at each climbing step it resolves CAA(step name), which may take
//    several questions when an answer ends in an alias without saying whether
//    the target has CAA. Its LookupState says whether it is queued, running
//    or waiting for a fetch; a finished lookup leaves the table at once.
//  * A Fetch is one question in flight, shared by every lookup that needs the
//    same name at the same time (coalescing). Its FetchState says whether it
//    is waiting for the plain answer or for the CD=1 retry that tells DNSSEC
//    bogus apart from other SERVFAILs. The answer is interpreted once into an
//    Outcome (found / empty / alias-to-requery) or a failure, and handed to
//    every waiter.
//  * The cache keeps Outcomes (never failures) for names that many lookups
//    share: climbing steps above the requested name and alias targets asked
//    for directly. The requested name's own first question is not stored, so
//    a hundred thousand distinct leaves do not crowd out their parents.
//
// Re-entrancy: the transport may answer before query() returns and a user's
// handler may start lookups from inside its callback. Rather than recursing,
// every entry point posts an event and one drain loop runs them in order, so
// nothing inside the engine is ever re-entered, iterators are never held
// across a callback, and a long run of synchronous answers does not grow the
// stack. Replies that arrive after the engine is gone find a cleared anchor
// and are dropped.
#include "lib/lookup/engine.h"

#include <algorithm>
#include <cstdint>
#include <deque>
#include <exception>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <variant>
#include <vector>

#include "lib/lookup/cache.h"

namespace caad::lookup {
namespace {

// Negative answers without an SOA give no TTL of their own; this keeps them
// for a short while, long enough to serve a burst of siblings.
constexpr Duration k_default_negative_ttl = std::chrono::seconds(60);

constexpr std::uint16_t k_type_cname = static_cast<std::uint16_t>(dns::RRType::cname);
constexpr std::uint16_t k_type_dname = static_cast<std::uint16_t>(dns::RRType::dname);
constexpr std::uint16_t k_type_soa = static_cast<std::uint16_t>(dns::RRType::soa);
constexpr std::uint16_t k_type_ns = static_cast<std::uint16_t>(dns::RRType::ns);
constexpr std::uint16_t k_type_caa = static_cast<std::uint16_t>(dns::RRType::caa);
constexpr std::uint16_t k_rcode_noerror = static_cast<std::uint16_t>(dns::Rcode::noerror);
constexpr std::uint16_t k_rcode_nxdomain = static_cast<std::uint16_t>(dns::Rcode::nxdomain);
constexpr std::uint16_t k_rcode_servfail = static_cast<std::uint16_t>(dns::Rcode::servfail);

using LookupId = std::uint64_t;
using FetchId = std::uint64_t;

// One alias followed inside an answer.
struct Hop {
  dns::Name target;
  bool via_dname = false;  // rewritten by a DNAME with no synthesized CNAME
};

enum class OutcomeKind {
  found,  // CAA records at the final name of the chain
  empty,  // proof that the final name has none (NODATA or NXDOMAIN)
  alias,  // a chain that ends without records or proof: ask the final name
};

// What one answer says about CAA(question name). Shared between the waiters
// of a fetch and the cache, so it is immutable once built.
struct Outcome {
  OutcomeKind kind = OutcomeKind::empty;
  std::vector<Hop> hops;             // aliases followed from the question name
  std::vector<caa::Record> records;  // found only
  bool nxdomain = false;             // empty because the final name does not exist
  std::string summary;               // for traces: "NOERROR from 127.0.0.1:53: 1 CAA record"
};
using SharedOutcome = std::shared_ptr<const Outcome>;

struct QueryFailure {
  FailureKind kind = FailureKind::servfail;
  std::string detail;
  std::string server;
};

struct Interpretation {
  SharedOutcome outcome;
  Duration ttl{0};
};

std::string who(const std::string& server) {
  return server.empty() ? "the resolver" : server;
}

std::string seconds_text(Duration d) {
  return std::to_string(std::chrono::duration_cast<std::chrono::seconds>(d).count()) + " s";
}

std::string plural(std::size_t n, const char* one, const char* many) {
  return std::to_string(n) + " " + (n == 1 ? one : many);
}

Duration ttl_of(std::uint32_t seconds) {
  return std::chrono::seconds(seconds);
}

FailureKind failure_for_rcode(std::uint16_t rcode) {
  switch (rcode) {
    case static_cast<std::uint16_t>(dns::Rcode::servfail):
      return FailureKind::servfail;
    case static_cast<std::uint16_t>(dns::Rcode::refused):
      return FailureKind::refused;
    case static_cast<std::uint16_t>(dns::Rcode::notimp):
      return FailureKind::notimp;
    case static_cast<std::uint16_t>(dns::Rcode::formerr):
      return FailureKind::formerr;
    default:
      return FailureKind::other_rcode;
  }
}

FailureKind failure_for_transport(TransportFailure f) {
  switch (f) {
    case TransportFailure::timeout:
      return FailureKind::timeout;
    case TransportFailure::network:
      return FailureKind::network;
    case TransportFailure::malformed:
      return FailureKind::malformed;
    case TransportFailure::truncated:
      return FailureKind::truncated;
  }
  return FailureKind::network;
}

const dns::ResourceRecord* find_cname(const dns::Message& m, const dns::Name& owner) {
  for (const dns::ResourceRecord& rr : m.answer) {
    if (rr.type == k_type_cname && rr.target && rr.owner == owner) return &rr;
  }
  return nullptr;
}

// A DNAME applies to names strictly below its owner, never to the owner
// itself (RFC 6672 §2.3), so a CAA query at a DNAME owner reads its own data.
const dns::ResourceRecord* find_dname(const dns::Message& m, const dns::Name& name) {
  for (const dns::ResourceRecord& rr : m.answer) {
    if (rr.type == k_type_dname && rr.target && rr.owner != name && name.is_at_or_below(rr.owner)) {
      return &rr;
    }
  }
  return nullptr;
}

std::optional<dns::Name> dname_substitute(const dns::Name& name, const dns::ResourceRecord& dname) {
  const std::string& text = name.text();
  const std::size_t keep = text.size() - dname.owner.text().size();  // includes the dot
  return dns::Name::from_dns(text.substr(0, keep) + dname.target->text());
}

const dns::ResourceRecord* find_soa(const dns::Message& m) {
  for (const dns::ResourceRecord& rr : m.authority) {
    if (rr.type == k_type_soa) return &rr;
  }
  return nullptr;
}

bool has_ns(const dns::Message& m) {
  return std::any_of(m.authority.begin(), m.authority.end(),
                     [](const dns::ResourceRecord& rr) { return rr.type == k_type_ns; });
}

// RFC 2308 §5: a negative answer lives for the lesser of the SOA's own TTL
// and its MINIMUM field.
Duration negative_ttl(const dns::ResourceRecord* soa) {
  if (soa == nullptr) return k_default_negative_ttl;
  return ttl_of(std::min(soa->ttl, soa->soa_minimum.value_or(soa->ttl)));
}

std::string chain_text(const dns::Name& start, const std::vector<Hop>& hops,
                       const dns::Name& last) {
  std::string s = start.text();
  for (const Hop& h : hops) s += " → " + h.target.text();
  return s + " → " + last.text();
}

// Reads one answer to "CAA? qname" (NOERROR or NXDOMAIN, or an rcode that is
// a failure; SERVFAIL's CD retry is decided by the caller). Follows the
// CNAME/DNAME chain in the answer, takes the CAA records owned by its final
// name, and decides whether the answer proves "none here" or leaves the final
// name to be asked directly.
std::variant<Interpretation, QueryFailure> interpret(const dns::Name& qname, const Answer& answer,
                                                     const EngineOptions& options, bool trace) {
  const dns::Message& m = answer.message;
  const std::string rcode = dns::rcode_name(m.rcode);
  if (m.truncated) {
    return QueryFailure{FailureKind::truncated,
                        who(answer.server) + " answered CAA " + qname.text() +
                            " with TC=1, so the records may be incomplete",
                        answer.server};
  }
  if (m.rcode != k_rcode_noerror && m.rcode != k_rcode_nxdomain) {
    return QueryFailure{failure_for_rcode(m.rcode),
                        who(answer.server) + " answered " + rcode + " for CAA " + qname.text(),
                        answer.server};
  }

  Outcome out;
  Duration ttl = options.max_cache_ttl;
  dns::Name current = qname;
  while (true) {
    std::optional<dns::Name> next;
    bool via_dname = false;
    // A resolver that synthesizes a CNAME from a DNAME sends both; taking the
    // CNAME first counts that step once, as one alias.
    if (const dns::ResourceRecord* cname = find_cname(m, current)) {
      next = *cname->target;
      ttl = std::min(ttl, ttl_of(cname->ttl));
    } else if (const dns::ResourceRecord* dname = find_dname(m, current)) {
      next = dname_substitute(current, *dname);
      if (!next) {
        return QueryFailure{FailureKind::malformed,
                            who(answer.server) + " answered CAA " + qname.text() +
                                " with a DNAME " + dname->owner.text() + " → " +
                                dname->target->text() + " that makes " + current.text() +
                                " too long",
                            answer.server};
      }
      via_dname = true;
      ttl = std::min(ttl, ttl_of(dname->ttl));
    } else {
      break;
    }
    const bool seen =
        *next == qname || std::any_of(out.hops.begin(), out.hops.end(),
                                      [&](const Hop& h) { return h.target == *next; });
    if (seen) {
      return QueryFailure{FailureKind::alias_loop,
                          who(answer.server) + " answered CAA " + qname.text() +
                              " with an alias loop: " + chain_text(qname, out.hops, *next),
                          answer.server};
    }
    out.hops.push_back(Hop{*next, via_dname});
    if (out.hops.size() > options.max_chain) {
      return QueryFailure{FailureKind::chain_too_long,
                          who(answer.server) + " answered CAA " + qname.text() +
                              " with more than " + std::to_string(options.max_chain) + " aliases",
                          answer.server};
    }
    current = std::move(*next);
  }

  for (const dns::ResourceRecord& rr : m.answer) {
    if (rr.type != k_type_caa || rr.owner != current) continue;
    if (!rr.caa) {
      // A record we cannot read might be the one that forbids issuance, so
      // it is not quietly treated as absent.
      return QueryFailure{FailureKind::malformed,
                          who(answer.server) + " answered CAA " + qname.text() +
                              " with a CAA record at " + current.text() +
                              " that could not be decoded",
                          answer.server};
    }
    out.records.push_back(*rr.caa);
    ttl = std::min(ttl, ttl_of(rr.ttl));
  }

  const dns::ResourceRecord* soa = find_soa(m);
  std::string what;
  if (!out.records.empty()) {
    out.kind = OutcomeKind::found;
    if (trace) what = plural(out.records.size(), "CAA record", "CAA records");
  } else if (m.rcode == k_rcode_nxdomain) {
    out.kind = OutcomeKind::empty;
    out.nxdomain = true;
    ttl = std::min(ttl, negative_ttl(soa));
    if (trace) what = current.text() + " does not exist";
  } else if (soa != nullptr) {
    out.kind = OutcomeKind::empty;
    ttl = std::min(ttl, negative_ttl(soa));
    if (trace) what = "no CAA at " + current.text();
  } else if (!out.hops.empty()) {
    // The chain stops at a name the answer says nothing about (a resolver
    // that does not chase aliases, or an authoritative server for the first
    // zone only): the target has to be asked directly.
    out.kind = OutcomeKind::alias;
    if (trace) what = "no CAA and no negative answer for " + current.text();
  } else if (m.answer.empty() && has_ns(m)) {
    return QueryFailure{FailureKind::referral,
                        who(answer.server) + " answered CAA " + qname.text() +
                            " with a referral instead of an answer; is it a recursive resolver?",
                        answer.server};
  } else {
    // NODATA without an SOA: still an answer with nothing in it.
    out.kind = OutcomeKind::empty;
    ttl = std::min(ttl, k_default_negative_ttl);
    if (trace) what = "no CAA at " + current.text();
  }

  if (trace) {
    std::string s = rcode + " from " + who(answer.server) + ": ";
    for (const Hop& h : out.hops)
      s += (h.via_dname ? "DNAME to " : "CNAME ") + h.target.text() + ", ";
    out.summary = s + what;
  }
  return Interpretation{std::make_shared<const Outcome>(std::move(out)),
                        std::max(ttl, Duration{0})};
}

enum class LookupState {
  queued,   // lookup() was called; the drain loop has not started it yet
  running,  // deciding what to ask next (never seen outside the drain loop)
  waiting,  // waiting for a fetch's answer
};

struct Lookup {
  LookupId id = 0;
  Instant deadline;
  LookupHandler done;
  LookupResult result;
  LookupState state = LookupState::queued;
  std::size_t step = 0;          // climbing step: 0 is the requested name
  dns::Name climb;               // the name on the climbing path
  dns::Name asking;              // the name asked for: climb, or an alias target
  std::vector<dns::Name> chain;  // aliases followed in this step, across re-queries
  FetchId fetch = 0;             // the fetch waited for, in state waiting
};

enum class FetchState {
  asking,        // the plain question is out
  asking_again,  // it got SERVFAIL; the plain question is out once more
  asking_cd,     // SERVFAIL twice; the same question with CD=1 is out
};

struct Fetch {
  FetchId id = 0;
  FetchState state = FetchState::asking;
  dns::Name name;
  LookupId originator = 0;  // the lookup whose questions these are
  bool shareable = false;   // some waiter asks for a shared name: cache the answer
  unsigned questions_sent = 0;
  Instant sent;                    // when the last question went out
  std::vector<LookupId> waiters;   // the originator first
  std::string servfail_server;     // who answered SERVFAIL, while asking_again or asking_cd
  std::vector<std::string> lines;  // trace lines, when tracing
};

struct StartEvent {
  LookupId id;
};
struct ReplyEvent {
  std::string key;
  FetchId fetch;
  Reply reply;
};
struct ExpireEvent {};
using Event = std::variant<StartEvent, ReplyEvent, ExpireEvent>;

}  // namespace

struct Engine::Impl {
  // Lets a transport hold on to the engine in its reply handlers without
  // keeping it alive: the destructor clears it, and late replies are dropped.
  struct Anchor {
    Impl* impl;
  };

  Impl(Transport& transport, const Clock& clock, EngineOptions options)
      : m_transport(transport),
        m_clock(clock),
        m_options(options),
        m_cache(options.cache_entries),
        m_anchor(std::make_shared<Anchor>(Anchor{this})) {}

  ~Impl() { m_anchor->impl = nullptr; }

  Impl(const Impl&) = delete;
  Impl& operator=(const Impl&) = delete;

  void start(const dns::DomainRequest& request, LookupHandler done) {
    const LookupId id = ++m_last_lookup;
    Lookup l{id,
             m_clock.now() + m_options.lookup_deadline,
             std::move(done),
             LookupResult(request),
             LookupState::queued,
             0,
             request.name,
             request.name,
             {},
             0};
    m_lookups.emplace(id, std::move(l));
    post(StartEvent{id});
  }

  void post(Event event) {
    m_events.push_back(std::move(event));
    if (m_draining) return;
    m_draining = true;
    // Reset even if a user's handler throws, so the engine stays usable.
    struct Reset {
      bool& flag;
      ~Reset() { flag = false; }
    } reset{m_draining};
    while (!m_events.empty()) {
      Event next = std::move(m_events.front());
      m_events.pop_front();
      std::visit([this](auto& e) { handle(e); }, next);
    }
  }

  void handle(StartEvent& e) {
    auto it = m_lookups.find(e.id);
    if (it == m_lookups.end()) return;  // expired before it started
    Lookup& l = it->second;
    l.state = LookupState::running;
    if (m_options.trace) {
      note(l, "lookup CAA for " + l.result.request.text() +
                  (l.result.request.wildcard
                       ? ": the CA checks " + l.climb.text() + " with wildcard rules"
                       : ""));
    }
    advance(l);
  }

  void handle(ExpireEvent&) {
    const Instant now = m_clock.now();
    // Ids grow with start time and every lookup has the same deadline, so the
    // map's order is deadline order. Lookups started by handlers called here
    // are newer than `last` and are left alone even with a zero deadline.
    const LookupId last = m_last_lookup;
    while (!m_lookups.empty()) {
      Lookup& l = m_lookups.begin()->second;
      if (l.id > last || l.deadline > now) break;
      if (auto f = m_fetches.find(l.asking.text());
          l.state == LookupState::waiting && f != m_fetches.end() && f->second.id == l.fetch &&
          f->second.originator == l.id) {
        l.result.queries += f->second.questions_sent;
      }
      // The fetch stays: its answer may still serve other lookups and the cache.
      fail(l, Failure{FailureKind::timeout, l.asking,
                      "no answer for CAA " + l.asking.text() + " within the lookup deadline of " +
                          seconds_text(m_options.lookup_deadline),
                      ""});
    }
  }

  void handle(ReplyEvent& e) {
    auto it = m_fetches.find(e.key);
    if (it == m_fetches.end() || it->second.id != e.fetch) return;
    Fetch& f = it->second;
    const bool cd = f.state == FetchState::asking_cd;
    const bool again = f.state == FetchState::asking_again;
    // Only built when tracing: most replies are never shown to anyone.
    const std::string asked =
        m_options.trace ? "CAA? " + f.name.text() + (cd ? " (CD=1)" : again ? " (again)" : "")
                        : std::string();

    if (const Failed* failed = std::get_if<Failed>(&e.reply)) {
      if (m_options.trace) f.lines.push_back(asked + " → no answer: " + failed->detail);
      if (cd || again) {
        complete(it, QueryFailure{FailureKind::servfail,
                                  who(f.servfail_server) + " answered SERVFAIL for CAA " +
                                      f.name.text() + " (the " + (cd ? "CD=1 " : "") +
                                      "retry got no answer)",
                                  f.servfail_server});
      } else {
        complete(it,
                 QueryFailure{failure_for_transport(failed->kind), failed->detail, failed->server});
      }
      return;
    }

    const Answer& answer = std::get<Answer>(e.reply);
    const std::uint16_t rcode = answer.message.rcode;
    if (m_options.trace) {
      f.lines.push_back(asked + " → " + dns::rcode_name(rcode) + " from " + who(answer.server) +
                        (answer.message.truncated ? " (TC=1)" : ""));
    }
    if (cd) {
      // With validation off the resolver can answer: the SERVFAIL came from
      // DNSSEC, which a CA's validating resolver fails the same way.
      if (rcode == k_rcode_noerror || rcode == k_rcode_nxdomain) {
        complete(
            it, QueryFailure{FailureKind::dnssec_bogus,
                             who(f.servfail_server) + " answered SERVFAIL for CAA " +
                                 f.name.text() + " and " + dns::rcode_name(rcode) +
                                 " with checking disabled: DNSSEC validation failed, the answer is "
                                 "DNSSEC bogus",
                             f.servfail_server});
      } else {
        complete(
            it, QueryFailure{FailureKind::servfail,
                             who(f.servfail_server) + " answered SERVFAIL for CAA " + f.name.text(),
                             f.servfail_server});
      }
      return;
    }
    if (rcode == k_rcode_servfail && !answer.message.truncated) {
      // A SERVFAIL is asked once more before the CD=1 probe: a resolver under
      // load or with a flaky upstream fails transiently, and a transient
      // failure that the probe then answers would be mistaken for DNSSEC
      // bogus. The Baseline Requirements also want a retry before a failure
      // counts.
      f.servfail_server = answer.server;
      if (f.state == FetchState::asking) {
        f.state = FetchState::asking_again;
        send(f, false);
      } else {
        f.state = FetchState::asking_cd;
        send(f, true);
      }
      return;
    }

    auto result = interpret(f.name, answer, m_options, m_options.trace);
    if (QueryFailure* failure = std::get_if<QueryFailure>(&result)) {
      complete(it, std::move(*failure));
    } else {
      Interpretation& i = std::get<Interpretation>(result);
      if (m_options.trace) f.lines.back() = asked + " → " + i.outcome->summary;
      if (f.shareable && i.ttl > Duration{0}) {
        m_cache.insert(f.name.text(), i.outcome, m_clock.now() + i.ttl);
      }
      complete(it, std::move(i.outcome));
    }
  }

  // Hands a fetch's result to each of its waiters. The fetch leaves the table
  // first, so that a waiter that asks the same name again starts afresh.
  void complete(std::unordered_map<std::string, Fetch>::iterator it,
                std::variant<SharedOutcome, QueryFailure> result) {
    Fetch f = std::move(it->second);
    m_fetches.erase(it);
    for (const LookupId id : f.waiters) {
      auto lit = m_lookups.find(id);
      if (lit == m_lookups.end()) continue;  // expired; the answer arrived too late
      Lookup& l = lit->second;
      if (l.state != LookupState::waiting || l.fetch != f.id) continue;
      l.state = LookupState::running;
      if (id == f.originator) l.result.queries += f.questions_sent;
      if (m_options.trace) {
        for (const std::string& line : f.lines) note(l, line);
      }
      if (const QueryFailure* failure = std::get_if<QueryFailure>(&result)) {
        std::string detail = failure->detail;
        if (l.asking != l.climb) detail += " (an alias target of " + l.climb.text() + ")";
        fail(l, Failure{failure->kind, l.asking, std::move(detail), failure->server});
        continue;
      }
      if (apply(l, *std::get<SharedOutcome>(result))) advance(l);
    }
  }

  // Asks l.asking: from the cache, by joining an identical question in
  // flight, or by sending it. Cached answers are applied on the spot, so one
  // call may climb several steps.
  void advance(Lookup& l) {
    while (true) {
      const std::string& key = l.asking.text();
      if (const auto* hit = m_cache.find(key, m_clock.now())) {
        ++m_stats.cache_hits;
        // Copied: applying it below must not depend on the cache entry.
        const SharedOutcome outcome = hit->value;
        if (m_options.trace) {
          note(l, "CAA? " + key + " → from cache (" + outcome->summary + "), for another " +
                      seconds_text(hit->expires - m_clock.now()));
        }
        if (!apply(l, *outcome)) return;
        continue;
      }
      const bool shareable = l.step > 0 || l.asking != l.climb;
      if (auto f = m_fetches.find(key); f != m_fetches.end()) {
        Fetch& fetch = f->second;
        fetch.waiters.push_back(l.id);
        fetch.shareable = fetch.shareable || shareable;
        l.state = LookupState::waiting;
        l.fetch = fetch.id;
        if (m_clock.now() - fetch.sent >= m_options.lookup_deadline) {
          // The transport promises an answer, but should one ever be lost,
          // re-sending keeps a popular name from waiting on it forever. The
          // fetch keeps its id, so whichever answer comes first counts.
          if (m_options.trace)
            note(l, "CAA? " + key + ": the same question got no answer in time; asking again");
          fetch.originator = l.id;
          fetch.questions_sent = 0;
          send(fetch, fetch.state == FetchState::asking_cd);
          return;
        }
        ++m_stats.coalesced;
        if (m_options.trace)
          note(l, "CAA? " + key + ": the same question is in flight, sharing its answer");
        return;
      }
      const FetchId id = ++m_last_fetch;
      Fetch fetch{id, FetchState::asking, l.asking, l.id, shareable, 0, {}, {l.id}, {}, {}};
      auto it = m_fetches.emplace(key, std::move(fetch)).first;
      l.state = LookupState::waiting;
      l.fetch = id;
      // The transport may answer before send() returns; the answer is queued
      // as an event, so `l` and `it` stay valid here.
      send(it->second, false);
      return;
    }
  }

  void send(Fetch& f, bool checking_disabled) {
    ++f.questions_sent;
    ++m_stats.queries_sent;
    f.sent = m_clock.now();
    Question q{f.name, k_type_caa, checking_disabled};
    try {
      m_transport.query(q, [anchor = m_anchor, key = f.name.text(), id = f.id](Reply reply) {
        if (anchor->impl == nullptr) return;
        anchor->impl->post(ReplyEvent{key, id, std::move(reply)});
      });
    } catch (const std::exception& e) {
      // A transport should report failures as values; if one throws anyway,
      // the question must still get its one answer or its waiters would
      // hang. Queued like any reply; a second one for this fetch is ignored.
      post(ReplyEvent{
          f.name.text(), f.id,
          Failed{TransportFailure::network,
                 std::string("the transport could not send CAA ") + f.name.text() + ": " + e.what(),
                 ""}});
    }
  }

  // Applies one answer about l.asking. Returns true when the lookup has a
  // new name to ask (an alias target or the next climbing step), false when
  // it finished (and is gone).
  bool apply(Lookup& l, const Outcome& o) {
    const std::size_t first_hop = l.chain.size();
    for (const Hop& hop : o.hops) {
      const bool seen = hop.target == l.climb ||
                        std::find(l.chain.begin(), l.chain.end(), hop.target) != l.chain.end();
      if (seen) {
        std::string loop = l.climb.text();
        for (const dns::Name& n : l.chain) loop += " → " + n.text();
        fail(l, Failure{FailureKind::alias_loop, l.asking,
                        "the aliases from CAA " + l.climb.text() + " come back to " +
                            hop.target.text() + ": " + loop + " → " + hop.target.text(),
                        ""});
        return false;
      }
      l.chain.push_back(hop.target);
      if (m_options.trace) {
        const dns::Name& from =
            l.chain.size() - 1 == first_hop ? l.asking : l.chain[l.chain.size() - 2];
        note(l, "alias: " + from.text() +
                    (hop.via_dname ? " is rewritten by a DNAME to " : " is a CNAME for ") +
                    hop.target.text());
      }
      if (l.chain.size() > m_options.max_chain) {
        fail(l, Failure{FailureKind::chain_too_long, l.asking,
                        "more than " + std::to_string(m_options.max_chain) + " aliases from CAA " +
                            l.climb.text(),
                        ""});
        return false;
      }
    }

    switch (o.kind) {
      case OutcomeKind::alias: {
        l.asking = l.chain.back();
        if (m_options.trace)
          note(l, "the answer says nothing about " + l.asking.text() + ": asking it directly");
        return true;
      }
      case OutcomeKind::found: {
        const dns::Name& owner = l.chain.empty() ? l.climb : l.chain.back();
        l.result.found_at = l.climb;
        l.result.relevant_owner = owner;
        l.result.records = o.records;
        if (l.step == 0) l.result.cname_chain = l.chain;
        if (m_options.trace) {
          note(l, "found: " + plural(o.records.size(), "CAA record", "CAA records") + " for " +
                      l.climb.text() + (owner == l.climb ? "" : " at " + owner.text()) +
                      "; this is the relevant RRset:");
          for (const caa::Record& r : o.records)
            note(l, "  " + owner.text() + " CAA " + r.presentation());
        }
        finish(l);
        return false;
      }
      case OutcomeKind::empty:
        break;
    }

    if (o.nxdomain && l.climb.label_count() == 1) l.result.nxdomain_tld = l.climb;
    if (l.step == 0) l.result.cname_chain = l.chain;
    std::optional<dns::Name> parent = l.climb.parent();
    if (m_options.trace) {
      note(l, "CAA(" + l.climb.text() + ") is empty (" + (o.nxdomain ? "NXDOMAIN" : "NODATA") +
                  ")" + (parent ? "; climbing to " + parent->text() : ""));
    }
    if (!parent) {
      if (m_options.trace) {
        note(l, "no CAA records from " + l.result.request.name.text() + " up to " + l.climb.text() +
                    ": CAA places no restriction");
      }
      finish(l);
      return false;
    }
    ++l.step;
    l.climb = *parent;
    l.asking = std::move(*parent);
    l.chain.clear();
    return true;
  }

  void fail(Lookup& l, Failure failure) {
    if (l.step == 0) l.result.cname_chain = l.chain;
    if (m_options.trace) {
      note(l, std::string("lookup failed: ") + to_string(failure.kind) + " at " +
                  failure.name.text() + ": " + failure.detail);
    }
    l.result.found_at.reset();
    l.result.relevant_owner.reset();
    l.result.records.clear();
    l.result.failure = std::move(failure);
    finish(l);
  }

  // Removes the lookup and calls its handler. Anything the handler starts is
  // queued behind the current event, so nothing here is re-entered.
  void finish(Lookup& l) {
    auto node = m_lookups.extract(l.id);
    LookupHandler done = std::move(node.mapped().done);
    LookupResult result = std::move(node.mapped().result);
    node = {};
    done(std::move(result));
  }

  void note(Lookup& l, std::string line) { l.result.trace.push_back(std::move(line)); }

  Transport& m_transport;
  const Clock& m_clock;
  EngineOptions m_options;
  EngineStats m_stats;
  // Ordered by id, which is start order and so deadline order.
  std::map<LookupId, Lookup> m_lookups;
  std::unordered_map<std::string, Fetch> m_fetches;  // by question name
  detail::LruCache<SharedOutcome> m_cache;
  std::deque<Event> m_events;
  bool m_draining = false;
  LookupId m_last_lookup = 0;
  FetchId m_last_fetch = 0;
  std::shared_ptr<Anchor> m_anchor;
};

Engine::Engine(Transport& transport, const Clock& clock, EngineOptions options)
    : m_impl(std::make_unique<Impl>(transport, clock, options)) {}

Engine::~Engine() = default;

void Engine::lookup(const dns::DomainRequest& request, LookupHandler done) {
  m_impl->start(request, std::move(done));
}

void Engine::expire_deadlines() {
  m_impl->post(ExpireEvent{});
}

std::size_t Engine::in_flight() const {
  return m_impl->m_lookups.size();
}

EngineStats Engine::stats() const {
  return m_impl->m_stats;
}

}  // namespace caad::lookup
