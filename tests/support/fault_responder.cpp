// The scripted DNS server of the transport tests (see fault_responder.h).
//
// Responses are built with ldns from the query itself, so that ID, question
// and EDNS match whatever the transport sent, and then bent as the script
// says. Handles follow the same rule as in the daemon: each lives in a small
// struct that is deleted in its close callback, and callbacks of a closed
// responder find `owner == nullptr` and do nothing. Sends and writes own
// their bytes and are freed in their completion callbacks, which libuv runs
// (with ECANCELED) even when the handle is closed first.
#include "tests/support/fault_responder.h"

#include <uv.h>
// ldns/common.h defines bool, true and false as macros in C++ unless
// <stdbool.h> came first; those macros break standard headers included later.
// clang-format off
#include <stdbool.h>  // NOLINT(modernize-deprecated-headers)
#include <ldns/ldns.h>
// clang-format on

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <memory>
#include <string_view>
#include <utility>

namespace caad::test {
namespace {

struct PktDeleter {
  void operator()(ldns_pkt* p) const { ldns_pkt_free(p); }
};
using PktPtr = std::unique_ptr<ldns_pkt, PktDeleter>;

struct MallocDeleter {
  void operator()(void* p) const { std::free(p); }
};

constexpr std::size_t k_length_prefix = 2;
constexpr unsigned k_piece_gap_ms = 3;

// Test support must not let an exception unwind into libuv either.
template <class Body>
void guarded(const char* where, Body&& body) noexcept {
  try {
    body();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "fault responder: exception in %s: %s\n", where, e.what());
  } catch (...) {
    std::fprintf(stderr, "fault responder: unknown exception in %s\n", where);
  }
}

template <class Handle>
uv_handle_t* as_handle(Handle* handle) {
  return reinterpret_cast<uv_handle_t*>(handle);
}

template <class Wrapper>
void close_wrapper(Wrapper* wrapper) {
  wrapper->owner = nullptr;
  uv_handle_t* handle = as_handle(&wrapper->handle);
  if (uv_is_closing(handle)) return;
  uv_close(handle, [](uv_handle_t* h) { delete static_cast<Wrapper*>(h->data); });
}

struct UdpSend {
  uv_udp_send_t req{};
  std::vector<std::uint8_t> bytes;
};

struct TcpWrite {
  uv_write_t req{};
  std::vector<std::uint8_t> bytes;
};

PktPtr parse(const std::vector<std::uint8_t>& wire) {
  ldns_pkt* raw = nullptr;
  if (ldns_wire2pkt(&raw, wire.data(), wire.size()) != LDNS_STATUS_OK) {
    ldns_pkt_free(raw);
    return nullptr;
  }
  return PktPtr(raw);
}

std::vector<std::uint8_t> to_wire(const ldns_pkt* pkt) {
  std::uint8_t* raw = nullptr;
  std::size_t size = 0;
  if (ldns_pkt2wire(&raw, pkt, &size) != LDNS_STATUS_OK) {
    std::free(raw);
    return {};
  }
  std::unique_ptr<std::uint8_t, MallocDeleter> owned(raw);
  return std::vector<std::uint8_t>(raw, raw + size);
}

ldns_rr* caa_rr(const ldns_rdf* owner, const caa::Record& record) {
  ldns_rr* rr = ldns_rr_new();
  ldns_rr_set_owner(rr, ldns_rdf_clone(owner));
  ldns_rr_set_type(rr, LDNS_RR_TYPE_CAA);
  ldns_rr_set_class(rr, LDNS_RR_CLASS_IN);
  ldns_rr_set_ttl(rr, 300);
  const std::vector<std::uint8_t> rdata = record.wire();
  // One field of raw octets: ldns writes it as it is.
  ldns_rr_push_rdf(rr, ldns_rdf_new_frm_data(LDNS_RDF_TYPE_UNKNOWN, rdata.size(), rdata.data()));
  return rr;
}

}  // namespace

