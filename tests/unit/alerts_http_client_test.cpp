// Tests for daemon/notify/http_client, the sender under the webhook alerts:
// libcurl multi on a libuv loop against a tiny scripted HTTP server on
// loopback (port picked at run time). What the request carries, what the
// outcome says (status, Retry-After, body, timeout, refused connection), no
// redirect followed, and a close() with a request in flight that leaves the
// loop with no handle open (uv_loop_close() == 0).
#include "daemon/notify/http_client.h"

#include <arpa/inet.h>
#include <doctest/doctest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace alerts = caad::alerts;
using caad::notify::HttpClient;
using caad::notify::HttpRequest;

namespace {

// One connection at a time: reads a request (headers and Content-Length
// body), gives it to `respond`, writes back what it returns. An empty answer
// keeps the connection open, unanswered, until the server stops.
class TinyServer {
 public:
  explicit TinyServer(std::function<std::string(const std::string&)> respond) : m_respond(std::move(respond)) {
    m_fd = ::socket(AF_INET, SOCK_STREAM, 0);
    REQUIRE(m_fd >= 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::bind(m_fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    socklen_t len = sizeof addr;
    REQUIRE(::getsockname(m_fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0);
    m_port = ntohs(addr.sin_port);
    REQUIRE(::listen(m_fd, 8) == 0);
    m_thread = std::thread([this] { serve(); });
  }
  ~TinyServer() {
    m_stop = true;
    m_thread.join();
    ::close(m_fd);
  }
  TinyServer(const TinyServer&) = delete;
  TinyServer& operator=(const TinyServer&) = delete;

  std::string url(const std::string& path = "/hook") const {
    return "http://127.0.0.1:" + std::to_string(m_port) + path;
  }
  std::vector<std::string> requests() {
    std::lock_guard<std::mutex> lock(m_mutex);
    return m_requests;
  }

 private:
  bool wait_readable(int fd) const {
    pollfd p{fd, POLLIN, 0};
    while (!m_stop) {
      if (::poll(&p, 1, 20) > 0) return true;
    }
    return false;
  }

  void serve() {
    while (wait_readable(m_fd)) {
      const int c = ::accept(m_fd, nullptr, nullptr);
      if (c < 0) continue;
      std::string request;
      char buffer[4096];
      std::size_t need = std::string::npos;
      while (need == std::string::npos || request.size() < need) {
        if (!wait_readable(c)) break;
        const ssize_t n = ::read(c, buffer, sizeof buffer);
        if (n <= 0) break;
        request.append(buffer, static_cast<std::size_t>(n));
        const std::size_t end = request.find("\r\n\r\n");
        if (end != std::string::npos && need == std::string::npos) {
          std::size_t length = 0;
          const std::size_t at = request.find("Content-Length: ");
          if (at != std::string::npos && at < end) length = std::stoul(request.substr(at + 16));
          need = end + 4 + length;
        }
      }
      {
        std::lock_guard<std::mutex> lock(m_mutex);
        m_requests.push_back(request);
      }
      const std::string answer = m_respond(request);
      if (answer.empty()) {
        while (!m_stop) std::this_thread::sleep_for(std::chrono::milliseconds(10));
      } else {
        (void)!::write(c, answer.data(), answer.size());
      }
      ::close(c);
    }
  }

  std::function<std::string(const std::string&)> m_respond;
  int m_fd = -1;
  std::uint16_t m_port = 0;
  std::atomic<bool> m_stop{false};
  std::mutex m_mutex;
  std::vector<std::string> m_requests;
  std::thread m_thread;
};

std::string response(const std::string& status_line, const std::string& extra_headers, const std::string& body) {
  return "HTTP/1.1 " + status_line + "\r\n" + extra_headers + "Content-Length: " + std::to_string(body.size()) +
         "\r\nConnection: close\r\n\r\n" + body;
}

// A loop with a client; every test ends with both closed and nothing left open.
struct Fixture {
  uv_loop_t loop{};
  std::optional<HttpClient> client;
  Fixture() {
    uv_loop_init(&loop);
    client.emplace(&loop, "caad-test/1");
  }
  ~Fixture() {
    client->close();
    uv_run(&loop, UV_RUN_DEFAULT);
    client.reset();
    CHECK(uv_loop_close(&loop) == 0);
  }

  // Posts and runs the loop until the outcome arrives (or 10 s pass).
  alerts::HttpOutcome post(HttpRequest request) {
    std::optional<alerts::HttpOutcome> got;
    REQUIRE(client->post(std::move(request), [&](alerts::HttpOutcome o) { got = std::move(o); }).has_value());
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (!got && std::chrono::steady_clock::now() < deadline) {
      uv_run(&loop, UV_RUN_NOWAIT);
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    REQUIRE(got.has_value());
    return *got;
  }
};

HttpRequest request_to(const std::string& url, std::string body = R"({"x":1})") {
  HttpRequest r;
  r.url = url;
  r.body = std::move(body);
  r.headers = {"webhook-id: caad-outbox-7", "webhook-timestamp: 1780000000"};
  return r;
}

}  // namespace

TEST_CASE("a POST carries the body, the headers and the user agent; the outcome has status and body") {
  TinyServer server([](const std::string&) { return response("200 OK", "", "thanks"); });
  Fixture f;
  const std::string big(20000, 'b');  // above curl's Expect: 100-continue size
  const alerts::HttpOutcome o = f.post(request_to(server.url(), "{\"big\":\"" + big + "\"}"));
  CHECK(o.failure == alerts::HttpOutcome::Failure::none);
  CHECK(o.status == 200);
  CHECK(o.body == "thanks");
  CHECK_FALSE(o.retry_after.has_value());
  const std::vector<std::string> seen = server.requests();
  REQUIRE(seen.size() == 1);
  const std::string& r = seen[0];
  CHECK(r.rfind("POST /hook HTTP/1.1\r\n", 0) == 0);
  CHECK(r.find("User-Agent: caad-test/1\r\n") != std::string::npos);
  CHECK(r.find("Content-Type: application/json\r\n") != std::string::npos);
  CHECK(r.find("webhook-id: caad-outbox-7\r\n") != std::string::npos);
  CHECK(r.find("Expect:") == std::string::npos);
  CHECK(r.find(big) != std::string::npos);
}

TEST_CASE("Retry-After is reported; a redirect is not followed") {
  TinyServer server([](const std::string& r) {
    if (r.find("/busy") != std::string::npos) return response("429 Too Many Requests", "retry-after:  7 \r\n", "slow down");
    return response("302 Found", "Location: http://127.0.0.1:1/elsewhere\r\n", "");
  });
  Fixture f;
  alerts::HttpOutcome o = f.post(request_to(server.url("/busy")));
  CHECK(o.status == 429);
  CHECK(o.retry_after == "7");
  CHECK(o.body == "slow down");
  o = f.post(request_to(server.url("/moved")));
  CHECK(o.status == 302);
  CHECK(server.requests().size() == 2);
}

TEST_CASE("a receiver that does not answer times out; a closed port is a network failure") {
  TinyServer server([](const std::string&) { return std::string(); });
  Fixture f;
  HttpRequest r = request_to(server.url());
  r.timeout = std::chrono::milliseconds(300);
  const auto started = std::chrono::steady_clock::now();
  alerts::HttpOutcome o = f.post(r);
  CHECK(o.failure == alerts::HttpOutcome::Failure::timeout);
  CHECK(o.status == 0);
  CHECK(o.error.find("imed out") != std::string::npos);
  CHECK(std::chrono::steady_clock::now() - started < std::chrono::seconds(3));

  o = f.post(request_to("http://127.0.0.1:1/nothing"));
  CHECK(o.failure == alerts::HttpOutcome::Failure::network);
  CHECK_FALSE(o.error.empty());
}

TEST_CASE("close() with a request in flight aborts it without calling back, and closes every handle") {
  TinyServer server([](const std::string&) { return std::string(); });
  Fixture f;
  bool called = false;
  REQUIRE(f.client->post(request_to(server.url()), [&](alerts::HttpOutcome) { called = true; }).has_value());
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (server.requests().empty() && std::chrono::steady_clock::now() < deadline) {
    uv_run(&f.loop, UV_RUN_NOWAIT);
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  REQUIRE(server.requests().size() == 1);
  CHECK(f.client->in_flight() == 1);
  f.client->close();
  uv_run(&f.loop, UV_RUN_DEFAULT);
  CHECK_FALSE(called);
  CHECK(f.client->in_flight() == 0);
  CHECK_FALSE(f.client->post(request_to(server.url()), [](alerts::HttpOutcome) {}).has_value());
}

TEST_CASE("only http and https: another scheme fails the request, it is never tried") {
  Fixture f;
  const alerts::HttpOutcome o = f.post(request_to("ftp://127.0.0.1:1/x"));
  CHECK(o.failure == alerts::HttpOutcome::Failure::network);
  CHECK(o.error.find("ftp") != std::string::npos);
}
