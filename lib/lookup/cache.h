// A bounded cache of values keyed by domain-name text, each with its own
// expiry time, evicting the least recently used entry when full. Private to
// the lookup engine, which keeps CAA answers for shared names here.
#pragma once

#include <cstddef>
#include <list>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>

#include "lib/util/clock.h"

namespace caad::lookup::detail {

template <class Value>
class LruCache {
 public:
  struct Entry {
    std::string key;
    Value value;
    Instant expires;
  };

  explicit LruCache(std::size_t capacity) : m_capacity(capacity) {}
  // The index holds views into the list's keys, so moving or copying the
  // cache would leave them pointing at the old nodes' strings.
  LruCache(const LruCache&) = delete;
  LruCache& operator=(const LruCache&) = delete;

  // The live entry for `key`, now the most recently used; nullptr when there
  // is none or it expired (an expired entry is dropped on the spot). The
  // pointer is valid until the next call that changes the cache.
  const Entry* find(std::string_view key, Instant now) {
    auto it = m_index.find(key);
    if (it == m_index.end()) return nullptr;
    auto node = it->second;
    if (node->expires <= now) {
      m_index.erase(it);
      m_entries.erase(node);
      return nullptr;
    }
    m_entries.splice(m_entries.begin(), m_entries, node);
    return &*node;
  }

  // Stores or replaces the value for `key`. When the cache is full the least
  // recently used entry goes first, expired or not: a bound on memory matters
  // more than keeping a slightly fresher answer.
  void insert(std::string key, Value value, Instant expires) {
    if (m_capacity == 0) return;
    if (auto it = m_index.find(key); it != m_index.end()) {
      auto node = it->second;
      node->value = std::move(value);
      node->expires = expires;
      m_entries.splice(m_entries.begin(), m_entries, node);
      return;
    }
    if (m_entries.size() >= m_capacity) {
      m_index.erase(std::string_view(m_entries.back().key));
      m_entries.pop_back();
    }
    m_entries.push_front(Entry{std::move(key), std::move(value), expires});
    // The view points into the list node, which never moves while it lives.
    m_index.emplace(std::string_view(m_entries.front().key), m_entries.begin());
  }

  std::size_t size() const { return m_entries.size(); }

 private:
  std::size_t m_capacity;
  std::list<Entry> m_entries;  // most recently used first
  std::unordered_map<std::string_view, typename std::list<Entry>::iterator> m_index;
};

}  // namespace caad::lookup::detail
