// DbWorker: a FIFO of database jobs on one thread of its own.
//
// The loop hands jobs over under a mutex and the worker hands them back the
// same way, waking the loop with a uv_async_t (the one libuv call that is
// safe from another thread). Several completions may arrive in one wake-up;
// they run in the order the jobs were submitted. The async handle is
// referenced only while jobs are outstanding, so an idle worker does not
// keep uv_run from returning.
#include "daemon/run/db_worker.h"

#include <pthread.h>
#include <spdlog/spdlog.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <exception>
#include <utility>

namespace caad::run {
namespace {

// Lowers the calling thread's CPU priority by `offset` nice steps (Linux
// applies setpriority to the one thread a tid names). Failure costs only
// the preference, so it is logged and ignored. systemd/caad.service allows
// setpriority for this alone.
void lower_thread_priority(const std::string& name, int offset) {
  if (offset == 0) return;
  const pid_t tid = ::gettid();
  errno = 0;
  const int now = getpriority(PRIO_PROCESS, static_cast<id_t>(tid));
  if (errno != 0 || setpriority(PRIO_PROCESS, static_cast<id_t>(tid), std::min(now + offset, 19)) != 0) {
    spdlog::info("database worker {}: runs at the loop's CPU priority (cannot lower it: {})", name,
                 std::strerror(errno));
  }
}

}  // namespace

DbWorker::DbWorker(uv_loop_t* loop, std::unique_ptr<store::Store> store, std::string name, int nice_offset)
    : m_loop(loop), m_store(std::move(store)), m_name(std::move(name)), m_nice_offset(nice_offset) {
  uv_async_init(m_loop, &m_async, &DbWorker::on_async);
  m_async.data = this;
  uv_unref(reinterpret_cast<uv_handle_t*>(&m_async));
  m_thread = std::thread([this] { thread_main(); });
}

DbWorker::~DbWorker() {
  {
    std::lock_guard lock(m_mutex);
    m_stop = true;
    m_todo.clear();
  }
  m_wake.notify_one();
  if (m_thread.joinable()) m_thread.join();
  if (!m_handle_closed) {
    // close() never ran, or jobs were still outstanding: the handle must be
    // closed before the loop is, and closing takes one turn of the loop.
    uv_close(reinterpret_cast<uv_handle_t*>(&m_async), nullptr);
    uv_run(m_loop, UV_RUN_NOWAIT);
  }
}

void DbWorker::submit(Work work, Done done) {
  if (m_handle_closed) {
    spdlog::error("database worker: a job was submitted after shutdown; not run");
    if (done) done("the database worker has shut down");
    return;
  }
  if (m_outstanding++ == 0) uv_ref(reinterpret_cast<uv_handle_t*>(&m_async));
  {
    std::lock_guard lock(m_mutex);
    m_todo.push_back(Job{std::move(work), std::move(done), {}});
  }
  m_wake.notify_one();
}

void DbWorker::close() {
  m_closing = true;
  after_completions();
}

void DbWorker::thread_main() {
  pthread_setname_np(pthread_self(), m_name.substr(0, 15).c_str());
  lower_thread_priority(m_name, m_nice_offset);
  std::unique_lock lock(m_mutex);
  for (;;) {
    m_wake.wait(lock, [this] { return m_stop || !m_todo.empty(); });
    if (m_stop) return;
    Job job = std::move(m_todo.front());
    m_todo.pop_front();
    lock.unlock();
    try {
      job.work(*m_store);
    } catch (const std::exception& e) {
      job.error = e.what();
    } catch (...) {
      job.error = "unknown exception in a database job";
    }
    lock.lock();
    m_finished.push_back(std::move(job));
    uv_async_send(&m_async);
  }
}

void DbWorker::on_async(uv_async_t* handle) {
  static_cast<DbWorker*>(handle->data)->deliver();
}

void DbWorker::deliver() {
  std::deque<Job> finished;
  {
    std::lock_guard lock(m_mutex);
    finished.swap(m_finished);
  }
  for (Job& job : finished) {
    --m_outstanding;
    try {
      if (job.done) job.done(job.error);
    } catch (const std::exception& e) {
      spdlog::error("database worker: completion handler threw: {}", e.what());
    }
  }
  after_completions();
}

void DbWorker::after_completions() {
  if (m_outstanding > 0 || m_handle_closed) return;
  uv_unref(reinterpret_cast<uv_handle_t*>(&m_async));
  if (m_closing) {
    m_handle_closed = true;
    uv_close(reinterpret_cast<uv_handle_t*>(&m_async), nullptr);
  }
}

}  // namespace caad::run
