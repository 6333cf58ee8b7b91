// libcurl multi on libuv (see the header). The pattern is curl's own
// docs/examples/multi-uv.c: curl says which sockets to watch for what
// (CURLMOPT_SOCKETFUNCTION) and when it next needs a call
// (CURLMOPT_TIMERFUNCTION); libuv watches and calls
// curl_multi_socket_action; finished transfers are read with
// curl_multi_info_read and handed to their callbacks.
//
// Ownership: the CURLM belongs to the client; each CURL easy handle, its
// header list and its request body belong to a Transfer, which lives in
// m_transfers from post() until it finishes or close() aborts it. A Socket
// (the uv_poll_t for one of curl's sockets) is freed in its close callback,
// as libuv requires, never before. curl_multi_socket_action is never called
// from inside a curl callback: the timer callback only arms the uv timer.
#include "daemon/notify/http_client.h"

#include <spdlog/spdlog.h>

#include <array>
#include <exception>
#include <mutex>
#include <string_view>
#include <utility>

#include "lib/util/text.h"

#ifndef CAAD_NOTIFY_VERSION
#define CAAD_NOTIFY_VERSION "unknown"
#endif

namespace caad::notify {
namespace {

// The start of a response body is kept for messages ("HTTP 400:
// invalid_blocks"); the rest is read and dropped.
constexpr std::size_t k_body_kept = 1024;

struct EasyCleanup {
  void operator()(CURL* easy) const { curl_easy_cleanup(easy); }
};
struct HeaderListFree {
  void operator()(curl_slist* list) const { curl_slist_free_all(list); }
};

std::once_flag g_curl_init;

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r' || s.back() == '\n')) {
    s.remove_suffix(1);
  }
  return s;
}

}  // namespace

struct HttpClient::Transfer {
  HttpRequest request;
  Done done;
  // Declared before the easy handle, so freed after it: curl keeps pointers to both.
  std::unique_ptr<curl_slist, HeaderListFree> headers;
  std::string body;  // the response's first k_body_kept bytes
  std::optional<std::string> retry_after;
  std::array<char, CURL_ERROR_SIZE> error{};
  std::unique_ptr<CURL, EasyCleanup> easy;

  static std::size_t on_body(char* data, std::size_t size, std::size_t count, void* self) {
    auto* t = static_cast<Transfer*>(self);
    const std::size_t n = size * count;
    if (t->body.size() < k_body_kept) t->body.append(data, std::min(n, k_body_kept - t->body.size()));
    return n;
  }

  static std::size_t on_header(char* data, std::size_t size, std::size_t count, void* self) {
    auto* t = static_cast<Transfer*>(self);
    const std::size_t n = size * count;
    const std::string_view line(data, n);
    // A new status line (after a 100 Continue) starts a new set of headers.
    if (line.substr(0, 5) == "HTTP/") {
      t->retry_after.reset();
      return n;
    }
    const std::size_t colon = line.find(':');
    if (colon != std::string_view::npos && text::iequals(line.substr(0, colon), "retry-after")) {
      t->retry_after = std::string(trim(line.substr(colon + 1)));
    }
    return n;
  }
};

struct HttpClient::Socket {
  uv_poll_t poll{};
  curl_socket_t fd = CURL_SOCKET_BAD;
  HttpClient* client = nullptr;
};

std::string HttpClient::default_user_agent() {
  return std::string("caad/") + CAAD_NOTIFY_VERSION;
}

