// Result<T>: a value or an error message, for operations where failure is
// normal (bad input, a DNS timeout, a busy database). C++23's std::expected is
// not usable with the compilers caad supports (clang 14 for the fuzzers), so
// this is the small subset caad needs, with the same spelling.
#pragma once

#include <cassert>
#include <string>
#include <utility>
#include <variant>

namespace caad {

// An error: one sentence that names the input and says what is wrong.
struct Error {
  std::string message;
};

template <class E>
struct Unexpected {
  E error;
};

// Builds the error side of any Result: `return fail("name is empty");`.
inline Unexpected<Error> fail(std::string message) { return {Error{std::move(message)}}; }

template <class T, class E = Error>
class [[nodiscard]] Result {
 public:
  Result(T value) : m_state(std::in_place_index<0>, std::move(value)) {}  // NOLINT: implicit by design
  template <class U>
  Result(Unexpected<U> e) : m_state(std::in_place_index<1>, E(std::move(e.error))) {}  // NOLINT

  bool has_value() const { return m_state.index() == 0; }
  explicit operator bool() const { return has_value(); }

  T& value() & { assert(has_value()); return std::get<0>(m_state); }
  const T& value() const& { assert(has_value()); return std::get<0>(m_state); }
  T&& value() && { assert(has_value()); return std::get<0>(std::move(m_state)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  const E& error() const { assert(!has_value()); return std::get<1>(m_state); }

 private:
  std::variant<T, E> m_state;
};

// For operations that return nothing but may fail.
struct Ok {};
using Status = Result<Ok>;

}  // namespace caad
