// Tests for daemon/metrics/http_server: the strict request-head parser, and
// the server on a real loopback socket (answer and close, 404/405/400/431,
// the connection cap), ending with every handle closed and the loop closed.
#include <doctest/doctest.h>
#include <uv.h>

#include <string>
#include <vector>

#include "daemon/metrics/http_server.h"

using namespace caad::metrics;

TEST_CASE("request heads: GET and HEAD pass, other methods are 405, the rest 400") {
  auto head = parse_request_head("GET /metrics HTTP/1.1\r\nHost: x\r\nAccept: */*\r\n\r\n");
  CHECK(head.error_status == 0);
  CHECK(head.method == "GET");
  CHECK(head.path == "/metrics");
  CHECK(parse_request_head("HEAD /healthz?x=1 HTTP/1.0\r\n\r\n").path == "/healthz");
  CHECK(parse_request_head("POST /metrics HTTP/1.1\r\n\r\n").error_status == 405);
  for (const char* bad : {
           "GET /metrics\r\n\r\n",                      // no version
           "GET /metrics HTTP/2\r\n\r\n",               // not HTTP/1.x
           "GET  /metrics HTTP/1.1\r\n\r\n",            // two spaces
           "get /metrics HTTP/1.1\r\n\r\n",             // methods are upper case
           "GET metrics HTTP/1.1\r\n\r\n",              // not origin-form
           "GET http://x/metrics HTTP/1.1\r\n\r\n",     // absolute-form refused
           "GET /me\x01trics HTTP/1.1\r\n\r\n",         // control byte
           "GET /metrics HTTP/1.1\nHost: x\n\n",        // bare LF
           "GET /metrics HTTP/1.1\r\nHost x\r\n\r\n",   // header without colon
           "GET /metrics HTTP/1.1\r\n folded\r\n\r\n",  // obsolete line folding
           "",
       }) {
    CHECK_MESSAGE(parse_request_head(bad).error_status == 400, bad);
  }
}

namespace {

// One client connection: sends `request`, collects everything until EOF.
struct Client {
  uv_tcp_t tcp{};
  uv_connect_t connect{};
  uv_write_t write{};
  std::string request, response;
  bool eof = false;
};

void start_client(uv_loop_t* loop, Client& c, int port) {
  sockaddr_in sa{};
  uv_ip4_addr("127.0.0.1", port, &sa);
  uv_tcp_init(loop, &c.tcp);
  c.tcp.data = &c;
  c.connect.data = &c;
  uv_tcp_connect(&c.connect, &c.tcp, reinterpret_cast<const sockaddr*>(&sa), [](uv_connect_t* req, int status) {
    auto* cl = static_cast<Client*>(req->data);
    if (status != 0) {
      cl->eof = true;
      uv_close(reinterpret_cast<uv_handle_t*>(&cl->tcp), nullptr);
      return;
    }
    uv_buf_t buf = uv_buf_init(cl->request.data(), static_cast<unsigned>(cl->request.size()));
    if (!cl->request.empty()) uv_write(&cl->write, reinterpret_cast<uv_stream_t*>(&cl->tcp), &buf, 1, nullptr);
    uv_read_start(
        reinterpret_cast<uv_stream_t*>(&cl->tcp),
        [](uv_handle_t*, std::size_t, uv_buf_t* b) {
          static char space[65536];
          *b = uv_buf_init(space, sizeof space);
        },
        [](uv_stream_t* s, ssize_t n, const uv_buf_t* b) {
          auto* c2 = static_cast<Client*>(s->data);
          if (n > 0) c2->response.append(b->base, static_cast<std::size_t>(n));
          if (n < 0) {
            c2->eof = true;
            uv_close(reinterpret_cast<uv_handle_t*>(&c2->tcp), nullptr);
          }
        });
  });
}

// Sends each request on its own connection. With `staged`, each client
// starts only once the server holds the previous connections, so the order
// in which the server accepts them is known.
std::vector<std::string> exchange(const std::vector<std::string>& requests, HttpServerOptions options = {},
                                  bool staged = false) {
  uv_loop_t loop;
  uv_loop_init(&loop);
  auto server = HttpServer::listen(&loop, "127.0.0.1:0", [&](std::string_view path) {
    if (path == "/metrics") return HttpResponse{200, "text/plain; version=0.0.4", "caad_x 1\n"};
    return HttpResponse{404, "text/plain", "no\n"};
  }, options);
  REQUIRE(server.has_value());
  std::vector<Client> clients(requests.size());
  for (std::size_t i = 0; i < requests.size(); ++i) {
    clients[i].request = requests[i];
    start_client(&loop, clients[i], (*server)->port());
    while (staged && (*server)->connections() < i + 1 && !clients[i].eof) uv_run(&loop, UV_RUN_ONCE);
  }
  auto all_done = [&] {
    for (auto& c : clients) {
      if (!c.eof) return false;
    }
    return true;
  };
  while (!all_done()) uv_run(&loop, UV_RUN_ONCE);
  (*server)->close();
  uv_run(&loop, UV_RUN_DEFAULT);
  CHECK((*server)->connections() == 0);
  server->reset();
  CHECK(uv_loop_close(&loop) == 0);
  std::vector<std::string> out;
  for (auto& c : clients) out.push_back(c.response);
  return out;
}

}  // namespace

