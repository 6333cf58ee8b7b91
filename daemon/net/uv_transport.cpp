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
// same exchange), and sends the query with a fresh random ID on one of the
// resolver's pooled UDP sockets.
//
// UDP sockets. Each resolver has a pool of up to udp_sockets_per_resolver
// open sockets, taken in turn. Each is bound to the wildcard address with
// port 0, so that the kernel picks a random source port for it, and
// connected to the resolver (the kernel then drops datagrams from elsewhere
// and reports ICMP errors, and we check the source again anyway). A socket
// carries at most queries_per_socket queries and is used for at most
// socket_lifetime; then it is retired: it takes no new query, and it is
// closed once the queries on it are done, while a fresh socket with a fresh
// random port takes its place. So every query still leaves from a port that
// an off-path attacker cannot predict, and must be matched by port and
// random ID together, while opening and closing a socket (socket, bind,
// connect, close and two epoll registrations) is paid once per batch of
// queries instead of once per query. The price: a port is reused for a
// handful of queries, so one port learnt through a side channel would
// expose that handful, not one query; the two limits bound it. On a socket,
// the IDs of the queries in flight are distinct. An answer is taken only
// if it comes from the resolver's address and port, on the socket of a
// query in flight with that ID, and decodes as a response to that query's
// question. A datagram that fails any of these is counted and ignored: an
// off-path attacker or a stale packet must not be able to end a query.
// Only the attempt timer ends an attempt that gets no usable answer. A
// socket error (mostly an ICMP "port unreachable" turned into ECONNREFUSED)
// belongs to the socket, not to one query, so it ends the attempts of every
// query on that socket and retires it.
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
// in ECANCELED) find no owner and do nothing. A pooled UDP socket points at
// no query but at the core, and forgets the core (core = nullptr) when it
// starts closing. Queries themselves own no handle memory and are freed as
// soon as they are done.
//
// Every attempt, UDP or TCP, waits the same attempt_timeout, so deadlines
// fall due in the order they were set: one timer serves all of them from a
// FIFO queue, and an attempt that ends early leaves its entry behind, to be
// skipped (each query notes the one entry that counts). This departs from
// "one timer per query" on purpose: a libuv timer per query cost an init, a
// start, a stop and a close with its callback, about a tenth of all the
// work `caad check` did per name; the states stay explicit all the same.
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

// Big enough for any datagram, so that nothing arrives cut short. The
// buffer is shared by all sockets, because libuv hands the datagrams of one
// read to the receive callback before it asks for a buffer again.
constexpr std::size_t k_udp_datagram_octets = 65536;
// Sockets read with recvmmsg(): libuv splits the buffer into one
// k_udp_datagram_octets piece per datagram, and a busy socket then gives up
// to this many answers for one system call instead of one each.
constexpr std::size_t k_udp_datagrams_per_read = 16;
constexpr std::size_t k_udp_buffer_octets = k_udp_datagram_octets * k_udp_datagrams_per_read;
constexpr std::size_t k_tcp_read_octets = 4096;
constexpr std::size_t k_length_prefix_octets = 2;
constexpr std::size_t k_rcode_slots = std::size(TransportCounters{}.by_rcode);
constexpr std::int64_t k_milli_tokens_per_query = 1000;
constexpr std::size_t k_random_pool_ids = 64;
constexpr unsigned k_max_queries_per_socket = 32768;

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

// A pooled UDP socket, connected to one resolver (see the file comment).
struct UdpSocket {
  uv_udp_t handle{};
  Core* core = nullptr;  // nullptr once it is closing
  std::size_t resolver = 0;
  unsigned sent = 0;         // queries sent on it so far
  std::uint64_t opened_at = 0;  // uv_now() when it was opened
  bool retired = false;      // takes no new query; closes when `waiting` is empty
  // The queries in flight on it, by ID. Few (queries_per_socket at most), so
  // a vector is the quickest to search.
  std::vector<std::pair<std::uint16_t, Query*>> waiting;

  Query* find(std::uint16_t id) const {
    for (const auto& [waiting_id, query] : waiting) {
      if (waiting_id == id) return query;
    }
    return nullptr;
  }
};