struct FaultResponder::UdpSocket {
  uv_udp_t handle{};
  FaultResponder* owner = nullptr;
};

struct FaultResponder::TcpServer {
  uv_tcp_t handle{};
  FaultResponder* owner = nullptr;
};

struct FaultResponder::TcpConnection {
  uv_tcp_t handle{};
  FaultResponder* owner = nullptr;
  std::uint64_t id = 0;
  std::vector<std::uint8_t> received;
  bool answered = false;
};

struct FaultResponder::Timer {
  uv_timer_t handle{};
  FaultResponder* owner = nullptr;
  std::function<void()> action;
};

namespace {

void udp_alloc_cb(uv_handle_t* handle, std::size_t, uv_buf_t* buf) {
  auto* socket = static_cast<FaultResponder::UdpSocket*>(handle->data);
  static char spare[1];
  if (socket->owner == nullptr) {
    *buf = uv_buf_init(spare, sizeof spare);
    return;
  }
  *buf = uv_buf_init(reinterpret_cast<char*>(socket->owner->receive_buffer()),
                     static_cast<unsigned>(socket->owner->receive_buffer_size()));
}

void udp_recv_cb(uv_udp_t* handle, ssize_t nread, const uv_buf_t* buf, const sockaddr* from,
                 unsigned) {
  auto* socket = static_cast<FaultResponder::UdpSocket*>(handle->data);
  guarded("udp receive", [&] {
    if (socket->owner == nullptr || nread <= 0 || from == nullptr) return;
    socket->owner->on_udp_query(reinterpret_cast<const std::uint8_t*>(buf->base),
                                static_cast<std::size_t>(nread), from);
  });
}

void udp_sent_cb(uv_udp_send_t* req, int) {
  delete static_cast<UdpSend*>(req->data);
}

void tcp_written_cb(uv_write_t* req, int) {
  delete static_cast<TcpWrite*>(req->data);
}

void connection_cb(uv_stream_t* server, int status) {
  auto* self = static_cast<FaultResponder::TcpServer*>(server->data);
  guarded("tcp accept", [&] {
    if (self->owner != nullptr && status == 0) self->owner->on_tcp_connection();
  });
}

void tcp_alloc_cb(uv_handle_t* handle, std::size_t, uv_buf_t* buf) {
  auto* connection = static_cast<FaultResponder::TcpConnection*>(handle->data);
  static char spare[1];
  if (connection->owner == nullptr) {
    *buf = uv_buf_init(spare, sizeof spare);
    return;
  }
  *buf = uv_buf_init(reinterpret_cast<char*>(connection->owner->receive_buffer()),
                     static_cast<unsigned>(connection->owner->receive_buffer_size()));
}

void tcp_read_cb(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf) {
  auto* connection = static_cast<FaultResponder::TcpConnection*>(stream->data);
  guarded("tcp read", [&] {
    if (connection->owner == nullptr) return;
    if (nread < 0) {
      connection->owner->forget_connection(*connection);
      return;
    }
    connection->owner->on_tcp_data(*connection, reinterpret_cast<const std::uint8_t*>(buf->base),
                                   static_cast<std::size_t>(nread));
  });
}

void timer_cb(uv_timer_t* handle) {
  auto* timer = static_cast<FaultResponder::Timer*>(handle->data);
  guarded("timer", [&] {
    if (timer->owner == nullptr) return;
    std::function<void()> action = std::move(timer->action);
    timer->owner->forget_timer(*timer);  // closes it; memory goes in the close callback
    action();
  });
}

}  // namespace

FaultResponder::FaultResponder(uv_loop_s* loop) : m_loop(loop) {}

FaultResponder::~FaultResponder() {
  close();
}

