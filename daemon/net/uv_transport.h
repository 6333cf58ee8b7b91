// The DNS transport on libuv: sends each question to the configured
// resolvers over UDP (from a pool of sockets per resolver, each on a port the
// kernel picked at random and retired after a few dozen queries or seconds;
// a random ID from getrandom() per query), accepts an answer only from the
// server's address and port, on the query's socket, with the right ID and
// question, retries over TCP when TC is set (2-octet length prefix, partial
// reads), retries on timeout with fail-over across resolvers, and caps
// queries in flight and queries per second per resolver. Never blocks the
// loop.
#pragma once

#include <cstddef>
#include <memory>
#include <vector>

#include "daemon/net/resolver_address.h"
#include "lib/lookup/transport.h"
#include "lib/util/clock.h"

struct uv_loop_s;

namespace caad::net {

struct TransportOptions {
  std::vector<ResolverAddress> resolvers;  // tried in order, rotating on failure
  Duration attempt_timeout = std::chrono::milliseconds(2000);  // per UDP or TCP attempt
  unsigned attempts = 3;                   // total tries per question, across resolvers
  std::size_t max_in_flight = 1000;        // questions on the wire at once (all resolvers)
  unsigned max_qps_per_resolver = 0;       // 0: no cap
  // The UDP socket pool (see uv_transport.cpp): sockets open at once per
  // resolver, and how long one serves before a fresh one (a fresh random
  // port) replaces it: at most this many queries, and this long.
  std::size_t udp_sockets_per_resolver = 16;
  unsigned queries_per_socket = 64;
  Duration socket_lifetime = std::chrono::seconds(3);
};

struct TransportCounters {
  std::size_t sent_udp = 0, sent_tcp = 0, truncated = 0, timeouts = 0, mismatched = 0, malformed = 0;
  std::size_t by_rcode[24] = {};  // answers by RCODE (0..23)
};

class UvTransport final : public lookup::Transport {
 public:
  UvTransport(uv_loop_s* loop, TransportOptions options);
  ~UvTransport() override;
  UvTransport(const UvTransport&) = delete;
  UvTransport& operator=(const UvTransport&) = delete;

  void query(const lookup::Question& question, lookup::ReplyHandler done) override;

  // Fails every pending question (handlers run with `network`, "shutting
  // down") and starts closing all handles; the loop can then run to its end.
  void close();
  const TransportCounters& counters() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> m_impl;
};

}  // namespace caad::net