// A send that could not go out at once (the socket buffer was full): it owns
// its bytes until libuv is done with them.
struct UdpSend {
  uv_udp_send_t req{};
  std::vector<std::uint8_t> payload;
  UdpSocket* socket = nullptr;
  std::uint16_t id = 0;
  std::uint64_t serial = 0;  // the query it was for
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

// One attempt's deadline in the queue that the attempt timer serves.
struct Deadline {
  std::uint64_t at_ms = 0;  // uv_now() time
  std::uint64_t serial = 0;  // the query
  std::uint64_t number = 0;  // counts only while the query's `deadline` is this
};

// The transport's own timers: the queue kick and the attempt timer (index
// unused), and one rate refill timer per resolver.
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
  std::uint64_t deadline = 0;   // the Deadline of the current attempt; 0: none
  UdpSocket* socket = nullptr;  // in state udp: the socket the attempt waits on
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
  std::vector<UdpSocket*> sockets;  // the pool: open, not retired
  std::size_t next_socket = 0;      // the pool's turn
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
  void on_deadlines();
  void on_refill(std::size_t index);
  void on_attempt_timeout(Query& q);
  void on_udp_sent(UdpSocket& socket, std::uint16_t id, std::uint64_t serial, int status);
  void on_udp_datagram(UdpSocket& socket, std::span<const std::uint8_t> data, const sockaddr* from,
                       unsigned flags);
  void on_udp_error(UdpSocket& socket, int status);
  void on_tcp_connected(TcpLink& link, int status);
  void on_tcp_written(Query& q, int status);
  void on_tcp_data(TcpLink& link, std::span<const std::uint8_t> data);
  void on_tcp_end(TcpLink& link, int status);

  std::uint8_t* udp_buffer() { return m_udp_buffer.get(); }