std::unique_ptr<FaultResponder> FaultResponder::start(uv_loop_s* loop, const std::string& host) {
  std::unique_ptr<FaultResponder> responder(new FaultResponder(loop));
  // The UDP port is free, but the same TCP port may not be: try a few.
  for (int i = 0; i < 20; ++i) {
    if (responder->bind(host)) return responder;
    if (responder->m_port == 0) break;  // UDP itself failed: no such address here
  }
  responder->close();
  return nullptr;
}

bool FaultResponder::bind(const std::string& host) {
  m_host = host;
  m_port = 0;
  const bool ipv6 = host.find(':') != std::string::npos;
  auto address_for = [&](std::uint16_t port, sockaddr_storage& out) {
    out = {};
    return ipv6 ? uv_ip6_addr(host.c_str(), port, reinterpret_cast<sockaddr_in6*>(&out))
                : uv_ip4_addr(host.c_str(), port, reinterpret_cast<sockaddr_in*>(&out));
  };
  auto new_udp = [&]() {
    auto* socket = new UdpSocket{};
    socket->owner = this;
    socket->handle.data = socket;
    uv_udp_init(m_loop, &socket->handle);
    return socket;
  };
  auto give_up = [&]() {
    for (UdpSocket* s : {m_udp, m_spoof_udp}) {
      if (s != nullptr) close_wrapper(s);
    }
    if (m_tcp != nullptr) close_wrapper(m_tcp);
    m_udp = m_spoof_udp = nullptr;
    m_tcp = nullptr;
    return false;
  };

  sockaddr_storage any_port{};
  if (address_for(0, any_port) != 0) return false;
  m_udp = new_udp();
  if (uv_udp_bind(&m_udp->handle, reinterpret_cast<const sockaddr*>(&any_port), 0) != 0)
    return give_up();
  sockaddr_storage bound{};
  int length = sizeof bound;
  if (uv_udp_getsockname(&m_udp->handle, reinterpret_cast<sockaddr*>(&bound), &length) != 0)
    return give_up();
  m_port = ntohs(ipv6 ? reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port
                      : reinterpret_cast<sockaddr_in*>(&bound)->sin_port);

  m_spoof_udp = new_udp();
  if (uv_udp_bind(&m_spoof_udp->handle, reinterpret_cast<const sockaddr*>(&any_port), 0) != 0)
    return give_up();

  m_tcp = new TcpServer{};
  m_tcp->owner = this;
  m_tcp->handle.data = m_tcp;
  uv_tcp_init(m_loop, &m_tcp->handle);
  sockaddr_storage same_port{};
  address_for(m_port, same_port);
  // libuv may report a busy TCP port from bind() or only from listen().
  if (uv_tcp_bind(&m_tcp->handle, reinterpret_cast<const sockaddr*>(&same_port), 0) != 0 ||
      uv_listen(reinterpret_cast<uv_stream_t*>(&m_tcp->handle), 16, connection_cb) != 0) {
    return give_up();
  }
  uv_udp_recv_start(&m_udp->handle, udp_alloc_cb, udp_recv_cb);
  uv_udp_recv_start(&m_spoof_udp->handle, udp_alloc_cb, udp_recv_cb);
  return true;
}

void FaultResponder::close() {
  if (m_closed) return;
  m_closed = true;
  if (m_udp != nullptr) close_wrapper(m_udp);
  if (m_spoof_udp != nullptr) close_wrapper(m_spoof_udp);
  if (m_tcp != nullptr) close_wrapper(m_tcp);
  m_udp = m_spoof_udp = nullptr;
  m_tcp = nullptr;
  for (auto& [id, connection] : m_connections) close_wrapper(connection);
  m_connections.clear();
  for (Timer* timer : m_timers) close_wrapper(timer);
  m_timers.clear();
}

net::ResolverAddress FaultResponder::address() const {
  return net::ResolverAddress{
      .host = m_host, .port = m_port, .ipv6 = m_host.find(':') != std::string::npos};
}

void FaultResponder::set_records(const std::string& name, std::vector<caa::Record> records) {
  m_records[name] = std::move(records);
}

