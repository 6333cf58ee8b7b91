// The DNS transport on libuv: UDP with TCP fallback, retries, fail-over,
// and caps on concurrency and rate.
//
// Every question is a Query with one explicit state:
//
//   queued ──(a slot frees up)──> waiting_for_token ──(token)──> udp
//   udp ──(TC=1)──> tcp
//   udp / tcp ──(answer)──> done
//   udp / tcp ──(timeout, socket error, TCP failure, SERVFAIL/REFUSED
//                while other resolvers remain)──> next attempt, or done
//
// A query holds one of max_in_flight slots from the moment it leaves the
// FIFO queue until it is done. Attempt k goes to resolvers[(first + k) % n],
// where `first` rotates from question to question so that the load spreads.
// Each attempt takes a token from that resolver's bucket when a qps cap is
// set (the TCP follow-up of a truncated answer does not: it finishes the
// same exchange), opens a fresh UDP socket bound to the wildcard address so
// that the kernel picks a random source port, connects it to the resolver
// (the kernel then drops datagrams from elsewhere and reports ICMP errors,
// and we check the source again anyway), and sends the query with a fresh
// random ID. A datagram that is not from the resolver, has another ID or
// does not decode is counted and ignored: an off-path attacker or a stale
// packet must not be able to end the query. Only the attempt timer ends an
// attempt that gets no usable answer.
//
// The failure reported when all attempts are used up is the most telling
// one seen: truncated (a server answered, but TCP failed), then malformed
// (a server answered, but never usably), then network (a socket error), then
// timeout. A SERVFAIL or REFUSED answer is kept while other resolvers are
// tried, and returned if none of them does better.
//
// Memory of a libuv handle is freed only in its close callback. Handles live
// in small "link" structs that point back at their query; when a query moves
// on, it detaches its links (owner = nullptr) and closes them, so callbacks
// that libuv still delivers for them (a cancelled send, a connect that ends
// in ECANCELED) find no owner and do nothing. Queries themselves own no
// handle memory and are freed as soon as they are done.
//
// Handlers run from loop callbacks, never inside query(): query() only queues
// and arms a zero-delay timer. A handler may call query() or close(); code
// that calls a handler touches nothing of the query afterwards, and loops
// that start queries check whether close() was called. No exception crosses
// a libuv callback: each trampoline catches, logs to stderr and counts.
#include "daemon/net/uv_transport.h"

#include <sys/random.h>
#include <uv.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <deque>
#include <exception>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "daemon/net/wire.h"

namespace caad::net {
// Named rather than anonymous: UvTransport::Impl, which has external
// linkage, holds a Core.
namespace detail {

using lookup::Answer;
using lookup::Failed;
using lookup::Question;
using lookup::Reply;
using lookup::ReplyHandler;
using lookup::TransportFailure;

// Big enough for any datagram, so that nothing arrives cut short; shared by
// all sockets because libuv hands each datagram to the receive callback
// right after allocating for it.
constexpr std::size_t k_udp_buffer_octets = 65536;
constexpr std::size_t k_tcp_read_octets = 4096;
constexpr std::size_t k_length_prefix_octets = 2;
constexpr std::size_t k_rcode_slots = std::size(TransportCounters{}.by_rcode);
constexpr std::int64_t k_milli_tokens_per_query = 1000;
constexpr std::size_t k_random_pool_ids = 64;

std::atomic<std::size_t>& callback_failures() {
  static std::atomic<std::size_t> count{0};
  return count;
}

// Runs the body of a libuv callback; an exception must not unwind into C.
template <class Body>
void guarded(const char* where, Body&& body) noexcept {
  try {
    body();
  } catch (const std::exception& e) {
    const std::size_t n = ++callback_failures();
    std::fprintf(stderr, "caad: dns transport: exception in %s: %s (%zu so far)\n", where, e.what(),
                 n);
  } catch (...) {
    const std::size_t n = ++callback_failures();
    std::fprintf(stderr, "caad: dns transport: unknown exception in %s (%zu so far)\n", where, n);
  }
}

template <class Handle>
uv_handle_t* as_handle(Handle* handle) {
  return reinterpret_cast<uv_handle_t*>(handle);
}

// Closes a link's handle; the link is deleted in the close callback, after
// libuv has delivered every callback still pending for it.
template <class Link>
void close_link(Link* link) {
  uv_handle_t* handle = as_handle(&link->handle);
  if (uv_is_closing(handle)) return;
  uv_close(handle, [](uv_handle_t* h) { delete static_cast<Link*>(h->data); });
}

enum class QueryState { queued, waiting_for_token, udp, tcp, done };
enum class Via { udp, tcp };

struct Query;
class Core;

struct UdpLink {
  uv_udp_t handle{};
  uv_udp_send_t send_req{};
  std::vector<std::uint8_t> payload;  // must outlive the send
  Core* core = nullptr;
  Query* owner = nullptr;
};

struct TcpLink {
  uv_tcp_t handle{};
  uv_connect_t connect_req{};
  uv_write_t write_req{};
  std::vector<std::uint8_t> payload;  // length prefix + query; must outlive the write
  std::array<char, k_tcp_read_octets> chunk{};
  std::vector<std::uint8_t> received;  // length prefix + message, as it arrives
  Core* core = nullptr;
  Query* owner = nullptr;
};

struct AttemptTimer {
  uv_timer_t handle{};
  Core* core = nullptr;
  Query* owner = nullptr;
};

// The transport's own timers: the queue kick (index unused) and one rate
// refill timer per resolver.
struct CoreTimer {
  uv_timer_t handle{};
  Core* core = nullptr;  // nullptr once closed
  std::size_t index = 0;
};

// A reply for a question asked after close(): delivered from the loop, and
// independent of the transport, which may be gone by then.
struct DeferredReply {
  uv_timer_t handle{};
  ReplyHandler handler;
  std::optional<Reply> reply;
};

struct Query {
  Query(std::uint64_t serial_number, Question asked, ReplyHandler handler)
      : serial(serial_number), question(std::move(asked)), done(std::move(handler)) {}

