// Tests for daemon/run/db_worker: jobs run one at a time, in order, each
// completion on the loop thread, including jobs submitted from a completion.
#include "daemon/run/db_worker.h"

#include <doctest/doctest.h>
#include <uv.h>

#include <cstdlib>
#include <filesystem>
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
    std::vector<std::string> order;
    const auto loop_thread = std::this_thread::get_id();
    bool done_on_loop = true;
    auto job = [&](std::string name) {
      return [&, name](caad::store::Store& s) {
        CHECK(s.schema_version() >= 1);
        order.push_back("work " + name);
      };
    };
    worker.submit(job("a"), [&](const std::string& error) {
      CHECK(error.empty());
      done_on_loop = done_on_loop && std::this_thread::get_id() == loop_thread;
      order.push_back("done a");
      // Submitted while "b" is already queued: must run after it.
      worker.submit(job("c"), [&](const std::string&) { order.push_back("done c"); });
    });
    worker.submit(job("b"), [&](const std::string&) { order.push_back("done b"); });
    worker.submit([](caad::store::Store&) { throw std::runtime_error("disk on fire"); },
                  [&](const std::string& error) { order.push_back("error " + error); });
    uv_run(&loop, UV_RUN_DEFAULT);
    CHECK(worker.idle());
    CHECK(done_on_loop);
    CHECK(order == std::vector<std::string>{"work a", "done a", "work b", "done b", "error disk on fire",
                                            "work c", "done c"});
  }
  CHECK(uv_loop_close(&loop) == 0);
  std::filesystem::remove_all(dir);
}
