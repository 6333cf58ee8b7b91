// A deliberately tiny HTTP/1.1 server on libuv for /metrics and /healthz.
// It reads one request (request line and headers, at most 8 KiB), answers it
// through a handler, and closes the connection: no keep-alive, no bodies, no
// chunking. Anything it does not understand gets 400 (405 for a method other
// than GET or HEAD) and the connection is closed. Connections are capped and
// each has a deadline, so a slow or hostile client can hold a slot only
// briefly and never blocks the loop.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "lib/util/result.h"

struct uv_loop_s;

namespace caad::metrics {

struct HttpResponse {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
};

// Called on the loop thread with the request's path (query string removed).
// Must not throw; an exception is caught and answered with 500.
using HttpHandler = std::function<HttpResponse(std::string_view path)>;

struct HttpServerOptions {
  std::size_t max_request_bytes = 8192;
  std::size_t max_connections = 64;
  std::uint64_t request_timeout_ms = 5000;  // to read the request and write the answer
};

// What a request's head says, or why it is refused (parse_request_head).
struct RequestHead {
  int error_status = 0;  // 0: fine; else 400 or 405
  std::string method;
  std::string path;
};

// Parses "METHOD SP TARGET SP HTTP/1.x CRLF *(header CRLF) CRLF". Strict:
// CRLF line ends, one space between parts, an origin-form target of
// printable ASCII, header lines with a name and a colon.
RequestHead parse_request_head(std::string_view head);

class HttpServer {
 public:
  // Listens on "ADDR:PORT" ("127.0.0.1:9464", "[::1]:9464"). Errors name the address.
  static Result<std::unique_ptr<HttpServer>> listen(uv_loop_s* loop, const std::string& address,
                                                    HttpHandler handler, HttpServerOptions options = {});
  // Must be closed, and the loop run until the close callbacks have been
  // called, before it is destroyed.
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Stops listening and closes every connection. Idempotent.
  void close();
  // The port actually bound (useful with port 0).
  int port() const;
  std::size_t connections() const;

  struct Impl;

 private:
  explicit HttpServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> m_impl;
};

}  // namespace caad::metrics
