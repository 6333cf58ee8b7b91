// HTTP POSTs on the libuv loop: libcurl's multi interface driven by libuv
// (a uv_poll_t per socket curl wants watched, one uv_timer_t for curl's
// timeouts, curl_multi_socket_action when either fires). No thread per
// request and nothing blocks the loop: a slow receiver costs a socket, not
// a thread. TLS certificates and host names are always verified, redirects
// are never followed, and every request has a connect and a total timeout.
#pragma once

#include <curl/curl.h>
#include <uv.h>

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "lib/alerts/delivery.h"
#include "lib/util/result.h"

namespace caad::notify {

struct HttpRequest {
  std::string url;
  std::vector<std::string> headers;  // "Name: value"; Content-Type is application/json
  std::string body;
  std::chrono::milliseconds connect_timeout{5000};
  std::chrono::milliseconds timeout{15000};  // the whole request
};

class HttpClient {
 public:
  // `done` gets the outcome on the loop thread, never from inside post().
  using Done = std::function<void(alerts::HttpOutcome)>;

  // "caad/VERSION".
  static std::string default_user_agent();

  HttpClient(uv_loop_t* loop, std::string user_agent = default_user_agent());
  // close() must have been called, and the loop run until its handles closed.
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  // Starts a POST. An error (a URL curl refuses, no memory) means it never
  // started and `done` will not be called.
  Status post(HttpRequest request, Done done);
  // Aborts every request in flight (their `done` is not called) and closes
  // the loop handles; the loop then finishes closing them.
  void close();
  std::size_t in_flight() const { return m_transfers.size(); }

 private:
  struct Transfer;
  struct Socket;
  struct MultiCleanup {
    void operator()(CURLM* multi) const { curl_multi_cleanup(multi); }
  };

  // curl's callbacks (C): each catches everything, so nothing is thrown into curl.
  static int on_socket(CURL* easy, curl_socket_t fd, int action, void* client, void* socket);
  static int on_timer_change(CURLM* multi, long timeout_ms, void* client);
  static void on_poll(uv_poll_t* handle, int status, int events);
  static void on_timer(uv_timer_t* handle);
  void socket_action(curl_socket_t fd, int flags);
  void finish_done();

  uv_loop_t* m_loop;
  std::string m_user_agent;
  std::unique_ptr<CURLM, MultiCleanup> m_multi;
  uv_timer_t m_timer{};  // curl's timeout; closed by close()
  std::unordered_map<CURL*, std::unique_ptr<Transfer>> m_transfers;
  std::unordered_set<Socket*> m_sockets;  // watched now; each frees itself when its poll closes
  bool m_closed = false;
};

}  // namespace caad::notify