  std::uint64_t serial = 0;
  Question question;
  ReplyHandler done;
  QueryState state = QueryState::queued;
  unsigned attempt = 0;  // 0-based index of the current attempt
  std::size_t first_resolver = 0;
  std::size_t resolver = 0;
  std::uint16_t id = 0;
  std::vector<std::uint8_t> wire;  // the query of the current attempt
  AttemptTimer* timer = nullptr;
  UdpLink* udp = nullptr;
  TcpLink* tcp = nullptr;
  // What went wrong so far, for the failure reported at the end.
  std::optional<std::string> truncation_problem;
  std::optional<std::string> bad_answer_problem;
  std::optional<std::string> network_problem;
  std::optional<Answer> fallback;  // the latest SERVFAIL/REFUSED answer
  std::vector<std::string> servers_tried;
};

struct Resolver {
  ResolverAddress address;
  std::string text;
  sockaddr_storage socket_address{};
  bool usable = false;  // false when the host does not convert to a socket address
  std::int64_t milli_tokens = 0;
  std::uint64_t refilled_at = 0;
  std::deque<std::uint64_t> waiting;  // serials of queries waiting for a token, in order
  CoreTimer* refill_timer = nullptr;
};

bool same_endpoint(const sockaddr* from, const sockaddr_storage& expected) {
  if (from == nullptr || from->sa_family != expected.ss_family) return false;
  if (from->sa_family == AF_INET) {
    const auto* a = reinterpret_cast<const sockaddr_in*>(from);
    const auto* b = reinterpret_cast<const sockaddr_in*>(&expected);
    return a->sin_port == b->sin_port && a->sin_addr.s_addr == b->sin_addr.s_addr;
  }
  if (from->sa_family == AF_INET6) {
    const auto* a = reinterpret_cast<const sockaddr_in6*>(from);
    const auto* b = reinterpret_cast<const sockaddr_in6*>(&expected);
    return a->sin6_port == b->sin6_port &&
           std::memcmp(&a->sin6_addr, &b->sin6_addr, sizeof a->sin6_addr) == 0;
  }
  return false;
}

std::uint16_t read_u16(const std::uint8_t* p) {
  return static_cast<std::uint16_t>((p[0] << 8) | p[1]);
}

std::string error_text(int code) {
  return uv_strerror(code);
}

std::string tries(unsigned n) {
  return std::to_string(n) + (n == 1 ? " try" : " tries");
}

class Core {
 public:
  Core(uv_loop_t* loop, TransportOptions options);
  ~Core();
  Core(const Core&) = delete;
  Core& operator=(const Core&) = delete;

  void query(const Question& question, ReplyHandler done);
  void close();
  const TransportCounters& counters() const { return m_counters; }

  // Entry points for the libuv trampolines below.
  void on_kick();
  void on_refill(std::size_t index);
  void on_attempt_timeout(Query& q);
  void on_udp_sent(Query& q, int status);
  void on_udp_datagram(Query& q, std::span<const std::uint8_t> data, const sockaddr* from,
                       unsigned flags);
  void on_udp_error(Query& q, int status);
  void on_tcp_connected(TcpLink& link, int status);
  void on_tcp_written(Query& q, int status);
  void on_tcp_data(TcpLink& link, std::span<const std::uint8_t> data);
  void on_tcp_end(TcpLink& link, int status);

