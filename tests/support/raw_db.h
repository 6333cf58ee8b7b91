// A plain SQLite connection for doctest tests: to build odd files, change
// what the store has no method for, and look at what it wrote. Every failure
// is a REQUIRE naming the SQL.
#pragma once

#include <doctest/doctest.h>
#include <sqlite3.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

namespace caad::testing {

class RawDb {
 public:
  explicit RawDb(const std::string& path) {
    sqlite3* raw = nullptr;
    int rc =
        sqlite3_open_v2(path.c_str(), &raw, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr);
    m_db.reset(raw);
    REQUIRE(rc == SQLITE_OK);
    sqlite3_busy_timeout(raw, 5000);
  }

  void exec(const std::string& sql) {
    char* message = nullptr;
    int rc = sqlite3_exec(m_db.get(), sql.c_str(), nullptr, nullptr, &message);
    std::string text = message != nullptr ? message : "";
    sqlite3_free(message);
    INFO(sql << ": " << text);
    REQUIRE(rc == SQLITE_OK);
  }

  std::int64_t integer(const std::string& sql) {
    auto text = row(sql);
    REQUIRE(text.has_value());
    return std::stoll(*text);
  }

  // What EXPLAIN QUERY PLAN says of `sql`, its steps joined by "; ".
  std::string plan(const std::string& sql) {
    sqlite3_stmt* raw = nullptr;
    int rc = sqlite3_prepare_v2(m_db.get(), ("EXPLAIN QUERY PLAN " + sql).c_str(), -1, &raw, nullptr);
    std::unique_ptr<sqlite3_stmt, StatementFinalizer> stmt(raw);
    REQUIRE(rc == SQLITE_OK);
    std::string out;
    while (sqlite3_step(stmt.get()) == SQLITE_ROW) {
      const unsigned char* p = sqlite3_column_text(stmt.get(), 3);
      out += (out.empty() ? "" : "; ") + std::string(p ? reinterpret_cast<const char*>(p) : "");
    }
    INFO(out);
    return out;
  }

  // The first column of the first row, as text; nullopt without a row or for NULL.
  std::optional<std::string> row(const std::string& sql) {
    sqlite3_stmt* raw = nullptr;
    int rc = sqlite3_prepare_v2(m_db.get(), sql.c_str(), -1, &raw, nullptr);
    std::unique_ptr<sqlite3_stmt, StatementFinalizer> stmt(raw);
    INFO(sql << ": " << sqlite3_errmsg(m_db.get()));
    REQUIRE(rc == SQLITE_OK);
    rc = sqlite3_step(stmt.get());
    REQUIRE((rc == SQLITE_ROW || rc == SQLITE_DONE));
    if (rc == SQLITE_DONE) return std::nullopt;
    const unsigned char* p = sqlite3_column_text(stmt.get(), 0);
    if (p == nullptr) return std::nullopt;
    return std::string(reinterpret_cast<const char*>(p));
  }

 private:
  struct Closer {
    void operator()(sqlite3* db) const { sqlite3_close_v2(db); }
  };
  struct StatementFinalizer {
    void operator()(sqlite3_stmt* s) const { sqlite3_finalize(s); }
  };
  std::unique_ptr<sqlite3, Closer> m_db;
};

}  // namespace caad::testing