 private:
  void arm_kick();
  void pump();
  void start_question(Query& q);
  void begin_attempt(Query& q);
  bool take_token(Resolver& r);
  void refill(Resolver& r);
  void arm_refill(std::size_t index);
  void send_udp(Query& q);
  UdpSocket* socket_for(std::size_t resolver, std::string& problem);
  UdpSocket* open_socket(std::size_t resolver, std::string& problem);
  void retire(UdpSocket& socket);
  void close_socket(UdpSocket& socket);
  void note_wrong_id(UdpSocket& socket, std::span<const std::uint8_t> data);
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
  std::size_t m_sockets_per_resolver;
  unsigned m_queries_per_socket;
  std::uint64_t m_socket_lifetime_ms;
  std::vector<Resolver> m_resolvers;
  TransportCounters m_counters;
  bool m_closing = false;
  std::uint64_t m_next_serial = 1;
  std::size_t m_next_first = 0;
  std::deque<std::unique_ptr<Query>> m_queue;
  std::map<std::uint64_t, std::unique_ptr<Query>> m_active;
  CoreTimer* m_kick = nullptr;
  CoreTimer* m_attempt_timer = nullptr;
  std::deque<Deadline> m_deadlines;  // in deadline order, which is the order they were set
  std::uint64_t m_last_deadline = 0;
  std::array<std::uint16_t, k_random_pool_ids> m_random_ids{};
  std::size_t m_random_next = k_random_pool_ids;
  std::uint64_t m_fallback_seed = 0;
  // Not zeroed: the kernel writes what is read, and untouched pages cost no memory.
  std::unique_ptr<std::uint8_t[]> m_udp_buffer{new std::uint8_t[k_udp_buffer_octets]};
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

void attempt_timer_cb(uv_timer_t* timer) {
  auto* self = static_cast<CoreTimer*>(timer->data);
  guarded("attempt timer", [&] {
    if (self->core != nullptr) self->core->on_deadlines();
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

// libuv asks for a buffer even for a socket that is closing; the one shared
// buffer lives as long as the core, so a socket without a core gets none
// (libuv then reports UV_ENOBUFS, which the receive callback ignores).
void udp_alloc_cb(uv_handle_t* handle, std::size_t, uv_buf_t* buf) {
  auto* socket = static_cast<UdpSocket*>(handle->data);
  if (socket->core == nullptr) {
    *buf = uv_buf_init(nullptr, 0);
    return;
  }
  *buf = uv_buf_init(reinterpret_cast<char*>(socket->core->udp_buffer()),
                     static_cast<unsigned>(k_udp_buffer_octets));
}

void udp_recv_cb(uv_udp_t* handle, ssize_t nread, const uv_buf_t* buf, const sockaddr* from,
                 unsigned flags) {
  auto* socket = static_cast<UdpSocket*>(handle->data);
  guarded("udp receive", [&] {
    if (socket->core == nullptr) return;
    if (nread < 0) {
      socket->core->on_udp_error(*socket, static_cast<int>(nread));
      return;
    }
    // nread == 0 without an address only says that the socket is drained,
    // or (UV_UDP_MMSG_FREE) that a recvmmsg() batch is over.
    if (nread == 0 && from == nullptr) return;
    const std::span<const std::uint8_t> data(reinterpret_cast<const std::uint8_t*>(buf->base),
                                             static_cast<std::size_t>(nread));
    socket->core->on_udp_datagram(*socket, data, from, flags);
  });
}

// libuv runs this for every send it queued, with UV_ECANCELED if the socket
// closed first, and before the socket's close callback: `socket` is valid.
void udp_send_cb(uv_udp_send_t* req, int status) {
  auto* send = static_cast<UdpSend*>(req->data);
  guarded("udp send", [&] {
    if (send->socket->core != nullptr) {
      send->socket->core->on_udp_sent(*send->socket, send->id, send->serial, status);
    }
  });
  delete send;
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
          std::max<std::int64_t>(1, m_options.attempt_timeout.count()))),
      m_sockets_per_resolver(std::max<std::size_t>(1, m_options.udp_sockets_per_resolver)),
      // At most half the ID space, so that a free ID is always found quickly.
      m_queries_per_socket(std::clamp(m_options.queries_per_socket, 1U, k_max_queries_per_socket)),
      m_socket_lifetime_ms(static_cast<std::uint64_t>(
          std::max<std::int64_t>(1, m_options.socket_lifetime.count()))) {
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
  m_attempt_timer = new CoreTimer{};
  m_attempt_timer->core = this;
  m_attempt_timer->handle.data = m_attempt_timer;
  uv_timer_init(m_loop, &m_attempt_timer->handle);
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
    for (UdpSocket* socket : r.sockets) {
      socket->retired = true;
      if (socket->waiting.empty()) close_socket(*socket);
    }
    r.sockets.clear();
    if (r.refill_timer != nullptr) {
      r.refill_timer->core = nullptr;
      close_link(r.refill_timer);
      r.refill_timer = nullptr;
    }
  }
  for (CoreTimer** timer : {&m_kick, &m_attempt_timer}) {
    if (*timer == nullptr) continue;
    (*timer)->core = nullptr;
    close_link(*timer);
    *timer = nullptr;
  }
  m_deadlines.clear();
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
  // Armed already: it fires on the loop's next turn either way.
  if (m_kick == nullptr || uv_is_active(as_handle(&m_kick->handle))) return;
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
  q.deadline = ++m_last_deadline;
  m_deadlines.push_back(Deadline{uv_now(m_loop) + m_timeout_ms, q.serial, q.deadline});
  if (!uv_is_active(as_handle(&m_attempt_timer->handle))) {
    uv_timer_start(&m_attempt_timer->handle, attempt_timer_cb, m_timeout_ms, 0);
  }
}

// Times out the attempts whose deadline has come, skipping the entries of
// attempts that ended before it, and arms the timer for the next one.
void Core::on_deadlines() {
  const std::uint64_t now = uv_now(m_loop);
  while (!m_closing && !m_deadlines.empty() && m_deadlines.front().at_ms <= now) {
    const Deadline due = m_deadlines.front();
    m_deadlines.pop_front();
    const auto it = m_active.find(due.serial);
    if (it == m_active.end() || it->second->deadline != due.number) continue;
    it->second->deadline = 0;
    on_attempt_timeout(*it->second);  // may run handlers, even close()
  }
  if (!m_closing && !m_deadlines.empty()) {
    uv_timer_start(&m_attempt_timer->handle, attempt_timer_cb, m_deadlines.front().at_ms - now, 0);
  }
}

UdpSocket* Core::open_socket(std::size_t resolver, std::string& problem) {
  const Resolver& r = m_resolvers[resolver];
  auto* socket = new UdpSocket{};
  socket->core = this;
  socket->resolver = resolver;
  socket->opened_at = uv_now(m_loop);
  socket->handle.data = socket;
  // uv_udp_init() creates no socket yet and cannot fail on Linux; should
  // it fail, the handle is not registered and can be deleted at once.
  if (const int rc = uv_udp_init_ex(m_loop, &socket->handle, AF_UNSPEC | UV_UDP_RECVMMSG); rc != 0) {
    delete socket;
    problem = "cannot create a UDP socket: " + error_text(rc);
    return nullptr;
  }
  sockaddr_storage local{};
  if (r.address.ipv6) {
    uv_ip6_addr("::", 0, reinterpret_cast<sockaddr_in6*>(&local));
  } else {
    uv_ip4_addr("0.0.0.0", 0, reinterpret_cast<sockaddr_in*>(&local));
  }
  int rc = uv_udp_bind(&socket->handle, reinterpret_cast<const sockaddr*>(&local), 0);
  if (rc == 0) rc = uv_udp_connect(&socket->handle, reinterpret_cast<const sockaddr*>(&r.socket_address));
  if (rc == 0) rc = uv_udp_recv_start(&socket->handle, udp_alloc_cb, udp_recv_cb);
  if (rc != 0) {
    problem = "cannot send to " + r.text + ": " + error_text(rc);
    close_socket(*socket);
    return nullptr;
  }
  return socket;
}

// The pool's next socket, after retiring one that is too old; a new one while
// the pool is not full. Sockets that reach their query limit leave the pool
// in send_udp().
UdpSocket* Core::socket_for(std::size_t resolver, std::string& problem) {
  Resolver& r = m_resolvers[resolver];
  const std::uint64_t now = uv_now(m_loop);
  if (r.sockets.size() >= m_sockets_per_resolver) {
    const std::size_t turn = r.next_socket++ % r.sockets.size();
    UdpSocket* socket = r.sockets[turn];
    if (now - socket->opened_at < m_socket_lifetime_ms) return socket;
    retire(*socket);
  }
  UdpSocket* socket = open_socket(resolver, problem);
  if (socket != nullptr) r.sockets.push_back(socket);
  return socket;
}

void Core::retire(UdpSocket& socket) {
  if (socket.retired) return;
  socket.retired = true;
  std::erase(m_resolvers[socket.resolver].sockets, &socket);
  if (socket.waiting.empty()) close_socket(socket);
}

void Core::close_socket(UdpSocket& socket) {
  socket.core = nullptr;
  close_link(&socket);
}

void Core::send_udp(Query& q) {
  Resolver& r = m_resolvers[q.resolver];
  q.state = QueryState::udp;
  if (!r.usable) {
    attempt_failed(q, TransportFailure::network, r.text + " is not a usable socket address");
    return;
  }
  std::string problem;
  UdpSocket* socket = socket_for(q.resolver, problem);
  if (socket == nullptr) {
    attempt_failed(q, TransportFailure::network, std::move(problem));
    return;
  }
  // IDs are random; two queries in flight on one socket never share one.
  do {
    q.id = random_id();
  } while (socket->find(q.id) != nullptr);
  q.wire = encode_query(q.question, q.id);
  if (q.wire.empty()) {
    finish(q, Failed{TransportFailure::network,
                     "cannot encode a query for " + q.question.name.text(), r.text});
    return;
  }
  socket->waiting.emplace_back(q.id, &q);
  q.socket = socket;
  if (++socket->sent >= m_queries_per_socket) retire(*socket);

  // Straight out with one sendmsg(); only when the socket buffer is full
  // does libuv queue a copy and report on it later.
  const uv_buf_t buf = uv_buf_init(reinterpret_cast<char*>(q.wire.data()),
                                   static_cast<unsigned>(q.wire.size()));
  // The socket is connected, so the destination must be left out.
  int rc = uv_udp_try_send(&socket->handle, &buf, 1, nullptr);
  if (rc == UV_EAGAIN) {
    auto* send = new UdpSend{};
    send->req.data = send;
    send->payload = q.wire;
    send->socket = socket;
    send->id = q.id;
    send->serial = q.serial;
    const uv_buf_t copy = uv_buf_init(reinterpret_cast<char*>(send->payload.data()),
                                      static_cast<unsigned>(send->payload.size()));
    rc = uv_udp_send(&send->req, &socket->handle, &copy, 1, nullptr, udp_send_cb);
    if (rc != 0) delete send;
  }
  if (rc < 0) {
    // Often an ICMP error that an earlier datagram left on the socket; the
    // socket takes no more queries either way.
    retire(*socket);
    attempt_failed(q, TransportFailure::network,
                   "cannot send to " + r.text + ": " + error_text(rc));
    return;
  }
  ++m_counters.sent_udp;
  start_attempt_timer(q);
}

void Core::on_udp_sent(UdpSocket& socket, std::uint16_t id, std::uint64_t serial, int status) {
  if (status >= 0) return;
  Query* q = socket.find(id);
  if (q == nullptr || q->serial != serial || q->state != QueryState::udp) return;
  attempt_failed(*q, TransportFailure::network,
                 "cannot send to " + m_resolvers[q->resolver].text + ": " + error_text(status));
}

void Core::on_udp_error(UdpSocket& socket, int status) {
  // On a connected socket this is mostly an ICMP error: port unreachable
  // shows up as ECONNREFUSED. It says nothing about which query it was for,
  // so every attempt on the socket ends, and the socket takes no more.
  const std::string problem = m_resolvers[socket.resolver].text + ": " + error_text(status);
  std::vector<std::uint64_t> serials;
  for (const auto& [id, query] : socket.waiting) serials.push_back(query->serial);
  retire(socket);  // closes it now if nothing waits on it
  for (const std::uint64_t serial : serials) {
    if (m_closing) return;
    const auto it = m_active.find(serial);
    if (it == m_active.end()) continue;
    Query& q = *it->second;
    if (q.state != QueryState::udp || q.socket != &socket) continue;
    attempt_failed(q, TransportFailure::network, problem);  // may run handlers
  }
}

// A datagram from the resolver with an ID that no query on this socket
// waits for. When it answers the question of a query that does wait here,
// the resolver got that query's ID wrong: worth saying if the query fails.
void Core::note_wrong_id(UdpSocket& socket, std::span<const std::uint8_t> data) {
  const std::uint16_t id = read_u16(data.data());
  for (const auto& [waiting_id, query] : socket.waiting) {
    if (decode_response(data, query->question, id)) {
      query->bad_answer_problem = "answers from " + m_resolvers[socket.resolver].text + " carried the wrong ID";
    }
  }
}

void Core::on_udp_datagram(UdpSocket& socket, std::span<const std::uint8_t> data, const sockaddr* from,
                           unsigned flags) {
  const Resolver& r = m_resolvers[socket.resolver];
  if (!same_endpoint(from, r.socket_address) || data.size() < k_length_prefix_octets) {
    ++m_counters.mismatched;
    return;
  }
  const std::uint16_t id = read_u16(data.data());
  Query* q = socket.find(id);
  if (q == nullptr) {
    // Another ID, or an answer that came after its attempt had ended.
    ++m_counters.mismatched;
    note_wrong_id(socket, data);
    return;
  }
  if ((flags & UV_UDP_PARTIAL) != 0) {
    ++m_counters.malformed;
    q->bad_answer_problem = "a datagram from " + r.text + " did not fit the receive buffer";
    return;
  }
  auto message = decode_response(data, q->question, id);
  if (!message) {
    ++m_counters.malformed;
    q->bad_answer_problem = "bad answer from " + r.text + ": " + message.error().message;
    return;
  }
  answered(*q, std::move(*message), Via::udp);
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
  if (q.socket != nullptr) {
    UdpSocket& socket = *q.socket;
    q.socket = nullptr;
    std::erase_if(socket.waiting, [&](const auto& entry) { return entry.second == &q; });
    if (socket.retired && socket.waiting.empty()) close_socket(socket);
  }
  if (q.tcp != nullptr) {
    q.tcp->owner = nullptr;
    close_link(q.tcp);
    q.tcp = nullptr;
  }
  q.deadline = 0;  // its queue entry, if any, is skipped
}

void Core::release_all(Query& q) {
  release_links(q);
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
