// The /metrics HTTP server (see the header). Each connection owns a TCP
// handle and a deadline timer; its memory is freed only when both close
// callbacks have run. The server's own state outlives all of them: the
// daemon destroys the server only after the loop has stopped.
#include "daemon/metrics/http_server.h"

#include <uv.h>

#include <spdlog/spdlog.h>

#include <algorithm>
#include <charconv>
#include <vector>
#include <unordered_set>

namespace caad::metrics {
namespace {

const char* reason_phrase(int status) {
  switch (status) {
    case 200:
      return "OK";
    case 400:
      return "Bad Request";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 431:
      return "Request Header Fields Too Large";
    case 500:
      return "Internal Server Error";
    case 503:
      return "Service Unavailable";
    default:
      return "Unknown";
  }
}

bool is_token_char(char c) { return c >= 'A' && c <= 'Z'; }
bool is_target_char(char c) { return c > 0x20 && c < 0x7f; }

}  // namespace

RequestHead parse_request_head(std::string_view head) {
  RequestHead r;
  r.error_status = 400;
  auto eol = head.find("\r\n");
  if (eol == std::string_view::npos) return r;
  std::string_view line = head.substr(0, eol);
  auto sp1 = line.find(' ');
  if (sp1 == std::string_view::npos || sp1 == 0 || sp1 > 16) return r;
  auto sp2 = line.find(' ', sp1 + 1);
  if (sp2 == std::string_view::npos) return r;
  std::string_view method = line.substr(0, sp1);
  std::string_view target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  std::string_view version = line.substr(sp2 + 1);
  for (char c : method) {
    if (!is_token_char(c)) return r;
  }
  if (version != "HTTP/1.1" && version != "HTTP/1.0") return r;
  if (target.empty() || target.front() != '/') return r;
  for (char c : target) {
    if (!is_target_char(c)) return r;
  }
  // Header lines: "name: value", no bare CR or LF, no obsolete folding.
  std::string_view rest = head.substr(eol + 2);
  while (!rest.empty()) {
    auto end = rest.find("\r\n");
    if (end == std::string_view::npos) return r;
    std::string_view h = rest.substr(0, end);
    rest.remove_prefix(end + 2);
    if (h.empty()) break;  // the blank line that ends the head
    auto colon = h.find(':');
    if (colon == std::string_view::npos || colon == 0 || h.front() == ' ' || h.front() == '\t') return r;
    for (char c : h) {
      if (c == '\r' || c == '\n' || c == '\0') return r;
    }
  }
  r.method = std::string(method);
  r.path = std::string(target.substr(0, target.find('?')));
  r.error_status = (method == "GET" || method == "HEAD") ? 0 : 405;
  return r;
}

struct Connection {
  uv_tcp_t tcp{};
  uv_timer_t timer{};
  uv_write_t write{};
  uv_shutdown_t shutdown{};
  HttpServer::Impl* server = nullptr;
  std::string in;
  std::string out;
  int open_handles = 2;
  bool answered = false;
  bool closing = false;
};

struct HttpServer::Impl {
  uv_loop_t* loop = nullptr;
  uv_tcp_t listener{};
  HttpHandler handler;
  HttpServerOptions options;
  std::unordered_set<Connection*> live;
  bool closed = false;
  int bound_port = 0;

  void accept_one() {
    auto* c = new Connection;
    c->server = this;
    uv_tcp_init(loop, &c->tcp);
    uv_timer_init(loop, &c->timer);
    c->tcp.data = c;
    c->timer.data = c;
    live.insert(c);
    if (uv_accept(reinterpret_cast<uv_stream_t*>(&listener), reinterpret_cast<uv_stream_t*>(&c->tcp)) != 0 ||
        live.size() > options.max_connections) {
      // Over the cap: the connection is accepted only to be closed, so that
      // the backlog drains and the client learns at once.
      close_connection(c);
      return;
    }
    uv_timer_start(&c->timer, &Impl::on_timeout, options.request_timeout_ms, 0);
    uv_read_start(reinterpret_cast<uv_stream_t*>(&c->tcp), &Impl::on_alloc, &Impl::on_read);
  }

