// DbWorker: a FIFO of database jobs, one in the thread pool at a time.
#include "daemon/run/db_worker.h"

#include <spdlog/spdlog.h>

#include <exception>

namespace caad::run {

DbWorker::DbWorker(uv_loop_t* loop, std::unique_ptr<store::Store> store)
    : m_loop(loop), m_store(std::move(store)) {
  m_req.data = this;
}

DbWorker::~DbWorker() = default;

void DbWorker::submit(Work work, Done done) {
  m_queue.push_back(Job{std::move(work), std::move(done), {}});
  if (!m_running) start_next();
}

void DbWorker::start_next() {
  // A completion handler may already have submitted (and so started) the
  // next job; the one request must never be queued twice.
  if (m_running || m_queue.empty()) return;
  m_current = std::move(m_queue.front());
  m_queue.pop_front();
  m_running = true;
  int rc = uv_queue_work(m_loop, &m_req, &DbWorker::on_work, &DbWorker::on_after_work);
  if (rc != 0) {
    // Only fails on invalid arguments; run inline rather than lose the job.
    spdlog::error("database worker: uv_queue_work failed ({}); running the job on the loop", uv_strerror(rc));
    on_work(&m_req);
    on_after_work(&m_req, 0);
  }
}

void DbWorker::on_work(uv_work_t* req) {
  auto* self = static_cast<DbWorker*>(req->data);
  try {
    self->m_current.work(*self->m_store);
  } catch (const std::exception& e) {
    self->m_current.error = e.what();
  } catch (...) {
    self->m_current.error = "unknown exception in a database job";
  }
}

void DbWorker::on_after_work(uv_work_t* req, int status) {
  auto* self = static_cast<DbWorker*>(req->data);
  Job job = std::move(self->m_current);
  self->m_running = false;
  if (status == UV_ECANCELED && job.error.empty()) job.error = "cancelled";
  try {
    if (job.done) job.done(job.error);
  } catch (const std::exception& e) {
    spdlog::error("database worker: completion handler threw: {}", e.what());
  }
  self->start_next();
}

}  // namespace caad::run