void FaultResponder::script(const std::string& name, std::vector<Reaction> reactions) {
  m_scripts[name] = std::move(reactions);
}

std::size_t FaultResponder::udp_queries(const std::string& name) const {
  const auto it = m_udp_counts.find(name);
  return it == m_udp_counts.end() ? 0 : it->second;
}

std::size_t FaultResponder::tcp_queries(const std::string& name) const {
  const auto it = m_tcp_counts.find(name);
  return it == m_tcp_counts.end() ? 0 : it->second;
}

void FaultResponder::after(unsigned delay_ms, std::function<void()> action) {
  if (m_closed) return;
  auto* timer = new Timer{};
  timer->owner = this;
  timer->action = std::move(action);
  timer->handle.data = timer;
  uv_timer_init(m_loop, &timer->handle);
  uv_timer_start(&timer->handle, timer_cb, delay_ms, 0);
  m_timers.insert(timer);
}

void FaultResponder::forget_timer(Timer& timer) {
  m_timers.erase(&timer);
  close_wrapper(&timer);
}

std::string FaultResponder::name_of_query(const std::vector<std::uint8_t>& query) const {
  const PktPtr pkt = parse(query);
  if (!pkt || ldns_pkt_qdcount(pkt.get()) == 0) return {};
  const ldns_rr* question = ldns_rr_list_rr(ldns_pkt_question(pkt.get()), 0);
  std::unique_ptr<char, MallocDeleter> text(ldns_rdf2str(ldns_rr_owner(question)));
  std::string name = text ? text.get() : "";
  if (!name.empty() && name.back() == '.') name.pop_back();
  std::transform(name.begin(), name.end(), name.begin(), [](char c) {
    return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
  });
  return name;
}

std::vector<std::uint8_t> FaultResponder::response(const std::vector<std::uint8_t>& query,
                                                   Fault fault) const {
  if (fault == Fault::garbage) {
    std::vector<std::uint8_t> bytes{0,    0,    0x81, 0x80, 0xFF, 0xFF,
                                    0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF};
    if (query.size() >= 2) std::copy(query.begin(), query.begin() + 2, bytes.begin());
    for (char c : std::string_view("garbage, not DNS"))
      bytes.push_back(static_cast<std::uint8_t>(c));
    return bytes;
  }
  const PktPtr asked = parse(query);
  if (!asked || ldns_pkt_qdcount(asked.get()) != 1) return {};
  const ldns_rr* question = ldns_rr_list_rr(ldns_pkt_question(asked.get()), 0);

  PktPtr pkt(ldns_pkt_new());
  std::uint16_t id = ldns_pkt_id(asked.get());
  if (fault == Fault::wrong_id) id = static_cast<std::uint16_t>(id ^ 0x5A5A);
  ldns_pkt_set_id(pkt.get(), id);
  ldns_pkt_set_qr(pkt.get(), true);
  ldns_pkt_set_rd(pkt.get(), ldns_pkt_rd(asked.get()));
  ldns_pkt_set_cd(pkt.get(), ldns_pkt_cd(asked.get()));
  ldns_pkt_set_ra(pkt.get(), true);
  if (ldns_pkt_edns(asked.get())) ldns_pkt_set_edns_udp_size(pkt.get(), 1232);

  ldns_rr* echoed = ldns_rr_clone(question);
  if (fault == Fault::wrong_question) {
    ldns_rdf_deep_free(ldns_rr_owner(echoed));
    ldns_rr_set_owner(echoed, ldns_dname_new_frm_str("wrong.example."));
  }
  ldns_pkt_push_rr(pkt.get(), LDNS_SECTION_QUESTION, echoed);

  switch (fault) {
    case Fault::servfail:
      ldns_pkt_set_rcode(pkt.get(), LDNS_RCODE_SERVFAIL);
      return to_wire(pkt.get());
    case Fault::refused:
      ldns_pkt_set_rcode(pkt.get(), LDNS_RCODE_REFUSED);
      return to_wire(pkt.get());
    case Fault::notimp:
      ldns_pkt_set_rcode(pkt.get(), LDNS_RCODE_NOTIMPL);
      return to_wire(pkt.get());
    case Fault::truncated:
      ldns_pkt_set_tc(pkt.get(), true);
      return to_wire(pkt.get());
    default:
      break;
  }

  if (ldns_rr_get_type(question) == LDNS_RR_TYPE_CAA) {
    const ldns_rdf* owner = ldns_rr_owner(question);
    if (fault == Fault::spoof) {
      ldns_pkt_push_rr(pkt.get(), LDNS_SECTION_ANSWER,
                       caa_rr(owner, caa::Record{0, "issue", k_spoofed_value}));
    } else if (const auto it = m_records.find(name_of_query(query)); it != m_records.end()) {
      for (const caa::Record& record : it->second) {
        ldns_pkt_push_rr(pkt.get(), LDNS_SECTION_ANSWER, caa_rr(owner, record));
      }
    }
  }
  return to_wire(pkt.get());
}

