// A scripted DNS server for transport tests: it listens on UDP and TCP on a
// loopback address with a port chosen at run time, runs on the test's own
// libuv loop, and answers each question the way the test says: normally,
// not at all, late, truncated (with the full answer on TCP, written in small
// pieces), with the wrong ID or question, with garbage, with an error RCODE,
// or from another socket as an off-path spoofer would. It records what it
// saw: queries per name and protocol, their order, times, source ports and
// IDs, and how many questions it held unanswered at once.
#pragma once

#include <sys/socket.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "daemon/net/resolver_address.h"
#include "lib/caa/record.h"

struct uv_loop_s;

namespace caad::test {

// What the responder sends for one UDP query.
enum class Fault {
  answer,          // the name's records, NOERROR
  wrong_id,        // the answer with another ID
  wrong_question,  // the answer to a question about another name
  garbage,         // the query's ID, then bytes that do not parse
  spoof,           // an answer with k_spoofed_value, sent from another port
  truncated,       // TC=1 and no records; the full answer waits on TCP
  servfail,
  refused,
  notimp,
};

// The value of the CAA record in a spoofed answer, so tests can tell.
inline constexpr const char* k_spoofed_value = "spoofed.example";

struct Action {
  Fault fault = Fault::answer;
  unsigned delay_ms = 0;  // after the query arrived
};

// Everything sent for one query; an empty reaction drops the query.
using Reaction = std::vector<Action>;

// How the TCP side answers.
enum class TcpMode {
  answer_in_pieces,  // the full answer, in pieces a few milliseconds apart
  close_early,       // part of the answer, then the connection is closed
};

class FaultResponder {
 public:
  // Binds UDP and TCP to `host` ("127.0.0.1", "::1") on one free port.
  // Returns nullptr when that is impossible (no IPv6 on this machine).
  static std::unique_ptr<FaultResponder> start(uv_loop_s* loop, const std::string& host);
  ~FaultResponder();
  FaultResponder(const FaultResponder&) = delete;
  FaultResponder& operator=(const FaultResponder&) = delete;

  // Closes every handle; their memory is freed when the loop runs the close
  // callbacks, which may be after this object is gone.
  void close();

  net::ResolverAddress address() const;

  // The CAA records served for `name` (canonical text, no trailing dot).
  void set_records(const std::string& name, std::vector<caa::Record> records);
  // The reaction to the n-th UDP query for `name`; the last one repeats.
  // Names without a script are answered normally.
  void script(const std::string& name, std::vector<Reaction> reactions);
  void set_tcp_mode(TcpMode mode) { m_tcp_mode = mode; }

  std::size_t udp_queries(const std::string& name) const;
  std::size_t tcp_queries(const std::string& name) const;
  std::size_t total_udp_queries() const { return m_total_udp; }
  // The most questions held at once: arrived, with something still to send.
  std::size_t max_outstanding() const { return m_max_outstanding; }

  struct Arrival {
    std::string name;
    std::uint64_t at_ms;       // uv_now() of the loop
    std::uint16_t source_port;  // the sender's UDP port
    std::uint16_t id;           // the query's ID
  };
  const std::vector<Arrival>& arrivals() const { return m_arrivals; }

  // Implementation details, public for the libuv callbacks in the .cpp.
  struct UdpSocket;
  struct TcpServer;
  struct TcpConnection;
  struct Timer;
  void on_udp_query(const std::uint8_t* data, std::size_t size, const sockaddr* from);
  void on_tcp_connection();
  void on_tcp_data(TcpConnection& connection, const std::uint8_t* data, std::size_t size);
  void forget_connection(TcpConnection& connection);
  void forget_timer(Timer& timer);
  std::uint8_t* receive_buffer() { return m_buffer.data(); }
  std::size_t receive_buffer_size() const { return m_buffer.size(); }

 private:
  explicit FaultResponder(uv_loop_s* loop);
  bool bind(const std::string& host);
  void after(unsigned delay_ms, std::function<void()> action);
  void perform(Fault fault, const std::vector<std::uint8_t>& query, const sockaddr_storage& peer);
  void send_udp(UdpSocket* socket, std::vector<std::uint8_t> bytes, const sockaddr_storage& peer);
  void write_tcp(std::uint64_t connection_id, std::vector<std::uint8_t> bytes);
  void close_tcp(std::uint64_t connection_id);
  std::vector<std::uint8_t> response(const std::vector<std::uint8_t>& query, Fault fault) const;
  std::string name_of_query(const std::vector<std::uint8_t>& query) const;

  uv_loop_s* m_loop;
  std::string m_host;
  std::uint16_t m_port = 0;
  UdpSocket* m_udp = nullptr;
  UdpSocket* m_spoof_udp = nullptr;
  TcpServer* m_tcp = nullptr;
  std::map<std::uint64_t, TcpConnection*> m_connections;
  std::uint64_t m_next_connection = 1;
  std::set<Timer*> m_timers;
  bool m_closed = false;

  std::map<std::string, std::vector<caa::Record>> m_records;
  std::map<std::string, std::vector<Reaction>> m_scripts;
  TcpMode m_tcp_mode = TcpMode::answer_in_pieces;
  std::map<std::string, std::size_t> m_udp_counts;
  std::map<std::string, std::size_t> m_tcp_counts;
  std::size_t m_total_udp = 0;
  std::size_t m_outstanding = 0;
  std::size_t m_max_outstanding = 0;
  std::vector<Arrival> m_arrivals;
  std::vector<std::uint8_t> m_buffer = std::vector<std::uint8_t>(65536);
};

}  // namespace caad::test
