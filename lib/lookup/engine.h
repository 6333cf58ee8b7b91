// The CAA lookup engine (RFC 8659 §3), many domains at once, no I/O of its own.
// For each certificate name it queries CAA at the name, follows CNAME/DNAME
// chains in the answer (re-querying the final target when the RRset is
// missing), and climbs the *original* name's parents up to the TLD, stopping
// at the first non-empty RRset or the first failure. Answers for shared names
// (parents, alias targets) are cached for their TTL, and concurrent questions
// for one name are sent once, so 100,000 domains under one parent cost one
// query per TTL.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>

#include "lib/dns/name.h"
#include "lib/lookup/result.h"
#include "lib/lookup/transport.h"
#include "lib/util/clock.h"

namespace caad::lookup {

struct EngineOptions {
  std::size_t max_chain = 16;             // aliases followed per query (the CA does at least 8)
  std::size_t cache_entries = 200'000;    // shared-name answers kept (least recently used go first)
  Duration max_cache_ttl = std::chrono::hours(1);
  Duration lookup_deadline = std::chrono::seconds(60);  // whole lookup, all queries
  bool trace = false;                     // fill LookupResult::trace
};

struct EngineStats {
  std::size_t queries_sent = 0;  // questions handed to the transport
  std::size_t cache_hits = 0;    // answers taken from the cache
  std::size_t coalesced = 0;     // questions that waited for an identical one in flight
};

using LookupHandler = std::function<void(LookupResult)>;

class Engine {
 public:
  Engine(Transport& transport, const Clock& clock, EngineOptions options = {});
  // Drops pending lookups without calling their handlers; replies the
  // transport delivers afterwards are ignored. Must not run inside one of the
  // engine's own handlers.
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // Starts a lookup; `done` is called exactly once, possibly before return.
  // Called from inside a handler, the lookup starts once that handler returns.
  // Handlers must not throw: an exception would leave other waiters hanging
  // until their deadline.
  void lookup(const dns::DomainRequest& request, LookupHandler done);
  // Fails every lookup older than lookup_deadline with `timeout`; the daemon
  // calls it from a timer, tests after moving a ManualClock. A reply that
  // comes later is dropped for that lookup but still serves the cache.
  void expire_deadlines();

  std::size_t in_flight() const;  // lookups started whose handler has not run yet
  EngineStats stats() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> m_impl;
};

}  // namespace caad::lookup