void FaultResponder::on_udp_query(const std::uint8_t* data, std::size_t size,
                                  const sockaddr* from) {
  std::vector<std::uint8_t> query(data, data + size);
  sockaddr_storage peer{};
  std::memcpy(&peer, from,
              from->sa_family == AF_INET6 ? sizeof(sockaddr_in6) : sizeof(sockaddr_in));

  const std::string name = name_of_query(query);
  const std::size_t index = m_udp_counts[name]++;
  ++m_total_udp;
  const std::uint16_t port = ntohs(from->sa_family == AF_INET6
                                       ? reinterpret_cast<const sockaddr_in6*>(from)->sin6_port
                                       : reinterpret_cast<const sockaddr_in*>(from)->sin_port);
  const std::uint16_t id = size >= 2 ? static_cast<std::uint16_t>((data[0] << 8) | data[1]) : 0;
  m_arrivals.push_back(Arrival{name, uv_now(m_loop), port, id});

  Reaction reaction{Action{Fault::answer, 0}};
  if (const auto it = m_scripts.find(name); it != m_scripts.end() && !it->second.empty()) {
    reaction = it->second[std::min(index, it->second.size() - 1)];
  }
  if (reaction.empty()) return;  // dropped

  ++m_outstanding;
  m_max_outstanding = std::max(m_max_outstanding, m_outstanding);
  auto remaining = std::make_shared<std::size_t>(reaction.size());
  for (const Action& action : reaction) {
    auto step = [this, fault = action.fault, query, peer, remaining] {
      perform(fault, query, peer);
      if (--*remaining == 0) --m_outstanding;
    };
    if (action.delay_ms == 0) {
      step();
    } else {
      after(action.delay_ms, std::move(step));
    }
  }
}

void FaultResponder::perform(Fault fault, const std::vector<std::uint8_t>& query,
                             const sockaddr_storage& peer) {
  send_udp(fault == Fault::spoof ? m_spoof_udp : m_udp, response(query, fault), peer);
}

void FaultResponder::send_udp(UdpSocket* socket, std::vector<std::uint8_t> bytes,
                              const sockaddr_storage& peer) {
  if (socket == nullptr || bytes.empty()) return;
  auto* send = new UdpSend{};
  send->bytes = std::move(bytes);
  send->req.data = send;
  const uv_buf_t buf = uv_buf_init(reinterpret_cast<char*>(send->bytes.data()),
                                   static_cast<unsigned>(send->bytes.size()));
  if (uv_udp_send(&send->req, &socket->handle, &buf, 1, reinterpret_cast<const sockaddr*>(&peer),
                  udp_sent_cb) != 0) {
    delete send;
  }
}