  void close_connection(Connection* c) {
    if (c->closing) return;
    c->closing = true;
    uv_close(reinterpret_cast<uv_handle_t*>(&c->tcp), &Impl::on_closed);
    uv_close(reinterpret_cast<uv_handle_t*>(&c->timer), &Impl::on_closed);
  }

  void answer(Connection* c, int status, const HttpResponse* response, bool head_only) {
    c->answered = true;
    uv_read_stop(reinterpret_cast<uv_stream_t*>(&c->tcp));
    std::string body = response ? response->body : std::string(reason_phrase(status)) + "\n";
    std::string type = response ? response->content_type : "text/plain; charset=utf-8";
    c->out = "HTTP/1.1 " + std::to_string(status) + " " + reason_phrase(status) + "\r\n";
    c->out += "Content-Type: " + type + "\r\n";
    c->out += "Content-Length: " + std::to_string(body.size()) + "\r\n";
    if (status == 405) c->out += "Allow: GET, HEAD\r\n";
    c->out += "Cache-Control: no-store\r\nConnection: close\r\n\r\n";
    if (!head_only) c->out += body;
    uv_buf_t buf = uv_buf_init(c->out.data(), static_cast<unsigned>(c->out.size()));
    c->write.data = c;
    if (uv_write(&c->write, reinterpret_cast<uv_stream_t*>(&c->tcp), &buf, 1, &Impl::on_written) != 0) {
      close_connection(c);
    }
  }

  void on_data(Connection* c) {
    auto end = c->in.find("\r\n\r\n");
    if (end == std::string::npos) {
      if (c->in.size() >= options.max_request_bytes) answer(c, 431, nullptr, false);
      return;
    }
    if (end + 4 > options.max_request_bytes) {
      answer(c, 431, nullptr, false);
      return;
    }
    RequestHead head = parse_request_head(std::string_view(c->in).substr(0, end + 4));
    if (head.error_status != 0) {
      answer(c, head.error_status, nullptr, false);
      return;
    }
    HttpResponse response;
    try {
      response = handler(head.path);
    } catch (const std::exception& e) {
      spdlog::error("caad: metrics: internal error answering {}: {}", head.path, e.what());
      answer(c, 500, nullptr, false);
      return;
    }
    answer(c, response.status, &response, head.method == "HEAD");
  }