TEST_CASE("the server answers one request per connection and closes it") {
  auto got = exchange({"GET /metrics HTTP/1.1\r\nHost: t\r\n\r\n", "HEAD /metrics HTTP/1.1\r\n\r\n",
                       "GET /nope HTTP/1.1\r\n\r\n", "DELETE /metrics HTTP/1.1\r\n\r\n",
                       "GARBAGE\r\n\r\n"});
  CHECK(got[0].rfind("HTTP/1.1 200 OK\r\n", 0) == 0);
  CHECK(got[0].find("Content-Type: text/plain; version=0.0.4\r\n") != std::string::npos);
  CHECK(got[0].find("Connection: close\r\n") != std::string::npos);
  CHECK(got[0].substr(got[0].size() - 9) == "caad_x 1\n");
  CHECK(got[1].find("Content-Length: 9\r\n") != std::string::npos);
  CHECK(got[1].find("caad_x") == std::string::npos);  // HEAD: no body
  CHECK(got[2].rfind("HTTP/1.1 404 ", 0) == 0);
  CHECK(got[3].rfind("HTTP/1.1 405 ", 0) == 0);
  CHECK(got[3].find("Allow: GET, HEAD\r\n") != std::string::npos);
  CHECK(got[4].rfind("HTTP/1.1 400 ", 0) == 0);
}

TEST_CASE("a request head over the size cap gets 431") {
  HttpServerOptions o;
  o.max_request_bytes = 256;
  auto got = exchange({"GET /metrics HTTP/1.1\r\nX-Long: " + std::string(1000, 'a') + "\r\n\r\n"}, o);
  CHECK(got[0].rfind("HTTP/1.1 431 ", 0) == 0);
}

TEST_CASE("connections over the cap are closed at once; a silent client times out") {
  HttpServerOptions o;
  o.max_connections = 1;
  o.request_timeout_ms = 200;
  // The first client says nothing and holds the only slot until its deadline;
  // the second is closed without an answer.
  auto got = exchange({"", "GET /metrics HTTP/1.1\r\n\r\n"}, o, true);
  CHECK(got[0].empty());
  CHECK(got[1].empty());
}

TEST_CASE("listen errors name the address") {
  uv_loop_t loop;
  uv_loop_init(&loop);
  auto bad = HttpServer::listen(&loop, "127.0.0.1:99999", [](std::string_view) { return HttpResponse{}; });
  REQUIRE_FALSE(bad.has_value());
  CHECK(bad.error().message.find("127.0.0.1:99999") != std::string::npos);
  auto taken = HttpServer::listen(&loop, "127.0.0.1:0", [](std::string_view) { return HttpResponse{}; });
  REQUIRE(taken.has_value());
  auto again = HttpServer::listen(&loop, "127.0.0.1:" + std::to_string((*taken)->port()),
                                  [](std::string_view) { return HttpResponse{}; });
  REQUIRE_FALSE(again.has_value());
  CHECK(again.error().message.find("cannot listen on") != std::string::npos);
  (*taken)->close();
  uv_run(&loop, UV_RUN_DEFAULT);
  taken->reset();
  CHECK(uv_loop_close(&loop) == 0);
}