void FaultResponder::on_tcp_connection() {
  auto* connection = new TcpConnection{};
  connection->owner = this;
  connection->id = m_next_connection++;
  connection->handle.data = connection;
  uv_tcp_init(m_loop, &connection->handle);
  m_connections[connection->id] = connection;
  auto* stream = reinterpret_cast<uv_stream_t*>(&connection->handle);
  if (uv_accept(reinterpret_cast<uv_stream_t*>(&m_tcp->handle), stream) != 0) {
    forget_connection(*connection);
    return;
  }
  // Pieces must leave as written, or the client would not see partial reads.
  uv_tcp_nodelay(&connection->handle, 1);
  uv_read_start(stream, tcp_alloc_cb, tcp_read_cb);
}

void FaultResponder::forget_connection(TcpConnection& connection) {
  m_connections.erase(connection.id);
  close_wrapper(&connection);
}

void FaultResponder::on_tcp_data(TcpConnection& connection, const std::uint8_t* data,
                                 std::size_t size) {
  connection.received.insert(connection.received.end(), data, data + size);
  if (connection.answered || connection.received.size() < k_length_prefix) return;
  const std::size_t length = (std::size_t{connection.received[0]} << 8) | connection.received[1];
  if (connection.received.size() < k_length_prefix + length) return;
  connection.answered = true;
  const std::vector<std::uint8_t> query(
      connection.received.begin() + k_length_prefix,
      connection.received.begin() + static_cast<std::ptrdiff_t>(k_length_prefix + length));
  ++m_tcp_counts[name_of_query(query)];

  const std::vector<std::uint8_t> message = response(query, Fault::answer);
  std::vector<std::uint8_t> framed{static_cast<std::uint8_t>(message.size() >> 8),
                                   static_cast<std::uint8_t>(message.size() & 0xFF)};
  framed.insert(framed.end(), message.begin(), message.end());
  const std::uint64_t id = connection.id;

  if (m_tcp_mode == TcpMode::close_early) {
    framed.resize(k_length_prefix + message.size() / 2);
    write_tcp(id, std::move(framed));
    after(5, [this, id] { close_tcp(id); });
    return;
  }
  // One octet, another (the length prefix split in two), a hundred, then the
  // rest in 512-octet pieces: every boundary the reader must handle.
  std::vector<std::size_t> cuts{1, 2, std::min<std::size_t>(102, framed.size())};
  while (cuts.back() < framed.size()) cuts.push_back(std::min(cuts.back() + 512, framed.size()));
  std::size_t begin = 0;
  unsigned delay = 0;
  for (std::size_t end : cuts) {
    if (end <= begin) continue;
    std::vector<std::uint8_t> piece(framed.begin() + static_cast<std::ptrdiff_t>(begin),
                                    framed.begin() + static_cast<std::ptrdiff_t>(end));
    if (delay == 0) {
      write_tcp(id, std::move(piece));
    } else {
      after(delay,
            [this, id, piece = std::move(piece)]() mutable { write_tcp(id, std::move(piece)); });
    }
    delay += k_piece_gap_ms;
    begin = end;
  }
}

void FaultResponder::write_tcp(std::uint64_t connection_id, std::vector<std::uint8_t> bytes) {
  const auto it = m_connections.find(connection_id);
  if (it == m_connections.end()) return;
  auto* write = new TcpWrite{};
  write->bytes = std::move(bytes);
  write->req.data = write;
  const uv_buf_t buf = uv_buf_init(reinterpret_cast<char*>(write->bytes.data()),
                                   static_cast<unsigned>(write->bytes.size()));
  if (uv_write(&write->req, reinterpret_cast<uv_stream_t*>(&it->second->handle), &buf, 1,
               tcp_written_cb) != 0) {
    delete write;
  }
}

void FaultResponder::close_tcp(std::uint64_t connection_id) {
  const auto it = m_connections.find(connection_id);
  if (it == m_connections.end()) return;
  forget_connection(*it->second);
}

}  // namespace caad::test