HttpClient::HttpClient(uv_loop_t* loop, std::string user_agent) : m_loop(loop), m_user_agent(std::move(user_agent)) {
  // Thread-safe since curl 7.84; done once, before the first handle.
  std::call_once(g_curl_init, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
  m_multi.reset(curl_multi_init());
  uv_timer_init(m_loop, &m_timer);
  m_timer.data = this;
  if (m_multi) {
    curl_multi_setopt(m_multi.get(), CURLMOPT_SOCKETFUNCTION, &HttpClient::on_socket);
    curl_multi_setopt(m_multi.get(), CURLMOPT_SOCKETDATA, this);
    curl_multi_setopt(m_multi.get(), CURLMOPT_TIMERFUNCTION, &HttpClient::on_timer_change);
    curl_multi_setopt(m_multi.get(), CURLMOPT_TIMERDATA, this);
  }
}

HttpClient::~HttpClient() {
  if (!m_closed) spdlog::error("webhooks: HTTP client destroyed without close(); its libuv handles leak");
}

Status HttpClient::post(HttpRequest request, Done done) {
  if (m_closed) return fail("the HTTP client is closed");
  if (!m_multi) return fail("libcurl could not start (curl_multi_init failed)");
  auto t = std::make_unique<Transfer>();
  t->request = std::move(request);
  t->done = std::move(done);
  t->easy.reset(curl_easy_init());
  if (!t->easy) return fail("libcurl could not start a request (curl_easy_init failed)");

  curl_slist* list = nullptr;
  auto add_header = [&](const std::string& h) -> bool {
    curl_slist* next = curl_slist_append(list, h.c_str());
    if (next == nullptr) return false;
    list = next;
    t->headers.release();
    t->headers.reset(list);
    return true;
  };
  // "Expect:" stops curl from waiting for a 100 Continue on larger bodies.
  for (const std::string& h : {std::string("Content-Type: application/json"), std::string("Expect:")}) {
    if (!add_header(h)) return fail("out of memory building the request headers");
  }
  for (const std::string& h : t->request.headers) {
    if (!add_header(h)) return fail("out of memory building the request headers");
  }

  CURL* e = t->easy.get();
  const long connect_ms = static_cast<long>(std::min(t->request.connect_timeout, t->request.timeout).count());
  CURLcode rc = CURLE_OK;
  auto set = [&](CURLcode r) {
    if (rc == CURLE_OK) rc = r;
  };
  set(curl_easy_setopt(e, CURLOPT_URL, t->request.url.c_str()));
  set(curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https"));
  set(curl_easy_setopt(e, CURLOPT_POST, 1L));
  set(curl_easy_setopt(e, CURLOPT_POSTFIELDS, t->request.body.data()));
  set(curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(t->request.body.size())));
  set(curl_easy_setopt(e, CURLOPT_HTTPHEADER, t->headers.get()));
  set(curl_easy_setopt(e, CURLOPT_USERAGENT, m_user_agent.c_str()));
  // Always verified; there is deliberately no option to turn this off.
  set(curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 1L));
  set(curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 2L));
  // A redirect would send the alert (and its signature) somewhere unconfigured.
  set(curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L));
  set(curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, connect_ms));
  set(curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, static_cast<long>(t->request.timeout.count())));
  set(curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L));
  set(curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, &Transfer::on_body));
  set(curl_easy_setopt(e, CURLOPT_WRITEDATA, t.get()));
  set(curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, &Transfer::on_header));
  set(curl_easy_setopt(e, CURLOPT_HEADERDATA, t.get()));
  set(curl_easy_setopt(e, CURLOPT_ERRORBUFFER, t->error.data()));
  set(curl_easy_setopt(e, CURLOPT_PRIVATE, t.get()));
  if (rc != CURLE_OK) return fail(std::string("libcurl refused the request: ") + curl_easy_strerror(rc));

  const CURLMcode mc = curl_multi_add_handle(m_multi.get(), e);
  if (mc != CURLM_OK) return fail(std::string("libcurl refused the request: ") + curl_multi_strerror(mc));
  m_transfers.emplace(e, std::move(t));
  return Ok{};
}

void HttpClient::close() {
  if (m_closed) return;
  m_closed = true;
  for (auto& [easy, t] : m_transfers) curl_multi_remove_handle(m_multi.get(), easy);
  m_transfers.clear();
  // Cleaning up the multi handle closes its cached connections; curl reports
  // their sockets as removed, which on_socket handles like any other time.
  m_multi.reset();
  for (Socket* s : m_sockets) {
    uv_close(reinterpret_cast<uv_handle_t*>(&s->poll),
             [](uv_handle_t* h) { delete static_cast<Socket*>(h->data); });
  }
  m_sockets.clear();
  uv_close(reinterpret_cast<uv_handle_t*>(&m_timer), nullptr);
}

int HttpClient::on_socket(CURL*, curl_socket_t fd, int action, void* client, void* socket) {
  try {
    auto* self = static_cast<HttpClient*>(client);
    auto* s = static_cast<Socket*>(socket);
    if (action == CURL_POLL_REMOVE) {
      if (s != nullptr) {
        uv_poll_stop(&s->poll);
        self->m_sockets.erase(s);
        uv_close(reinterpret_cast<uv_handle_t*>(&s->poll),
                 [](uv_handle_t* h) { delete static_cast<Socket*>(h->data); });
        if (self->m_multi) curl_multi_assign(self->m_multi.get(), fd, nullptr);
      }
      return 0;
    }
    if (s == nullptr) {
      auto fresh = std::make_unique<Socket>();
      fresh->fd = fd;
      fresh->client = self;
      if (int rc = uv_poll_init_socket(self->m_loop, &fresh->poll, fd); rc != 0) {
        spdlog::error("webhooks: cannot watch socket {}: {}", fd, uv_strerror(rc));
        return -1;  // curl fails that transfer
      }
      fresh->poll.data = fresh.get();
      s = fresh.release();  // from now on owned by the poll handle, freed in its close callback
      self->m_sockets.insert(s);
      curl_multi_assign(self->m_multi.get(), fd, s);
    }
    int events = 0;
    if (action == CURL_POLL_IN || action == CURL_POLL_INOUT) events |= UV_READABLE;
    if (action == CURL_POLL_OUT || action == CURL_POLL_INOUT) events |= UV_WRITABLE;
    uv_poll_start(&s->poll, events, &HttpClient::on_poll);
    return 0;
  } catch (const std::exception& e) {
    spdlog::error("webhooks: internal error watching a socket: {}", e.what());
  } catch (...) {
    spdlog::error("webhooks: internal error watching a socket");
  }
  return -1;
}

