// Owning handles for SQLite objects, shared by the store and the read-only
// reader of caad-status, and the busy timeout both use.
#pragma once

#include <sqlite3.h>

#include <memory>

namespace caad::store {

// How long a connection waits for a lock: a reader only waits when a
// checkpoint or a migration holds the file, which is brief.
inline constexpr int k_busy_timeout_ms = 5000;

struct ConnectionCloser {
  void operator()(sqlite3* db) const { sqlite3_close_v2(db); }
};
using Connection = std::unique_ptr<sqlite3, ConnectionCloser>;

struct StatementFinalizer {
  void operator()(sqlite3_stmt* stmt) const { sqlite3_finalize(stmt); }
};
using StatementPtr = std::unique_ptr<sqlite3_stmt, StatementFinalizer>;

struct SqliteFree {
  void operator()(char* p) const { sqlite3_free(p); }
};
using SqliteString = std::unique_ptr<char, SqliteFree>;

}  // namespace caad::store
