// The boundary between the lookup engine (lib, no I/O) and the code that
// talks to resolvers (daemon/net, libuv + ldns). The engine asks questions;
// the transport answers each exactly once, with a decoded message or a
// failure. Retries, fail-over across resolvers, TC→TCP and rate caps are the
// transport's job; a failure reported here is final for that question.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <variant>

#include "lib/dns/message.h"
#include "lib/dns/name.h"

namespace caad::lookup {

struct Question {
  dns::Name name;
  std::uint16_t type = static_cast<std::uint16_t>(dns::RRType::caa);
  bool checking_disabled = false;  // CD bit: ask a validating resolver to skip DNSSEC
  friend bool operator==(const Question&, const Question&) = default;
};

// Why a question got no usable answer from any resolver.
enum class TransportFailure {
  timeout,    // no answer within the time allowed, after every retry
  network,    // a socket error (unreachable, refused connection, ...)
  malformed,  // answers came back but none could be decoded or matched the question
  truncated,  // TC was set and the TCP retry failed too
};
const char* to_string(TransportFailure f);

struct Answer {
  dns::Message message;
  std::string server;  // "127.0.0.1:53": who answered, for reports
};

struct Failed {
  TransportFailure kind;
  std::string detail;  // one clause: "no answer from 127.0.0.1:53 after 3 tries"
  std::string server;  // the last server tried
};

using Reply = std::variant<Answer, Failed>;
using ReplyHandler = std::function<void(Reply)>;

class Transport {
 public:
  virtual ~Transport() = default;
  // Sends `question`; calls `done` exactly once, possibly before returning
  // (a scripted transport does), possibly later from the event loop.
  virtual void query(const Question& question, ReplyHandler done) = 0;
};

}  // namespace caad::lookup
