// Tests for daemon/run/db_worker: jobs run one at a time, in order, on one
// thread that is not the loop's and runs at a lower priority; each
// completion runs on the loop thread, in order, including jobs submitted
// from a completion; close() lets the loop end. A second worker on a
// read-only connection (the daemon's due fetches) has its own thread name
// and priority and sees what the writer committed.
#include "daemon/run/db_worker.h"

#include <doctest/doctest.h>
#include <uv.h>

#include <pthread.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <memory>
#include <mutex>
#include <span>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/temp_dir.h"

using caad::run::DbWorker;

namespace {

std::unique_ptr<caad::store::Store> open_store(const std::string& path, caad::store::Mode mode,
                                               int cache_kib = caad::store::k_default_cache_kib) {
  auto store = caad::store::Store::open(path, mode, cache_kib);
  REQUIRE_MESSAGE(store.has_value(), (store ? "" : store.error().message));
  return std::move(*store);
}

caad::store::DomainSpec domain(const std::string& text) {
  auto request = caad::dns::parse_domain(text);
  if (!request) throw std::runtime_error(request.error().message);
  return caad::store::DomainSpec{*request, {}, std::nullopt, std::nullopt, true};
}

}  // namespace

TEST_CASE("database jobs run in order, once each, also when submitted from a completion") {
  caad::testing::TempDir dir("caad-dbworker");
  auto store = open_store(dir.file("caad.db"), caad::store::Mode::read_write);

  uv_loop_t loop;
  uv_loop_init(&loop);
  {
    DbWorker worker(&loop, std::move(store));
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
}

TEST_CASE("a worker with jobs outstanding at close finishes them before the loop ends") {
  caad::testing::TempDir dir("caad-dbworker");
  auto store = open_store(dir.file("caad.db"), caad::store::Mode::read_write);

  uv_loop_t loop;
  uv_loop_init(&loop);
  {
    DbWorker worker(&loop, std::move(store));
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
}

TEST_CASE("a reader worker reads on its own connection, at the loop's priority, while the writer writes") {
  caad::testing::TempDir dir("caad-dbworker");
  auto store = open_store(dir.file("caad.db"), caad::store::Mode::read_write);
  auto read_only = open_store(dir.file("caad.db"), caad::store::Mode::read_only, 1024);

  uv_loop_t loop;
  uv_loop_init(&loop);
  {
    DbWorker writer(&loop, std::move(store));
    DbWorker reader(&loop, std::move(read_only), "caad-db-read", 0);
    std::mutex mutex;
    std::string reader_name;
    int reader_nice = 99;
    std::vector<std::size_t> seen;  // domains the reader saw, read after each write completed
    std::string write_error, read_error;
    for (int i = 0; i < 5; ++i) {
      writer.submit(
          [i](caad::store::Store& s) {
            const caad::store::DomainSpec spec = domain("r" + std::to_string(i) + ".example");
            auto r = s.upsert(std::span(&spec, 1), 1000, false);
            if (!r) throw std::runtime_error(r.error().message);
          },
          [&](const std::string& wrote) {
            if (!wrote.empty()) write_error = wrote;
            // Submitted after the write committed: the reader sees it.
            reader.submit(
                [&](caad::store::Store& s) {
                  char name[16] = {};
                  pthread_getname_np(pthread_self(), name, sizeof name);
                  auto listed = s.list(100, 0);
                  std::lock_guard lock(mutex);
                  reader_name = name;
                  reader_nice = getpriority(PRIO_PROCESS, static_cast<id_t>(::gettid()));
                  seen.push_back(listed ? listed->size() : 0);
                },
                [&](const std::string& error) {
                  if (!error.empty()) read_error = error;
                });
          });
    }
    uv_run(&loop, UV_RUN_DEFAULT);
    CHECK(write_error.empty());
    CHECK(read_error.empty());
    CHECK(reader_name == "caad-db-read");
    CHECK(reader_nice == getpriority(PRIO_PROCESS, 0));
    // Read i follows write i's completion, so it sees at least i + 1 rows
    // (more when later writes committed first).
    REQUIRE(seen.size() == 5);
    for (std::size_t i = 0; i < seen.size(); ++i) {
      INFO("read " << i << " saw " << seen[i]);
      CHECK(seen[i] >= i + 1);
      CHECK(seen[i] <= 5);
    }
    // The reader's connection is read-only.
    std::string refused;
    reader.submit(
        [](caad::store::Store& s) {
          const caad::store::DomainSpec spec = domain("w.example");
          auto r = s.upsert(std::span(&spec, 1), 1000, false);
          if (!r) throw std::runtime_error(r.error().message);
        },
        [&](const std::string& error) { refused = error; });
    uv_run(&loop, UV_RUN_DEFAULT);
    CHECK(refused.find("read-only") != std::string::npos);
    writer.close();
    reader.close();
    uv_run(&loop, UV_RUN_DEFAULT);
  }
  CHECK(uv_loop_close(&loop) == 0);
}
