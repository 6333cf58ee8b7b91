// Tests for daemon/run/db_worker: jobs run one at a time, in order, on one
// thread that is not the loop's and runs at a lower priority; each
// completion runs on the loop thread, in order, including jobs submitted
// from a completion; close() lets the loop end.
#include "daemon/run/db_worker.h"

#include <doctest/doctest.h>
#include <uv.h>

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

using caad::run::DbWorker;

TEST_CASE("database jobs run in order, once each, also when submitted from a completion") {
  std::string pattern = (std::filesystem::temp_directory_path() / "caad-dbworker-XXXXXX").string();
  REQUIRE(mkdtemp(pattern.data()) != nullptr);
  std::filesystem::path dir = pattern;
  auto store = caad::store::Store::open((dir / "caad.db").string(), caad::store::Mode::read_write);
  REQUIRE(store.has_value());

  uv_loop_t loop;
  uv_loop_init(&loop);
  {
    DbWorker worker(&loop, std::move(*store));
    // Work runs on the worker thread while completions run on the loop, so
    // the two are recorded apart: only the order within each is fixed.
    std::mutex mutex;
    std::vector<std::string> works;
    std::vector<std::string> dones;
    const auto loop_thread = std::this_thread::get_id();
    bool work_off_loop = true;
    bool done_on_loop = true;
    int worker_nice = 0;
    auto job = [&](std::string name) {
      return [&, name](caad::store::Store& s) {
        CHECK(s.schema_version() >= 1);
        std::lock_guard lock(mutex);
        work_off_loop = work_off_loop && std::this_thread::get_id() != loop_thread;
        worker_nice = getpriority(PRIO_PROCESS, static_cast<id_t>(::gettid()));
        works.push_back(name);
      };
    };
    worker.submit(job("a"), [&](const std::string& error) {
      CHECK(error.empty());
      done_on_loop = done_on_loop && std::this_thread::get_id() == loop_thread;
      {
        std::lock_guard lock(mutex);
        // A completion runs only after its own work.
        CHECK(std::find(works.begin(), works.end(), "a") != works.end());
      }
      dones.push_back("a");
      // Submitted while "b" is already queued: must run after it.
      worker.submit(job("c"), [&](const std::string&) { dones.push_back("c"); });
    });
    worker.submit(job("b"), [&](const std::string&) { dones.push_back("b"); });
    worker.submit([](caad::store::Store&) { throw std::runtime_error("disk on fire"); },
                  [&](const std::string& error) { dones.push_back("error " + error); });
    CHECK_FALSE(worker.idle());
    uv_run(&loop, UV_RUN_DEFAULT);  // returns: an idle worker does not hold the loop
    CHECK(worker.idle());
    CHECK(done_on_loop);
    CHECK(work_off_loop);
    CHECK(works == std::vector<std::string>{"a", "b", "c"});
    CHECK(dones == std::vector<std::string>{"a", "b", "error disk on fire", "c"});
    CHECK(worker_nice == std::min(getpriority(PRIO_PROCESS, 0) + DbWorker::k_nice_offset, 19));

    // close(): the handle goes, and a later job fails at once.
    worker.close();
    uv_run(&loop, UV_RUN_DEFAULT);
    std::string late;
    worker.submit([](caad::store::Store&) {}, [&](const std::string& error) { late = error; });
    CHECK(late == "the database worker has shut down");
  }
  CHECK(uv_loop_close(&loop) == 0);
  std::filesystem::remove_all(dir);
}

TEST_CASE("a worker with jobs outstanding at close finishes them before the loop ends") {
  std::string pattern = (std::filesystem::temp_directory_path() / "caad-dbworker-XXXXXX").string();
  REQUIRE(mkdtemp(pattern.data()) != nullptr);
  std::filesystem::path dir = pattern;
  auto store = caad::store::Store::open((dir / "caad.db").string(), caad::store::Mode::read_write);
  REQUIRE(store.has_value());

  uv_loop_t loop;
  uv_loop_init(&loop);
  {
    DbWorker worker(&loop, std::move(*store));
    int done = 0;
    for (int i = 0; i < 50; ++i) {
      worker.submit([](caad::store::Store& s) { CHECK(s.integrity_ok().value()); },
                    [&](const std::string& error) {
                      CHECK(error.empty());
                      ++done;
                    });
    }
    worker.close();
    uv_run(&loop, UV_RUN_DEFAULT);
    CHECK(done == 50);
    CHECK(worker.idle());
  }
  CHECK(uv_loop_close(&loop) == 0);
  std::filesystem::remove_all(dir);
}