int HttpClient::on_timer_change(CURLM*, long timeout_ms, void* client) {
  auto* self = static_cast<HttpClient*>(client);
  if (self->m_closed) return 0;
  if (timeout_ms < 0) {
    uv_timer_stop(&self->m_timer);
  } else {
    // 0 means "as soon as possible", but not from inside this callback.
    uv_timer_start(&self->m_timer, &HttpClient::on_timer, static_cast<std::uint64_t>(std::max(timeout_ms, 1L)), 0);
  }
  return 0;
}

void HttpClient::on_poll(uv_poll_t* handle, int status, int events) {
  try {
    auto* s = static_cast<Socket*>(handle->data);
    int flags = 0;
    if (status < 0) {
      flags = CURL_CSELECT_ERR;
    } else {
      if ((events & UV_READABLE) != 0) flags |= CURL_CSELECT_IN;
      if ((events & UV_WRITABLE) != 0) flags |= CURL_CSELECT_OUT;
    }
    s->client->socket_action(s->fd, flags);
  } catch (const std::exception& e) {
    spdlog::error("webhooks: internal error on a socket event: {}", e.what());
  } catch (...) {
    spdlog::error("webhooks: internal error on a socket event");
  }
}

void HttpClient::on_timer(uv_timer_t* handle) {
  try {
    static_cast<HttpClient*>(handle->data)->socket_action(CURL_SOCKET_TIMEOUT, 0);
  } catch (const std::exception& e) {
    spdlog::error("webhooks: internal error on curl's timer: {}", e.what());
  } catch (...) {
    spdlog::error("webhooks: internal error on curl's timer");
  }
}

void HttpClient::socket_action(curl_socket_t fd, int flags) {
  if (m_closed || !m_multi) return;
  int running = 0;
  curl_multi_socket_action(m_multi.get(), fd, flags, &running);
  finish_done();
}

void HttpClient::finish_done() {
  std::vector<std::pair<std::unique_ptr<Transfer>, CURLcode>> finished;
  int left = 0;
  while (CURLMsg* msg = curl_multi_info_read(m_multi.get(), &left)) {
    if (msg->msg != CURLMSG_DONE) continue;
    CURL* easy = msg->easy_handle;
    const CURLcode result = msg->data.result;
    curl_multi_remove_handle(m_multi.get(), easy);
    auto it = m_transfers.find(easy);
    if (it == m_transfers.end()) continue;
    finished.emplace_back(std::move(it->second), result);
    m_transfers.erase(it);
  }
  // Callbacks run after curl is done with its bookkeeping: they may post again.
  for (auto& [t, result] : finished) {
    alerts::HttpOutcome o;
    curl_off_t total_us = 0;
    curl_easy_getinfo(t->easy.get(), CURLINFO_TOTAL_TIME_T, &total_us);
    o.elapsed_ms = static_cast<std::int64_t>(total_us / 1000);
    if (result == CURLE_OK) {
      long status = 0;
      curl_easy_getinfo(t->easy.get(), CURLINFO_RESPONSE_CODE, &status);
      o.status = status;
      o.retry_after = std::move(t->retry_after);
      o.body = std::move(t->body);
    } else {
      o.failure = result == CURLE_OPERATION_TIMEDOUT ? alerts::HttpOutcome::Failure::timeout
                                                     : alerts::HttpOutcome::Failure::network;
      o.error = t->error[0] != '\0' ? std::string(t->error.data()) : std::string(curl_easy_strerror(result));
    }
    Done done = std::move(t->done);
    t.reset();
    try {
      if (done) done(std::move(o));
    } catch (const std::exception& e) {
      spdlog::error("webhooks: a delivery's completion handler threw: {}", e.what());
    }
    if (m_closed) return;  // a handler closed the client: the rest were aborted with it
  }
}

}  // namespace caad::notify
