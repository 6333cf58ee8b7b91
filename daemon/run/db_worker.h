// Runs SQLite work off the event loop. The store is used by one thread at a
// time, and a slow disk must not stall DNS, so every database job goes to
// libuv's thread pool, one job at a time, in the order submitted; its
// completion runs back on the loop thread. Jobs are plain functions over the
// Store; exceptions are caught on the worker and reported as errors.
#pragma once

#include <uv.h>

#include <deque>
#include <functional>
#include <memory>
#include <string>

#include "lib/store/store.h"

namespace caad::run {

class DbWorker {
 public:
  // `work` runs on a pool thread with the store; `done` on the loop thread
  // with the error text (empty on success).
  using Work = std::function<void(store::Store&)>;
  using Done = std::function<void(const std::string& error)>;

  DbWorker(uv_loop_t* loop, std::unique_ptr<store::Store> store);
  ~DbWorker();
  DbWorker(const DbWorker&) = delete;
  DbWorker& operator=(const DbWorker&) = delete;

  void submit(Work work, Done done);
  bool idle() const { return !m_running && m_queue.empty(); }
  std::size_t queued() const { return m_queue.size() + (m_running ? 1 : 0); }

 private:
  struct Job {
    Work work;
    Done done;
    std::string error;
  };
  void start_next();
  static void on_work(uv_work_t* req);
  static void on_after_work(uv_work_t* req, int status);

  uv_loop_t* m_loop;
  std::unique_ptr<store::Store> m_store;
  std::deque<Job> m_queue;
  Job m_current;
  uv_work_t m_req{};
  bool m_running = false;
};

}  // namespace caad::run
