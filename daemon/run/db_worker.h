// Runs SQLite work off the event loop. The store is used by one thread, and
// a slow disk must not stall DNS, so every database job runs on the
// worker's own thread, one at a time, in the order submitted; its
// completion runs back on the loop thread, in the same order. Jobs are plain
// functions over the Store; exceptions are caught on the worker and reported
// as errors.
//
// The daemon keeps two: the writer, with the read-write connection, and a
// reader with a read-only connection of its own, for the due-domain fetches
// the lookups wait on and the status counts (WAL lets it read while the
// writer writes).
//
// The writer thread runs at a lower CPU priority (nice + k_nice_offset) than
// the loop. Nothing on the loop waits for a write, but every lookup's
// deadline is timed on the loop, so when the machine is short of CPU the
// lookups go first and the batched writes catch up in the gaps: a busy
// database must not turn slow answers into false lookup failures. The
// daemon bounds the results waiting for the writer (k_max_backlog_batches
// in daemon.cpp).
#pragma once

#include <uv.h>

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "lib/store/store.h"

namespace caad::run {

class DbWorker {
 public:
  // `work` runs on the worker thread with the store; `done` on the loop
  // thread with the error text (empty on success).
  using Work = std::function<void(store::Store&)>;
  using Done = std::function<void(const std::string& error)>;

  // How much lower the writer thread's priority is than the loop's.
  static constexpr int k_nice_offset = 5;

  // `name` names the thread (at most 15 characters: ps, top, /proc);
  // `nice_offset` is added to its nice value (0: the loop's priority).
  DbWorker(uv_loop_t* loop, std::unique_ptr<store::Store> store, std::string name = "caad-db",
           int nice_offset = k_nice_offset);
  // Drops jobs not started yet (their `done` never runs), waits for the one
  // running, and stops the thread. With the loop still open, it also closes
  // the handle that carries completions, if close() has not.
  ~DbWorker();
  DbWorker(const DbWorker&) = delete;
  DbWorker& operator=(const DbWorker&) = delete;

  void submit(Work work, Done done);
  // No job waiting, running or waiting for its completion to run.
  bool idle() const { return m_outstanding == 0; }
  // For shutdown: once every submitted job has completed, the worker stops
  // keeping the loop alive and closes its handle. A job submitted after
  // that fails at once with an error.
  void close();

 private:
  struct Job {
    Work work;
    Done done;
    std::string error;
  };
  void thread_main();
  void deliver();  // on the loop thread: runs finished jobs' completions
  void after_completions();
  static void on_async(uv_async_t* handle);

  uv_loop_t* m_loop;
  std::unique_ptr<store::Store> m_store;
  std::string m_name;
  int m_nice_offset;
  uv_async_t m_async{};
  // Loop thread only.
  std::size_t m_outstanding = 0;  // submitted, completion not yet run
  bool m_closing = false;
  bool m_handle_closed = false;
  // Shared with the worker thread, under m_mutex.
  std::mutex m_mutex;
  std::condition_variable m_wake;
  std::deque<Job> m_todo;      // submitted, not started
  std::deque<Job> m_finished;  // run, completion not yet delivered
  bool m_stop = false;
  std::thread m_thread;  // last: starts once the rest is ready
};

}  // namespace caad::run