  static void on_connection(uv_stream_t* server, int status) {
    auto* self = static_cast<Impl*>(server->data);
    if (status < 0) {
      spdlog::warn("caad: metrics: accept: {}", uv_strerror(status));
      return;
    }
    if (self->closed) return;
    self->accept_one();
  }
  static void on_alloc(uv_handle_t* h, std::size_t, uv_buf_t* buf) {
    auto* c = static_cast<Connection*>(h->data);
    // Never more than the cap (plus one byte to notice going over it).
    std::size_t room = c->server->options.max_request_bytes + 1 - std::min(c->in.size(), c->server->options.max_request_bytes);
    static thread_local char scratch[8192 + 1];
    buf->base = scratch;
    buf->len = std::min(room, sizeof scratch);
  }
  static void on_read(uv_stream_t* s, ssize_t n, const uv_buf_t* buf) {
    auto* c = static_cast<Connection*>(s->data);
    Impl* self = c->server;
    if (n < 0) {
      self->close_connection(c);
      return;
    }
    if (n == 0 || c->answered) return;
    c->in.append(buf->base, static_cast<std::size_t>(n));
    self->on_data(c);
  }
  // After the answer: half-close and read until the client closes (or the
  // deadline). Closing at once while request bytes are still unread (an
  // oversized request, say) would make the kernel send a reset, and the
  // client could lose the answer (RFC 9112 §9.6, "lingering close").
  static void on_written(uv_write_t* w, int status) {
    auto* c = static_cast<Connection*>(w->data);
    auto* stream = reinterpret_cast<uv_stream_t*>(&c->tcp);
    if (status < 0 || c->closing || uv_shutdown(&c->shutdown, stream, [](uv_shutdown_t*, int) {}) != 0 ||
        uv_read_start(stream, &Impl::on_alloc, &Impl::on_read) != 0) {
      c->server->close_connection(c);
    }
  }
  static void on_timeout(uv_timer_t* t) {
    auto* c = static_cast<Connection*>(t->data);
    c->server->close_connection(c);
  }
  static void on_closed(uv_handle_t* h) {
    auto* c = static_cast<Connection*>(h->data);
    if (--c->open_handles > 0) return;
    c->server->live.erase(c);
    delete c;
  }
};

HttpServer::HttpServer(std::unique_ptr<Impl> impl) : m_impl(std::move(impl)) {}

HttpServer::~HttpServer() = default;

Result<std::unique_ptr<HttpServer>> HttpServer::listen(uv_loop_t* loop, const std::string& address,
                                                       HttpHandler handler, HttpServerOptions options) {
  sockaddr_storage sa{};
  std::string host;
  std::string port_text;
  if (!address.empty() && address.front() == '[') {
    auto close = address.find("]:");
    if (close == std::string::npos) return fail("metrics_listen: " + address + " is not [ADDR]:PORT");
    host = address.substr(1, close - 1);
    port_text = address.substr(close + 2);
  } else {
    auto colon = address.rfind(':');
    if (colon == std::string::npos) return fail("metrics_listen: " + address + " is not ADDR:PORT");
    host = address.substr(0, colon);
    port_text = address.substr(colon + 1);
  }
  int port = 0;
  auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (ec != std::errc() || end != port_text.data() + port_text.size() || port < 0 || port > 65535) {
    return fail("metrics_listen: " + address + ": the port is not a number from 0 to 65535");
  }
  if (uv_ip4_addr(host.c_str(), port, reinterpret_cast<sockaddr_in*>(&sa)) != 0 &&
      uv_ip6_addr(host.c_str(), port, reinterpret_cast<sockaddr_in6*>(&sa)) != 0) {
    return fail("metrics_listen: " + address + ": not an IP address and port");
  }
  auto impl = std::make_unique<Impl>();
  impl->loop = loop;
  impl->handler = std::move(handler);
  impl->options = options;
  uv_tcp_init(loop, &impl->listener);
  impl->listener.data = impl.get();
  int rc = uv_tcp_bind(&impl->listener, reinterpret_cast<const sockaddr*>(&sa), 0);
  if (rc == 0) rc = uv_listen(reinterpret_cast<uv_stream_t*>(&impl->listener), 64, &Impl::on_connection);
  if (rc != 0) {
    // The handle's memory may be freed only in its close callback: the
    // state is handed over to it.
    Impl* orphan = impl.release();
    orphan->closed = true;
    uv_close(reinterpret_cast<uv_handle_t*>(&orphan->listener),
             [](uv_handle_t* h) { delete static_cast<Impl*>(h->data); });
    return fail("metrics_listen: cannot listen on " + address + ": " + uv_strerror(rc));
  }
  sockaddr_storage bound{};
  int len = sizeof bound;
  if (uv_tcp_getsockname(&impl->listener, reinterpret_cast<sockaddr*>(&bound), &len) == 0) {
    impl->bound_port = bound.ss_family == AF_INET6 ? ntohs(reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port)
                                                   : ntohs(reinterpret_cast<sockaddr_in*>(&bound)->sin_port);
  }
  return std::unique_ptr<HttpServer>(new HttpServer(std::move(impl)));
}

void HttpServer::close() {
  if (m_impl->closed) return;
  m_impl->closed = true;
  uv_close(reinterpret_cast<uv_handle_t*>(&m_impl->listener), nullptr);
  std::vector<Connection*> open(m_impl->live.begin(), m_impl->live.end());
  for (Connection* c : open) m_impl->close_connection(c);
}

int HttpServer::port() const { return m_impl->bound_port; }

std::size_t HttpServer::connections() const { return m_impl->live.size(); }

}  // namespace caad::metrics