  std::array<std::uint8_t, k_udp_buffer_octets>& udp_buffer() { return m_udp_buffer; }

 private:
  void arm_kick();
  void pump();
  void start_question(Query& q);
  void begin_attempt(Query& q);
  bool take_token(Resolver& r);
  void refill(Resolver& r);
  void arm_refill(std::size_t index);
  void send_udp(Query& q);
  void start_tcp(Query& q);
  void start_attempt_timer(Query& q);
  void answered(Query& q, dns::Message message, Via via);
  void attempt_failed(Query& q, TransportFailure kind, std::string problem);
  void next_attempt(Query& q);
  void give_up(Query& q);
  void finish(Query& q, Reply reply);
  void release_links(Query& q);
  void release_all(Query& q);
  void defer(ReplyHandler done, Reply reply);
  std::uint16_t random_id();

  uv_loop_t* m_loop;
  TransportOptions m_options;
  unsigned m_attempts;
  std::size_t m_max_in_flight;
  std::uint64_t m_timeout_ms;
  std::vector<Resolver> m_resolvers;
  TransportCounters m_counters;
  bool m_closing = false;
  std::uint64_t m_next_serial = 1;
  std::size_t m_next_first = 0;
  std::deque<std::unique_ptr<Query>> m_queue;
  std::map<std::uint64_t, std::unique_ptr<Query>> m_active;
  CoreTimer* m_kick = nullptr;
  std::array<std::uint16_t, k_random_pool_ids> m_random_ids{};
  std::size_t m_random_next = k_random_pool_ids;
  std::uint64_t m_fallback_seed = 0;
  std::array<std::uint8_t, k_udp_buffer_octets> m_udp_buffer{};
};

// ---- libuv trampolines ------------------------------------------------------

void kick_cb(uv_timer_t* timer) {
  auto* self = static_cast<CoreTimer*>(timer->data);
  guarded("queue timer", [&] {
    if (self->core != nullptr) self->core->on_kick();
  });
}

void refill_cb(uv_timer_t* timer) {
  auto* self = static_cast<CoreTimer*>(timer->data);
  guarded("rate timer", [&] {
    if (self->core != nullptr) self->core->on_refill(self->index);
  });
}

void attempt_timeout_cb(uv_timer_t* timer) {
  auto* link = static_cast<AttemptTimer*>(timer->data);
  guarded("attempt timer", [&] {
    if (link->owner != nullptr) link->core->on_attempt_timeout(*link->owner);
  });
}

void deferred_cb(uv_timer_t* timer) {
  auto* deferred = static_cast<DeferredReply*>(timer->data);
  ReplyHandler handler = std::move(deferred->handler);
  std::optional<Reply> reply = std::move(deferred->reply);
  close_link(deferred);
  guarded("reply handler", [&] {
    if (handler && reply) handler(std::move(*reply));
  });
}

void udp_alloc_cb(uv_handle_t* handle, std::size_t, uv_buf_t* buf) {
  auto* link = static_cast<UdpLink*>(handle->data);
  auto& buffer = link->core->udp_buffer();
  *buf = uv_buf_init(reinterpret_cast<char*>(buffer.data()), static_cast<unsigned>(buffer.size()));
}

void udp_recv_cb(uv_udp_t* handle, ssize_t nread, const uv_buf_t* buf, const sockaddr* from,
                 unsigned flags) {
  auto* link = static_cast<UdpLink*>(handle->data);
  guarded("udp receive", [&] {
    if (link->owner == nullptr) return;
    if (nread < 0) {
      link->core->on_udp_error(*link->owner, static_cast<int>(nread));
      return;
    }
    // nread == 0 without an address only says that the socket is drained.
    if (nread == 0 && from == nullptr) return;
    const std::span<const std::uint8_t> data(reinterpret_cast<const std::uint8_t*>(buf->base),
                                             static_cast<std::size_t>(nread));
    link->core->on_udp_datagram(*link->owner, data, from, flags);
  });
}

void udp_send_cb(uv_udp_send_t* req, int status) {
  auto* link = static_cast<UdpLink*>(req->data);
  guarded("udp send", [&] {
    if (link->owner != nullptr) link->core->on_udp_sent(*link->owner, status);
  });
}

void tcp_connect_cb(uv_connect_t* req, int status) {
  auto* link = static_cast<TcpLink*>(req->data);
  guarded("tcp connect", [&] {
    if (link->owner != nullptr) link->core->on_tcp_connected(*link, status);
  });
}

void tcp_write_cb(uv_write_t* req, int status) {
  auto* link = static_cast<TcpLink*>(req->data);
  guarded("tcp write", [&] {
    if (link->owner != nullptr) link->core->on_tcp_written(*link->owner, status);
  });
}

void tcp_alloc_cb(uv_handle_t* handle, std::size_t, uv_buf_t* buf) {
  auto* link = static_cast<TcpLink*>(handle->data);
  *buf = uv_buf_init(link->chunk.data(), static_cast<unsigned>(link->chunk.size()));
}

void tcp_read_cb(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf) {
  auto* link = static_cast<TcpLink*>(stream->data);
  guarded("tcp read", [&] {
    if (link->owner == nullptr) return;
    if (nread < 0) {
      link->core->on_tcp_end(*link, static_cast<int>(nread));
      return;
    }
    const std::span<const std::uint8_t> data(reinterpret_cast<const std::uint8_t*>(buf->base),
                                             static_cast<std::size_t>(nread));
    link->core->on_tcp_data(*link, data);
  });
}

// ---- Core -------------------------------------------------------------------

Core::Core(uv_loop_t* loop, TransportOptions options)
    : m_loop(loop),
      m_options(std::move(options)),
      m_attempts(std::max(1U, m_options.attempts)),
      // Zero would stall every question; one is the smallest cap that works.
      m_max_in_flight(std::max<std::size_t>(1, m_options.max_in_flight)),
      m_timeout_ms(static_cast<std::uint64_t>(
          std::max<std::int64_t>(1, m_options.attempt_timeout.count()))) {
  const std::uint64_t now = uv_now(m_loop);
  for (std::size_t i = 0; i < m_options.resolvers.size(); ++i) {
    Resolver r;
    r.address = m_options.resolvers[i];
    r.text = r.address.text();
    if (r.address.ipv6) {
      r.usable = uv_ip6_addr(r.address.host.c_str(), r.address.port,
                             reinterpret_cast<sockaddr_in6*>(&r.socket_address)) == 0;
    } else {
      r.usable = uv_ip4_addr(r.address.host.c_str(), r.address.port,
                             reinterpret_cast<sockaddr_in*>(&r.socket_address)) == 0;
    }
    // A full bucket: the first second's worth of queries goes out at once.
    r.milli_tokens =
        static_cast<std::int64_t>(m_options.max_qps_per_resolver) * k_milli_tokens_per_query;
    r.refilled_at = now;
    if (m_options.max_qps_per_resolver > 0) {
      r.refill_timer = new CoreTimer{};
      r.refill_timer->core = this;
      r.refill_timer->index = i;
      r.refill_timer->handle.data = r.refill_timer;
      uv_timer_init(m_loop, &r.refill_timer->handle);
    }
    m_resolvers.push_back(std::move(r));
  }
  m_kick = new CoreTimer{};
  m_kick->core = this;
  m_kick->handle.data = m_kick;
  uv_timer_init(m_loop, &m_kick->handle);
  m_fallback_seed = uv_hrtime() ^ reinterpret_cast<std::uintptr_t>(this);
}

Core::~Core() {
  close();
}

void Core::query(const Question& question, ReplyHandler done) {
  if (m_closing) {
    defer(std::move(done), Failed{TransportFailure::network, "shutting down", ""});
    return;
  }
  m_queue.push_back(std::make_unique<Query>(m_next_serial++, question, std::move(done)));
  arm_kick();
}

void Core::close() {
  if (m_closing) return;
  m_closing = true;
  // Take every query out of the containers before any handler runs: a
  // handler may call query() or close() again.
  std::vector<std::unique_ptr<Query>> victims;
  for (auto& [serial, q] : m_active) victims.push_back(std::move(q));
  m_active.clear();
  for (auto& q : m_queue) victims.push_back(std::move(q));
  m_queue.clear();
  for (Resolver& r : m_resolvers) {
    r.waiting.clear();
    if (r.refill_timer != nullptr) {
      r.refill_timer->core = nullptr;
      close_link(r.refill_timer);
      r.refill_timer = nullptr;
    }
  }
  if (m_kick != nullptr) {
    m_kick->core = nullptr;
    close_link(m_kick);
    m_kick = nullptr;
  }
  for (auto& q : victims) {
    release_all(*q);
    q->state = QueryState::done;
  }
  for (auto& q : victims) {
    ReplyHandler handler = std::move(q->done);
    const std::string server = q->servers_tried.empty() ? std::string() : q->servers_tried.back();
    // close() runs in the caller's code, but one throwing handler must not
    // keep the others from learning that their question is over.
    guarded("reply handler during close", [&] {
      if (handler) handler(Failed{TransportFailure::network, "shutting down", server});
    });
  }
}

void Core::defer(ReplyHandler done, Reply reply) {
  auto* deferred = new DeferredReply{};
  deferred->handler = std::move(done);
  deferred->reply = std::move(reply);
  deferred->handle.data = deferred;
  uv_timer_init(m_loop, &deferred->handle);
  uv_timer_start(&deferred->handle, deferred_cb, 0, 0);
}

void Core::arm_kick() {
  if (m_kick == nullptr) return;
  uv_timer_start(&m_kick->handle, kick_cb, 0, 0);
}

void Core::on_kick() {
  pump();
}

void Core::pump() {
  while (!m_closing && !m_queue.empty() && m_active.size() < m_max_in_flight) {
    std::unique_ptr<Query> entry = std::move(m_queue.front());
    m_queue.pop_front();
    Query& q = *entry;
    m_active.emplace(q.serial, std::move(entry));
    start_question(q);  // may finish q and run its handler
  }
}

void Core::start_question(Query& q) {
  if (m_resolvers.empty()) {
    finish(q, Failed{TransportFailure::network, "no resolvers are configured", ""});
    return;
  }
  q.timer = new AttemptTimer{};
  q.timer->core = this;
  q.timer->owner = &q;
  q.timer->handle.data = q.timer;
  uv_timer_init(m_loop, &q.timer->handle);
  q.first_resolver = m_next_first++ % m_resolvers.size();
  begin_attempt(q);
}

void Core::begin_attempt(Query& q) {
  q.resolver = (q.first_resolver + q.attempt) % m_resolvers.size();
  Resolver& r = m_resolvers[q.resolver];
  if (std::find(q.servers_tried.begin(), q.servers_tried.end(), r.text) == q.servers_tried.end()) {
    q.servers_tried.push_back(r.text);
  } else if (q.servers_tried.back() != r.text) {
    // Keep the last server tried at the end, for Failed::server.
    std::erase(q.servers_tried, r.text);
    q.servers_tried.push_back(r.text);
  }
  if (!take_token(r)) {
    q.state = QueryState::waiting_for_token;
    r.waiting.push_back(q.serial);
    arm_refill(q.resolver);
    return;
  }
  send_udp(q);
}

bool Core::take_token(Resolver& r) {
  if (m_options.max_qps_per_resolver == 0) return true;
  // Queries already waiting go first.
  if (!r.waiting.empty()) return false;
  refill(r);
  if (r.milli_tokens < k_milli_tokens_per_query) return false;
  r.milli_tokens -= k_milli_tokens_per_query;
  return true;
}

void Core::refill(Resolver& r) {
  const std::uint64_t now = uv_now(m_loop);
  const auto elapsed = static_cast<std::int64_t>(now - r.refilled_at);
  r.refilled_at = now;
  const auto qps = static_cast<std::int64_t>(m_options.max_qps_per_resolver);
  r.milli_tokens = std::min(qps * k_milli_tokens_per_query, r.milli_tokens + elapsed * qps);
}

void Core::arm_refill(std::size_t index) {
  Resolver& r = m_resolvers[index];
  if (r.refill_timer == nullptr || uv_is_active(as_handle(&r.refill_timer->handle))) return;
  const auto qps = static_cast<std::int64_t>(m_options.max_qps_per_resolver);
  const std::int64_t missing = std::max<std::int64_t>(0, k_milli_tokens_per_query - r.milli_tokens);
  const std::int64_t wait_ms = std::max<std::int64_t>(1, (missing + qps - 1) / qps);
  uv_timer_start(&r.refill_timer->handle, refill_cb, static_cast<std::uint64_t>(wait_ms), 0);
}

void Core::on_refill(std::size_t index) {
  Resolver& r = m_resolvers[index];
  refill(r);
  while (!m_closing && !r.waiting.empty() && r.milli_tokens >= k_milli_tokens_per_query) {
    const std::uint64_t serial = r.waiting.front();
    r.waiting.pop_front();
    const auto it = m_active.find(serial);
    if (it == m_active.end()) continue;
    Query& q = *it->second;
    if (q.state != QueryState::waiting_for_token || q.resolver != index) continue;
    r.milli_tokens -= k_milli_tokens_per_query;
    send_udp(q);  // may finish q, run its handler, even call close()
  }
  if (!m_closing && !r.waiting.empty()) arm_refill(index);
}

std::uint16_t Core::random_id() {
  if (m_random_next >= m_random_ids.size()) {
    // GRND_NONBLOCK: the loop must never wait, not even for the entropy
    // pool at early boot. If getrandom() cannot deliver, IDs come from a
    // splitmix64 generator seeded from the clock: weaker against spoofing,
    // but the random source port still has to be guessed as well.
    const std::size_t want = sizeof m_random_ids;
    const ssize_t got = getrandom(m_random_ids.data(), want, GRND_NONBLOCK);
    if (got != static_cast<ssize_t>(want)) {
      for (std::uint16_t& id : m_random_ids) {
        std::uint64_t z = (m_fallback_seed += 0x9E3779B97F4A7C15ULL);
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
        id = static_cast<std::uint16_t>(z ^ (z >> 31));
      }
    }
    m_random_next = 0;
  }
  return m_random_ids[m_random_next++];
}

void Core::start_attempt_timer(Query& q) {
  uv_timer_start(&q.timer->handle, attempt_timeout_cb, m_timeout_ms, 0);
}

void Core::send_udp(Query& q) {
  Resolver& r = m_resolvers[q.resolver];
  q.state = QueryState::udp;
  if (!r.usable) {
    attempt_failed(q, TransportFailure::network, r.text + " is not a usable socket address");
    return;
  }
  q.id = random_id();
  q.wire = encode_query(q.question, q.id);
  if (q.wire.empty()) {
    finish(q, Failed{TransportFailure::network,
                     "cannot encode a query for " + q.question.name.text(), r.text});
    return;
  }

  auto* link = new UdpLink{};
  link->core = this;
  link->owner = &q;
  link->handle.data = link;
  link->send_req.data = link;
  link->payload = q.wire;
  // uv_udp_init() creates no socket yet and cannot fail on Linux; should
  // it fail, the handle is not registered and can be deleted at once.
  if (const int rc = uv_udp_init(m_loop, &link->handle); rc != 0) {
    delete link;
    attempt_failed(q, TransportFailure::network, "cannot create a UDP socket: " + error_text(rc));
    return;
  }
  q.udp = link;

  sockaddr_storage local{};
  if (r.address.ipv6) {
    uv_ip6_addr("::", 0, reinterpret_cast<sockaddr_in6*>(&local));
  } else {
    uv_ip4_addr("0.0.0.0", 0, reinterpret_cast<sockaddr_in*>(&local));
  }
  const auto* remote = reinterpret_cast<const sockaddr*>(&r.socket_address);
  int rc = uv_udp_bind(&link->handle, reinterpret_cast<const sockaddr*>(&local), 0);
  if (rc == 0) rc = uv_udp_connect(&link->handle, remote);
  if (rc == 0) rc = uv_udp_recv_start(&link->handle, udp_alloc_cb, udp_recv_cb);
  if (rc == 0) {
    const uv_buf_t buf = uv_buf_init(reinterpret_cast<char*>(link->payload.data()),
                                     static_cast<unsigned>(link->payload.size()));
    // The socket is connected, so the destination must be left out.
    rc = uv_udp_send(&link->send_req, &link->handle, &buf, 1, nullptr, udp_send_cb);
  }
  if (rc != 0) {
    attempt_failed(q, TransportFailure::network,
                   "cannot send to " + r.text + ": " + error_text(rc));
    return;
  }
  ++m_counters.sent_udp;
  start_attempt_timer(q);
}

void Core::on_udp_sent(Query& q, int status) {
  if (status >= 0 || q.state != QueryState::udp) return;
  attempt_failed(q, TransportFailure::network,
                 "cannot send to " + m_resolvers[q.resolver].text + ": " + error_text(status));
}

void Core::on_udp_error(Query& q, int status) {
  if (q.state != QueryState::udp) return;
  // On a connected socket this is mostly an ICMP error: port unreachable
  // shows up as ECONNREFUSED.
  attempt_failed(q, TransportFailure::network,
                 m_resolvers[q.resolver].text + ": " + error_text(status));
}

void Core::on_udp_datagram(Query& q, std::span<const std::uint8_t> data, const sockaddr* from,
                           unsigned flags) {
  if (q.state != QueryState::udp) return;
  const Resolver& r = m_resolvers[q.resolver];
  if (!same_endpoint(from, r.socket_address)) {
    ++m_counters.mismatched;
    return;
  }
  if ((flags & UV_UDP_PARTIAL) != 0) {
    ++m_counters.malformed;
    q.bad_answer_problem = "a datagram from " + r.text + " did not fit the receive buffer";
    return;
  }
  if (data.size() >= k_length_prefix_octets && read_u16(data.data()) != q.id) {
    ++m_counters.mismatched;
    q.bad_answer_problem = "answers from " + r.text + " carried the wrong ID";
    return;
  }
  auto message = decode_response(data, q.question, q.id);
  if (!message) {
    ++m_counters.malformed;
    q.bad_answer_problem = "bad answer from " + r.text + ": " + message.error().message;
    return;
  }
  answered(q, std::move(*message), Via::udp);
}

void Core::start_tcp(Query& q) {
  release_links(q);
  const Resolver& r = m_resolvers[q.resolver];
  q.state = QueryState::tcp;

  auto* link = new TcpLink{};
  link->core = this;
  link->owner = &q;
  link->handle.data = link;
  link->connect_req.data = link;
  link->write_req.data = link;
  link->payload.reserve(k_length_prefix_octets + q.wire.size());
  link->payload.push_back(static_cast<std::uint8_t>(q.wire.size() >> 8));
  link->payload.push_back(static_cast<std::uint8_t>(q.wire.size() & 0xFF));
  link->payload.insert(link->payload.end(), q.wire.begin(), q.wire.end());
  if (const int rc = uv_tcp_init(m_loop, &link->handle); rc != 0) {
    delete link;
    attempt_failed(q, TransportFailure::truncated, "cannot create a TCP socket: " + error_text(rc));
    return;
  }
  q.tcp = link;
  const int rc =
      uv_tcp_connect(&link->connect_req, &link->handle,
                     reinterpret_cast<const sockaddr*>(&r.socket_address), tcp_connect_cb);
  if (rc != 0) {
    attempt_failed(q, TransportFailure::truncated,
                   "cannot connect to " + r.text + " over TCP: " + error_text(rc));
    return;
  }
  ++m_counters.sent_tcp;
  start_attempt_timer(q);
}

void Core::on_tcp_connected(TcpLink& link, int status) {
  Query& q = *link.owner;
  if (q.state != QueryState::tcp) return;
  const std::string& server = m_resolvers[q.resolver].text;
  if (status < 0) {
    attempt_failed(q, TransportFailure::truncated,
                   "TCP connection to " + server + " failed: " + error_text(status));
    return;
  }
  auto* stream = reinterpret_cast<uv_stream_t*>(&link.handle);
  int rc = uv_read_start(stream, tcp_alloc_cb, tcp_read_cb);
  if (rc == 0) {
    const uv_buf_t buf = uv_buf_init(reinterpret_cast<char*>(link.payload.data()),
                                     static_cast<unsigned>(link.payload.size()));
    rc = uv_write(&link.write_req, stream, &buf, 1, tcp_write_cb);
  }
  if (rc != 0) {
    attempt_failed(q, TransportFailure::truncated,
                   "cannot send to " + server + " over TCP: " + error_text(rc));
  }
}

void Core::on_tcp_written(Query& q, int status) {
  if (status >= 0 || q.state != QueryState::tcp) return;
  attempt_failed(
      q, TransportFailure::truncated,
      "cannot send to " + m_resolvers[q.resolver].text + " over TCP: " + error_text(status));
}

void Core::on_tcp_data(TcpLink& link, std::span<const std::uint8_t> data) {
  Query& q = *link.owner;
  if (q.state != QueryState::tcp) return;
  const std::string& server = m_resolvers[q.resolver].text;
  link.received.insert(link.received.end(), data.begin(), data.end());
  if (link.received.size() < k_length_prefix_octets) return;
  const std::size_t length = read_u16(link.received.data());
  if (link.received.size() < k_length_prefix_octets + length) return;
  // Anything after the first message is ignored: we asked one question.
  const std::span<const std::uint8_t> message_wire(link.received.data() + k_length_prefix_octets,
                                                   length);
  auto message = decode_response(message_wire, q.question, q.id);
  if (!message) {
    ++m_counters.malformed;
    // A TCP stream cannot be spoofed off-path: a bad answer here is the
    // server's, and waiting longer will not bring a better one.
    attempt_failed(q, TransportFailure::malformed,
                   "bad TCP answer from " + server + ": " + message.error().message);
    return;
  }
  answered(q, std::move(*message), Via::tcp);
}

void Core::on_tcp_end(TcpLink& link, int status) {
  Query& q = *link.owner;
  if (q.state != QueryState::tcp) return;
  const std::string& server = m_resolvers[q.resolver].text;
  if (status == UV_EOF) {
    attempt_failed(q, TransportFailure::truncated,
                   server + " closed the TCP connection after " +
                       std::to_string(link.received.size()) + " octets, before the whole answer");
  } else {
    attempt_failed(q, TransportFailure::truncated,
                   "TCP read from " + server + " failed: " + error_text(status));
  }
}

void Core::on_attempt_timeout(Query& q) {
  const std::string& server = m_resolvers[q.resolver].text;
  const std::string within = " within " + std::to_string(m_timeout_ms) + " ms";
  if (q.state == QueryState::udp) {
    ++m_counters.timeouts;
    attempt_failed(q, TransportFailure::timeout, "no answer from " + server + within);
  } else if (q.state == QueryState::tcp) {
    ++m_counters.timeouts;
    attempt_failed(q, TransportFailure::truncated, "no TCP answer from " + server + within);
  }
}

void Core::answered(Query& q, dns::Message message, Via via) {
  // Every decoded response counts, a truncated one and a SERVFAIL that is
  // then tried elsewhere included: the counters describe the wire.
  if (message.rcode < k_rcode_slots) ++m_counters.by_rcode[message.rcode];
  if (via == Via::udp && message.truncated) {
    ++m_counters.truncated;
    start_tcp(q);
    return;
  }
  const std::string& server = m_resolvers[q.resolver].text;
  const bool try_elsewhere = message.rcode == static_cast<std::uint16_t>(dns::Rcode::servfail) ||
                             message.rcode == static_cast<std::uint16_t>(dns::Rcode::refused);
  if (try_elsewhere && m_resolvers.size() > 1 && q.attempt + 1 < m_attempts) {
    q.fallback = Answer{std::move(message), server};
    next_attempt(q);
    return;
  }
  finish(q, Answer{std::move(message), server});
}

void Core::attempt_failed(Query& q, TransportFailure kind, std::string problem) {
  switch (kind) {
    case TransportFailure::truncated:
      q.truncation_problem = std::move(problem);
      break;
    case TransportFailure::malformed:
      q.bad_answer_problem = std::move(problem);
      break;
    case TransportFailure::network:
      q.network_problem = std::move(problem);
      break;
    case TransportFailure::timeout:
      break;
  }
  next_attempt(q);
}

void Core::next_attempt(Query& q) {
  release_links(q);
  ++q.attempt;
  if (q.attempt >= m_attempts) {
    give_up(q);
    return;
  }
  begin_attempt(q);
}

void Core::give_up(Query& q) {
  if (q.fallback) {
    Answer answer = std::move(*q.fallback);
    q.fallback.reset();
    finish(q, std::move(answer));
    return;
  }
  const std::string after = ", after " + tries(m_attempts);
  const std::string server = q.servers_tried.empty() ? std::string() : q.servers_tried.back();
  if (q.truncation_problem) {
    finish(q, Failed{TransportFailure::truncated,
                     "truncated answer and " + *q.truncation_problem + after, server});
  } else if (q.bad_answer_problem) {
    finish(q, Failed{TransportFailure::malformed,
                     "no usable answer: " + *q.bad_answer_problem + after, server});
  } else if (q.network_problem) {
    finish(q, Failed{TransportFailure::network, *q.network_problem + after, server});
  } else {
    std::string servers;
    for (const std::string& s : q.servers_tried) servers += (servers.empty() ? "" : ", ") + s;
    finish(q, Failed{TransportFailure::timeout,
                     "no answer from " + servers + " after " + tries(m_attempts), server});
  }
}

void Core::finish(Query& q, Reply reply) {
  release_all(q);
  q.state = QueryState::done;
  ReplyHandler handler = std::move(q.done);
  // Keep the query alive until this function returns, but out of the
  // active set, so that a handler calling close() does not see it.
  auto node = m_active.extract(q.serial);
  if (!m_queue.empty()) arm_kick();
  // A throwing handler is the caller's bug, but it must not cut short the
  // loop that called finish() (the rate timer serving its waiting queries).
  guarded("reply handler", [&] {
    if (handler) handler(std::move(reply));
  });
}

void Core::release_links(Query& q) {
  if (q.udp != nullptr) {
    q.udp->owner = nullptr;
    close_link(q.udp);
    q.udp = nullptr;
  }
  if (q.tcp != nullptr) {
    q.tcp->owner = nullptr;
    close_link(q.tcp);
    q.tcp = nullptr;
  }
  if (q.timer != nullptr) uv_timer_stop(&q.timer->handle);
}

void Core::release_all(Query& q) {
  release_links(q);
  if (q.timer != nullptr) {
    q.timer->owner = nullptr;
    close_link(q.timer);
    q.timer = nullptr;
  }
}

}  // namespace detail

struct UvTransport::Impl {
  detail::Core core;
  Impl(uv_loop_s* loop, TransportOptions options) : core(loop, std::move(options)) {}
};

UvTransport::UvTransport(uv_loop_s* loop, TransportOptions options)
    : m_impl(std::make_unique<Impl>(loop, std::move(options))) {}

UvTransport::~UvTransport() = default;

void UvTransport::query(const lookup::Question& question, lookup::ReplyHandler done) {
  m_impl->core.query(question, std::move(done));
}

void UvTransport::close() {
  m_impl->core.close();
}

const TransportCounters& UvTransport::counters() const {
  return m_impl->core.counters();
}

}  // namespace caad::net
