// Reads caad.toml into a Config. toml++ does the TOML; this file does the
// meaning: every table lists the keys it knows (anything else is an error),
// every value is checked for its type and range, and every error names the
// file, the line and the key path ("caad.toml:12: ca[1].profile: ...") so
// that an operator can fix the file without guessing. Keys are visited in
// the order they appear in the file, so the first error reported is the
// first one a reader would meet.
#include "lib/config/config.h"

#include <algorithm>
#include <array>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <system_error>
#include <utility>

// toml++ is built by Debian as a shared library with exceptions on: only the
// throwing toml::parse is exported (TOML_EXCEPTIONS=0 would need the
// noexcept variant, which the library does not contain). parse() below
// therefore catches toml::parse_error at this boundary and turns it into an
// error value; nothing thrown by toml++ leaves this file.
#include <toml++/toml.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include "lib/util/text.h"
#include "lib/util/time.h"

namespace caad::config {
namespace {

using Line = toml::source_index;

// A key and its value, with the key's position, so that tables can be read
// in file order (toml::table iterates in key order).
struct Entry {
  const toml::key* key;
  const toml::node* node;
};

std::vector<Entry> in_file_order(const toml::table& table) {
  std::vector<Entry> entries;
  for (const auto& [key, node] : table) entries.push_back({&key, &node});
  std::stable_sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) {
    const auto& pa = a.key->source().begin;
    const auto& pb = b.key->source().begin;
    return pa.line != pb.line ? pa.line < pb.line : pa.column < pb.column;
  });
  return entries;
}

bool is_bare_key(std::string_view key) {
  if (key.empty()) return false;
  return std::all_of(key.begin(), key.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-';
  });
}

// "schedule" + "interval_near" → "schedule.interval_near". A key that TOML
// needed quotes for keeps them, so that odd bytes stay visible.
std::string join(std::string_view prefix, std::string_view key) {
  std::string part = is_bare_key(key) ? std::string(key) : text::quote(key, 64);
  return prefix.empty() ? part : std::string(prefix) + "." + part;
}

std::string indexed(std::string_view path, std::size_t index) {
  return std::string(path) + "[" + std::to_string(index) + "]";
}

std::string describe_type(const toml::node& node) {
  switch (node.type()) {
    case toml::node_type::table:
      return "a table";
    case toml::node_type::array:
      return "an array";
    case toml::node_type::string:
      return "a string";
    case toml::node_type::integer:
      return "an integer";
    case toml::node_type::floating_point:
      return "a floating-point number";
    case toml::node_type::boolean:
      return "a boolean";
    case toml::node_type::date:
      return "a date";
    case toml::node_type::time:
      return "a time";
    case toml::node_type::date_time:
      return "a date-time";
    case toml::node_type::none:
      break;
  }
  return "nothing";
}

std::string format_number(double v) {
  std::array<char, 64> buffer{};
  const auto result = std::to_chars(buffer.data(), buffer.data() + buffer.size(), v);
  return std::string(buffer.data(), result.ptr);
}

std::string join_list(const std::vector<std::string_view>& items) {
  std::string out;
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (i > 0) out += i + 1 == items.size() ? " or " : ", ";
    out += items[i];
  }
  return out;
}

// toml++'s descriptions may echo a character of the input; control bytes are
// escaped so that the message stays one line.
std::string printable(std::string_view s) {
  std::string out;
  for (char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) {
      out += text::hex_byte(u);
    } else {
      out += c;
    }
  }
  return out;
}

// Names of CAs and webhooks end up in domain lists, the database and log
// lines, so they are kept to a form that needs no quoting anywhere.
bool is_simple_name(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
  });
}

// RFC 8657 §4 label: (ALPHA / DIGIT) *( *("-") (ALPHA / DIGIT) ).
bool is_method_label(std::string_view s) {
  auto alnum = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
  };
  if (s.empty() || !alnum(s.front()) || !alnum(s.back())) return false;
  return std::all_of(s.begin(), s.end(), [&](char c) { return alnum(c) || c == '-'; });
}

bool istarts_with(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && text::iequals(s.substr(0, prefix.size()), prefix);
}

bool is_loopback_ipv4(std::string_view host) {
  unsigned octets[4] = {};
  std::size_t pos = 0;
  for (int i = 0; i < 4; ++i) {
    if (i > 0) {
      if (pos >= host.size() || host[pos] != '.') return false;
      ++pos;
    }
    const std::size_t start = pos;
    unsigned value = 0;
    while (pos < host.size() && host[pos] >= '0' && host[pos] <= '9' && pos - start < 3) {
      value = value * 10 + static_cast<unsigned>(host[pos] - '0');
      ++pos;
    }
    if (pos == start || value > 255) return false;
    octets[i] = value;
  }
  return pos == host.size() && octets[0] == 127;
}

// What is wrong with a webhook URL, or nothing. Alerts carry customer names
// and reasons, so they go over TLS; plain http is allowed only to this host,
// where a local relay (or the tests' receiver) may listen.
std::optional<std::string> url_problem(std::string_view url) {
  static constexpr std::string_view k_rule =
      "must start with https:// (http:// is allowed only for 127.0.0.0/8, [::1] and localhost)";
  for (char c : url) {
    const auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u >= 0x7f) {
      return "must not contain spaces, control characters or non-ASCII characters "
             "(percent-encode them)";
    }
  }
  bool plain_http = false;
  std::string_view rest;
  if (istarts_with(url, "https://")) {
    rest = url.substr(8);
  } else if (istarts_with(url, "http://")) {
    rest = url.substr(7);
    plain_http = true;
  } else {
    return std::string(k_rule);
  }
  std::string_view authority = rest.substr(0, rest.find_first_of("/?#"));
  if (const auto at = authority.rfind('@'); at != std::string_view::npos) {
    authority.remove_prefix(at + 1);
  }
  std::string_view host = authority;
  std::optional<std::string_view> port;
  if (!authority.empty() && authority.front() == '[') {
    const auto close = authority.find(']');
    if (close == std::string_view::npos) return "has a '[' without ']' around its host";
    host = authority.substr(0, close + 1);
    const std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return "has text after the ']' of its host";
      port = after.substr(1);
    }
  } else if (const auto colon = authority.find(':'); colon != std::string_view::npos) {
    host = authority.substr(0, colon);
    port = authority.substr(colon + 1);
  }
  if (host.empty() || host == "[]") return "has no host";
  if (port) {
    unsigned value = 0;
    const auto result = std::from_chars(port->data(), port->data() + port->size(), value);
    if (port->empty() || result.ec != std::errc() || result.ptr != port->data() + port->size() ||
        value == 0 || value > 65535) {
      return "has a port that is not a number from 1 to 65535";
    }
  }
  if (plain_http && !text::iequals(host, "localhost") && host != "[::1]" &&
      !is_loopback_ipv4(host)) {
    return std::string(k_rule);
  }
  return std::nullopt;
}

// What is wrong with a listen address ("ADDR:PORT" or "[ADDR6]:PORT", IP
// literals only: a name would need a lookup at start-up), or nothing. Empty
// means "no listener".
std::optional<std::string> listen_address_problem(const std::string& address) {
  if (address.empty()) return std::nullopt;
  std::string host;
  std::string port;
  int family = AF_INET;
  if (address.front() == '[') {
    const auto close = address.find("]:");
    if (close == std::string::npos) return "is not \"[ADDR]:PORT\"";
    host = address.substr(1, close - 1);
    port = address.substr(close + 2);
    family = AF_INET6;
  } else {
    const auto colon = address.find(':');
    if (colon == std::string::npos || address.find(':', colon + 1) != std::string::npos) {
      return "is not \"ADDR:PORT\" (write IPv6 addresses as \"[::1]:9464\")";
    }
    host = address.substr(0, colon);
    port = address.substr(colon + 1);
  }
  unsigned char buffer[sizeof(in6_addr)];
  if (inet_pton(family, host.c_str(), buffer) != 1) {
    return std::string("has no IP") + (family == AF_INET6 ? "v6" : "v4") + " address (host names are not accepted)";
  }
  unsigned value = 0;
  const auto result = std::from_chars(port.data(), port.data() + port.size(), value);
  if (port.empty() || result.ec != std::errc() || result.ptr != port.data() + port.size() || value == 0 ||
      value > 65535) {
    return "has a port that is not a number from 1 to 65535";
  }
  return std::nullopt;
}

// One key a table knows and how to read its value.
struct Field {
  std::string_view key;
  std::function<Status(const toml::node& value, const std::string& path)> read;
};

// Reads values and builds error messages that name the file and line.
class Reader {
 public:
  explicit Reader(std::string_view source) : m_source(source) {}

  Unexpected<Error> error(Line line, std::string_view path, std::string_view what) const {
    return fail(std::string(m_source) + ":" + std::to_string(line) + ": " + std::string(path) +
                ": " + std::string(what));
  }
  Unexpected<Error> error(const toml::node& at, std::string_view path,
                          std::string_view what) const {
    return error(at.source().begin.line, path, what);
  }
  Unexpected<Error> wrong_type(const toml::node& at, std::string_view path,
                               std::string_view expected) const {
    return error(at, path, "expected " + std::string(expected) + ", found " + describe_type(at));
  }

  // Visits the table's keys in file order; a key no field claims is an error
  // that lists the keys this table does know.
  Status read_table(const toml::table& table, std::string_view prefix,
                    const std::vector<Field>& fields) const {
    for (const Entry& entry : in_file_order(table)) {
      const std::string_view key = entry.key->str();
      const std::string path = join(prefix, key);
      const auto field =
          std::find_if(fields.begin(), fields.end(), [&](const Field& f) { return f.key == key; });
      if (field == fields.end()) {
        std::vector<std::string_view> known;
        for (const Field& f : fields) known.push_back(f.key);
        return error(entry.key->source().begin.line, path,
                     "unknown key (the keys here are " + join_list(known) + ")");
      }
      if (Status s = field->read(*entry.node, path); !s) return s;
    }
    return Ok{};
  }

  Result<const toml::table*> table(const toml::node& node, std::string_view path) const {
    if (const toml::table* t = node.as_table()) return t;
    return wrong_type(node, path, "a table");
  }

  // [[name]]: an array whose elements are all tables.
  Result<std::vector<const toml::table*>> array_of_tables(const toml::node& node,
                                                          std::string_view path) const {
    const toml::array* array = node.as_array();
    if (array == nullptr) {
      return wrong_type(node, path, "an array of tables ([[" + std::string(path) + "]])");
    }
    std::vector<const toml::table*> tables;
    for (std::size_t i = 0; i < array->size(); ++i) {
      const toml::table* t = (*array)[i].as_table();
      if (t == nullptr) return wrong_type((*array)[i], indexed(path, i), "a table");
      tables.push_back(t);
    }
    return tables;
  }

  // A string without control characters: no configuration value needs one,
  // and a path or URL with a NUL or newline would be cut or misread later.
  Result<std::string> string(const toml::node& node, std::string_view path) const {
    const auto* value = node.as_string();
    if (value == nullptr) return wrong_type(node, path, "a string");
    const std::string& s = value->get();
    for (char c : s) {
      const auto u = static_cast<unsigned char>(c);
      if (u < 0x20 || u == 0x7f) {
        return error(node, path, text::quote(s) + " contains a control character");
      }
    }
    return s;
  }

  Result<std::string> non_empty_string(const toml::node& node, std::string_view path) const {
    auto s = string(node, path);
    if (s && s->empty()) return error(node, path, "must not be empty");
    return s;
  }

  Result<std::string> one_of(const toml::node& node, std::string_view path,
                             const std::vector<std::string_view>& choices) const {
    auto s = string(node, path);
    if (!s) return s;
    if (std::find(choices.begin(), choices.end(), *s) == choices.end()) {
      return error(node, path, text::quote(*s) + " is not one of " + join_list(choices));
    }
    return s;
  }

  Result<std::int64_t> integer_in(const toml::node& node, std::string_view path, std::int64_t low,
                                  std::int64_t high) const {
    const auto* value = node.as_integer();
    if (value == nullptr) return wrong_type(node, path, "an integer");
    const std::int64_t v = value->get();
    if (v < low || v > high) {
      return error(node, path,
                   "must be from " + std::to_string(low) + " to " + std::to_string(high) +
                       ", found " + std::to_string(v));
    }
    return v;
  }

  // A number written either way: "jitter = 0" should not need "0.0".
  Result<double> number(const toml::node& node, std::string_view path) const {
    if (const auto* f = node.as_floating_point()) return f->get();
    if (const auto* i = node.as_integer()) return static_cast<double>(i->get());
    return wrong_type(node, path, "a number");
  }

  Result<std::int64_t> duration(const toml::node& node, std::string_view path) const {
    if (!node.is_string()) return wrong_type(node, path, "a duration string like \"6h\"");
    auto s = string(node, path);
    if (!s) return Unexpected<Error>{s.error()};
    auto seconds = parse_duration_seconds(*s);
    if (!seconds) return error(node, path, seconds.error().message);
    return seconds;
  }

  // An array of strings; `each` checks one element and gets its own path.
  Status string_array(
      const toml::node& node, std::string_view path,
      const std::function<Status(const toml::node&, std::string, const std::string&)>& each) const {
    const toml::array* array = node.as_array();
    if (array == nullptr) return wrong_type(node, path, "an array of strings");
    for (std::size_t i = 0; i < array->size(); ++i) {
      const toml::node& element = (*array)[i];
      const std::string element_path = indexed(path, i);
      auto s = string(element, element_path);
      if (!s) return Unexpected<Error>{s.error()};
      if (Status st = each(element, std::move(*s), element_path); !st) return st;
    }
    return Ok{};
  }

 private:
  std::string_view m_source;
};

Unexpected<Error> forward(const Error& e) {
  return {e};
}

CaConfig default_ca() {
  CaConfig ca;
  ca.name = "letsencrypt";
  ca.profile.issuer = "letsencrypt.org";
  ca.profile.behaviour = caa::Behaviour::strictest;
  return ca;
}

// Where each schedule key was set, for errors that compare two keys.
using KeyLines = std::map<std::string_view, Line>;

class ConfigReader {
 public:
  ConfigReader(std::string_view source, Config& config) : m_reader(source), m_config(config) {}

  Status read(const toml::table& root) {
    const Reader& r = m_reader;
    Config& c = m_config;
    bool cas_given = false;
    const std::vector<Field> fields = {
        {"database",
         [&](const toml::node& n, const std::string& path) -> Status {
           auto s = r.non_empty_string(n, path);
           if (!s) return forward(s.error());
           c.database = std::move(*s);
           return Ok{};
         }},
        {"resolvers",
         [&](const toml::node& n, const std::string& path) -> Status {
           // The daemon checks the ADDR[:PORT] form: that parser lives with the
           // sockets, outside lib/.
           return r.string_array(
               n, path, [&](const toml::node& e, std::string s, const std::string& p) -> Status {
                 if (s.empty()) return r.error(e, p, "must not be empty");
                 c.resolvers.push_back(std::move(s));
                 return Ok{};
               });
         }},
        {"provider_targets",
         [&](const toml::node& n, const std::string& path) -> Status {
           return r.string_array(
               n, path, [&](const toml::node& e, std::string s, const std::string& p) -> Status {
                 auto name = dns::Name::parse(s);
                 if (!name) return r.error(e, p, name.error().message);
                 if (std::find(c.provider_targets.begin(), c.provider_targets.end(), *name) !=
                     c.provider_targets.end()) {
                   return r.error(e, p, text::quote(name->text()) + " is listed twice");
                 }
                 c.provider_targets.push_back(std::move(*name));
                 return Ok{};
               });
         }},
        unsigned_field("concurrency", c.concurrency, 1, 10000),
        unsigned_field("max_qps", c.max_qps, 0, 1000000),
        unsigned_field("timeout_ms", c.timeout_ms, 10, 60000),
        unsigned_field("attempts", c.attempts, 1, 10),
        unsigned_field("batch_size", c.batch_size, 1, 100000),
        {"history_retention",
         [&](const toml::node& n, const std::string& path) -> Status {
           auto d = r.duration(n, path);
           if (!d) return forward(d.error());
           c.history_retention = *d;
           return Ok{};
         }},
        {"log_level",
         [&](const toml::node& n, const std::string& path) -> Status {
           auto s = r.one_of(n, path, {"trace", "debug", "info", "warn", "error"});
           if (!s) return forward(s.error());
           c.log_level = std::move(*s);
           return Ok{};
         }},
        {"metrics_listen",
         [&](const toml::node& n, const std::string& path) -> Status {
           auto s = r.string(n, path);
           if (!s) return forward(s.error());
           if (auto problem = listen_address_problem(*s)) {
             return r.error(n, path, text::quote(*s) + " " + *problem);
           }
           c.metrics_listen = std::move(*s);
           return Ok{};
         }},
        {"ca",
         [&](const toml::node& n, const std::string& path) -> Status {
           cas_given = true;
           return read_cas(n, path);
         }},
        {"schedule",
         [&](const toml::node& n, const std::string& path) { return read_schedule(n, path); }},
        {"webhook",
         [&](const toml::node& n, const std::string& path) { return read_webhooks(n, path); }},
    };
    if (Status s = r.read_table(root, "", fields); !s) return s;
    if (!cas_given) c.cas.push_back(default_ca());
    return Ok{};
  }

 private:
  Field unsigned_field(std::string_view key, unsigned& target, std::int64_t low,
                       std::int64_t high) {
    return {key,
            [this, &target, low, high](const toml::node& n, const std::string& path) -> Status {
              auto v = m_reader.integer_in(n, path, low, high);
              if (!v) return forward(v.error());
              target = static_cast<unsigned>(*v);
              return Ok{};
            }};
  }

  Status read_cas(const toml::node& node, const std::string& path) {
    const Reader& r = m_reader;
    auto tables = r.array_of_tables(node, path);
    if (!tables) return forward(tables.error());
    if (tables->empty()) {
      return r.error(node, path,
                     "lists no CA; leave the key out to use the default (letsencrypt.org)");
    }
    for (std::size_t i = 0; i < tables->size(); ++i) {
      if (Status s = read_ca(*(*tables)[i], indexed(path, i)); !s) return s;
    }
    return Ok{};
  }

  Status read_ca(const toml::table& table, const std::string& prefix) {
    const Reader& r = m_reader;
    CaConfig ca;
    bool has_name = false;
    bool has_issuer = false;
    const std::vector<Field> fields = {
        {"name",
         [&](const toml::node& n, const std::string& path) -> Status {
           auto s = r.string(n, path);
           if (!s) return forward(s.error());
           if (!is_simple_name(*s)) {
             return r.error(
                 n, path,
                 text::quote(*s) +
                     " is not a valid name: use lower-case letters, digits, '-' and '_'");
           }
           for (std::size_t i = 0; i < m_config.cas.size(); ++i) {
             if (m_config.cas[i].name == *s) {
               return r.error(
                   n, path,
                   text::quote(*s) + " is already the name of ca[" + std::to_string(i) + "]");
             }
           }
           ca.name = std::move(*s);
           has_name = true;
           return Ok{};
         }},
        {"issuer",
         [&](const toml::node& n, const std::string& path) -> Status {
           auto s = r.string(n, path);
           if (!s) return forward(s.error());
           auto name = dns::Name::parse(*s);
           if (!name) return r.error(n, path, name.error().message);
           ca.profile.issuer = name->text();
           has_issuer = true;
           return Ok{};
         }},
        {"account_uri",
         [&](const toml::node& n, const std::string& path) -> Status {
           auto s = r.non_empty_string(n, path);
           if (!s) return forward(s.error());
           // A CAA parameter value is printable ASCII without spaces or ';'
           // (RFC 8659 §4.2), so any other account URI could never match one.
           for (char ch : *s) {
             const auto u = static_cast<unsigned char>(ch);
             if (u < 0x21 || u > 0x7e || ch == ';') {
               return r.error(n, path,
                              text::quote(*s) +
                                  " cannot appear in a CAA accounturi parameter (printable ASCII "
                                  "without spaces or ';')");
             }
           }
           ca.profile.account_uri = std::move(*s);
           return Ok{};
         }},
        {"method",
         [&](const toml::node& n, const std::string& path) -> Status {
           auto s = r.string(n, path);
           if (!s) return forward(s.error());
           if (!is_method_label(*s)) {
             return r.error(n, path,
                            text::quote(*s) +
                                " is not an ACME validation method name like http-01, dns-01 or "
                                "tls-alpn-01 (RFC 8657: letters and digits, inner hyphens)");
           }
           ca.profile.method = std::move(*s);
           return Ok{};
         }},
        {"profile",
         [&](const toml::node& n, const std::string& path) -> Status {
           auto s = r.one_of(n, path, {"letsencrypt", "rfc8659", "strictest"});
           if (!s) return forward(s.error());
           ca.profile.behaviour = *caa::parse_behaviour(*s);
           return Ok{};
         }},
    };
    if (Status s = r.read_table(table, prefix, fields); !s) return s;
    if (!has_name) {
      return r.error(table, prefix + ".name",
                     "missing; every [[ca]] needs a short name, like \"letsencrypt\"");
    }
    if (!has_issuer) {
      return r.error(table, prefix + ".issuer",
                     "missing; every [[ca]] needs its CAA issuer domain, like \"letsencrypt.org\"");
    }
    m_config.cas.push_back(std::move(ca));
    return Ok{};
  }

  Status read_schedule(const toml::node& node, const std::string& path) {
    const Reader& r = m_reader;
    auto table = r.table(node, path);
    if (!table) return forward(table.error());
    ScheduleConfig& s = m_config.schedule;
    KeyLines lines;
    auto duration_field = [&](std::string_view key, std::int64_t& target) {
      return Field{key, [&, key](const toml::node& n, const std::string& p) -> Status {
                     auto d = r.duration(n, p);
                     if (!d) return forward(d.error());
                     target = *d;
                     lines[key] = n.source().begin.line;
                     return Ok{};
                   }};
    };
    const std::vector<Field> fields = {
        duration_field("interval_far", s.interval_far),
        duration_field("interval_near", s.interval_near),
        duration_field("interval_week", s.interval_week),
        duration_field("interval_day", s.interval_day),
        duration_field("window_near", s.window_near),
        duration_field("window_week", s.window_week),
        duration_field("window_day", s.window_day),
        duration_field("assumed_lifetime", s.assumed_lifetime),
        {"renew_fraction",
         [&](const toml::node& n, const std::string& p) -> Status {
           auto v = r.number(n, p);
           if (!v) return forward(v.error());
           if (!(*v > 0.0 && *v < 1.0)) {
             return r.error(n, p,
                            "must be more than 0 and less than 1, found " + format_number(*v));
           }
           s.renew_fraction = *v;
           return Ok{};
         }},
        duration_field("failure_retry_min", s.failure_retry_min),
        duration_field("failure_retry_max", s.failure_retry_max),
        {"jitter",
         [&](const toml::node& n, const std::string& p) -> Status {
           auto v = r.number(n, p);
           if (!v) return forward(v.error());
           if (!(*v >= 0.0 && *v <= 0.5)) {
             return r.error(n, p, "must be from 0 to 0.5, found " + format_number(*v));
           }
           s.jitter = *v;
           return Ok{};
         }},
        duration_field("target_interval", s.target_interval),
        duration_field("at_risk_window", s.at_risk_window),
    };
    if (Status st = r.read_table(**table, path, fields); !st) return st;

    // The windows nest (a day inside a week inside the near window) and the
    // retry backoff must be able to grow; otherwise the cadence would jump
    // back and forth as renewal approaches.
    if (Status st = ordered(**table, lines, "window_day", s.window_day, "window_week",
                            s.window_week, false);
        !st)
      return st;
    if (Status st = ordered(**table, lines, "window_week", s.window_week, "window_near",
                            s.window_near, false);
        !st)
      return st;
    return ordered(**table, lines, "failure_retry_min", s.failure_retry_min, "failure_retry_max",
                   s.failure_retry_max, true);
  }

  // Checks small < large (or <= when `equal_ok`). The error is reported at
  // whichever of the two keys comes later in the file, since that is where a
  // reader meets the contradiction.
  Status ordered(const toml::table& table, const KeyLines& lines, std::string_view small_key,
                 std::int64_t small, std::string_view large_key, std::int64_t large,
                 bool equal_ok) const {
    if (small < large || (equal_ok && small == large)) return Ok{};
    const auto small_line = lines.find(small_key);
    const auto large_line = lines.find(large_key);
    const bool blame_small =
        large_line == lines.end() ||
        (small_line != lines.end() && small_line->second >= large_line->second);
    const std::string relation = equal_ok ? "no longer" : "shorter";
    const std::string reverse = equal_ok ? "no shorter" : "longer";
    if (blame_small) {
      const Line line = small_line != lines.end() ? small_line->second : table.source().begin.line;
      return m_reader.error(line, "schedule." + std::string(small_key),
                            format_duration(small) + " must be " + relation + " than schedule." +
                                std::string(large_key) + " (" + format_duration(large) + ")");
    }
    return m_reader.error(large_line->second, "schedule." + std::string(large_key),
                          format_duration(large) + " must be " + reverse + " than schedule." +
                              std::string(small_key) + " (" + format_duration(small) + ")");
  }

  // A duration key from `low` to `high` seconds; notes its line when asked.
  static Field bounded_duration(std::string_view key, std::int64_t& target, std::int64_t low,
                                std::int64_t high, const Reader& r, Line* line = nullptr) {
    return {key, [&target, low, high, &r, line](const toml::node& n, const std::string& path) -> Status {
              auto d = r.duration(n, path);
              if (!d) return forward(d.error());
              if (*d < low || *d > high) {
                return r.error(n, path,
                               "must be from " + format_duration(low) + " to " + format_duration(high) +
                                   ", found " + format_duration(*d));
              }
              target = *d;
              if (line != nullptr) *line = n.source().begin.line;
              return Ok{};
            }};
  }

  Status read_webhooks(const toml::node& node, const std::string& path) {
    auto tables = m_reader.array_of_tables(node, path);
    if (!tables) return forward(tables.error());
    for (std::size_t i = 0; i < tables->size(); ++i) {
      if (Status s = read_webhook(*(*tables)[i], indexed(path, i)); !s) return s;
    }
    return Ok{};
  }

  Status read_webhook(const toml::table& table, const std::string& prefix) {
    static const std::vector<std::string_view> k_events = {
        "regression",      "lookup_failure",         "recovery",
        "renewal_at_risk", "provider_target_broken", "provider_target_recovered"};
    const Reader& r = m_reader;
    WebhookConfig hook;
    bool has_name = false;
    bool has_format = false;
    bool has_url = false;
    std::optional<unsigned> rate;  // unset: the format's default
    Line retry_min_line = 0;
    Line retry_max_line = 0;
    const std::vector<Field> fields = {
        {"name",
         [&](const toml::node& n, const std::string& path) -> Status {
           auto s = r.string(n, path);
           if (!s) return forward(s.error());
           if (!is_simple_name(*s)) {
             return r.error(
                 n, path,
                 text::quote(*s) +
                     " is not a valid name: use lower-case letters, digits, '-' and '_'");
           }
           for (std::size_t i = 0; i < m_config.webhooks.size(); ++i) {
             if (m_config.webhooks[i].name == *s) {
               return r.error(
                   n, path,
                   text::quote(*s) + " is already the name of webhook[" + std::to_string(i) + "]");
             }
           }
           hook.name = std::move(*s);
           has_name = true;
           return Ok{};
         }},
        {"format",
         [&](const toml::node& n, const std::string& path) -> Status {
           auto s = r.one_of(n, path, {"slack", "discord", "teams", "mattermost", "generic"});
           if (!s) return forward(s.error());
           hook.format = std::move(*s);
           has_format = true;
           return Ok{};
         }},
        {"url",
         [&](const toml::node& n, const std::string& path) -> Status {
           auto s = r.string(n, path);
           if (!s) return forward(s.error());
           if (auto problem = url_problem(*s)) {
             return r.error(n, path, text::quote(*s) + " " + *problem);
           }
           hook.url = std::move(*s);
           has_url = true;
           return Ok{};
         }},
        {"secret_file",
         [&](const toml::node& n, const std::string& path) -> Status {
           auto s = r.non_empty_string(n, path);
           if (!s) return forward(s.error());
           hook.secret_file = std::move(*s);
           return Ok{};
         }},
        {"events",
         [&](const toml::node& n, const std::string& path) -> Status {
           Status st = r.string_array(
               n, path, [&](const toml::node& e, std::string s, const std::string& p) -> Status {
                 if (std::find(k_events.begin(), k_events.end(), s) == k_events.end()) {
                   return r.error(e, p, text::quote(s) + " is not one of " + join_list(k_events));
                 }
                 if (std::find(hook.events.begin(), hook.events.end(), s) != hook.events.end()) {
                   return r.error(e, p, text::quote(s) + " is listed twice");
                 }
                 hook.events.push_back(std::move(s));
                 return Ok{};
               });
           if (!st) return st;
           // An empty list would read as "no events" but mean "all of them".
           if (hook.events.empty()) {
             return r.error(n, path, "lists no events; leave the key out to receive every event");
           }
           return Ok{};
         }},
        {"min_severity",
         [&](const toml::node& n, const std::string& path) -> Status {
           // Checked here rather than with store::parse_severity so that the
           // configuration does not depend on the store.
           auto s = r.one_of(n, path, {"info", "warning", "critical"});
           if (!s) return forward(s.error());
           hook.min_severity = std::move(*s);
           return Ok{};
         }},
        {"rate_per_minute",
         [&](const toml::node& n, const std::string& path) -> Status {
           auto v = r.integer_in(n, path, 0, 60000);
           if (!v) return forward(v.error());
           rate = static_cast<unsigned>(*v);
           return Ok{};
         }},
        {"max_attempts",
         [&](const toml::node& n, const std::string& path) -> Status {
           auto v = r.integer_in(n, path, 1, 100);
           if (!v) return forward(v.error());
           hook.max_attempts = static_cast<unsigned>(*v);
           return Ok{};
         }},
        bounded_duration("max_age", hook.max_age, 60, 30 * 86400, r),
        {"digest_threshold",
         [&](const toml::node& n, const std::string& path) -> Status {
           auto v = r.integer_in(n, path, 0, 100000);
           if (!v) return forward(v.error());
           hook.digest_threshold = static_cast<unsigned>(*v);
           return Ok{};
         }},
        bounded_duration("timeout", hook.timeout, 1, 300, r),
        bounded_duration("retry_min", hook.retry_min, 1, 86400, r, &retry_min_line),
        bounded_duration("retry_max", hook.retry_max, 1, 7 * 86400, r, &retry_max_line),
    };
    if (Status s = r.read_table(table, prefix, fields); !s) return s;
    hook.rate_per_minute = rate.value_or(default_rate_per_minute(hook.format));
    if (hook.retry_min > hook.retry_max) {
      const bool blame_min = retry_max_line == 0 || (retry_min_line != 0 && retry_min_line >= retry_max_line);
      if (blame_min) {
        return r.error(retry_min_line != 0 ? retry_min_line : table.source().begin.line, prefix + ".retry_min",
                       format_duration(hook.retry_min) + " must be no longer than retry_max (" +
                           format_duration(hook.retry_max) + ")");
      }
      return r.error(retry_max_line, prefix + ".retry_max",
                     format_duration(hook.retry_max) + " must be no shorter than retry_min (" +
                         format_duration(hook.retry_min) + ")");
    }
    if (!has_name) {
      return r.error(table, prefix + ".name",
                     "missing; every [[webhook]] needs a short name, like \"ops-slack\"");
    }
    if (!has_format) {
      return r.error(table, prefix + ".format",
                     "missing; say slack, discord, teams, mattermost or generic");
    }
    if (!has_url) {
      return r.error(table, prefix + ".url", "missing; give the https:// URL to post alerts to");
    }
    if (hook.format == "generic" && !hook.secret_file) {
      return r.error(table, prefix + ".secret_file",
                     "missing; a generic webhook signs each request with the secret in this file");
    }
    m_config.webhooks.push_back(std::move(hook));
    return Ok{};
  }

  Reader m_reader;
  Config& m_config;
};

}  // namespace

unsigned default_rate_per_minute(std::string_view format) {
  if (format == "slack" || format == "mattermost" || format == "teams") return 60;
  if (format == "discord") return 30;
  return 0;
}

const CaConfig* Config::find_ca(std::string_view name) const {
  for (const CaConfig& ca : cas) {
    if (ca.name == name) return &ca;
  }
  return nullptr;
}

Result<Config> parse(std::string_view text, std::string_view source) {
  toml::table root;
  try {
    root = toml::parse(text, source);
  } catch (const toml::parse_error& e) {
    const toml::source_position where = e.source().begin;
    return fail(std::string(source) + ":" + std::to_string(where.line) + ":" +
                std::to_string(where.column) + ": " + printable(e.description()));
  }
  Config config;
  config.source = std::string(source);
  ConfigReader reader(source, config);
  if (Status s = reader.read(root); !s) return forward(s.error());
  return config;
}

Result<Config> load(const std::string& path) {
  auto cannot_read = [&](int err) {
    return fail("cannot read configuration " + path + ": " + std::generic_category().message(err));
  };
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> file(std::fopen(path.c_str(), "rb"),
                                                       &std::fclose);
  if (!file) return cannot_read(errno);
  std::string text;
  std::array<char, 65536> buffer{};
  std::size_t n = 0;
  while ((n = std::fread(buffer.data(), 1, buffer.size(), file.get())) > 0)
    text.append(buffer.data(), n);
  if (std::ferror(file.get())) return cannot_read(errno);
  return parse(text, path);
}

Config local_default() {
  Config config;
  config.database = "caad.db";
  config.cas.push_back(default_ca());
  return config;
}

}  // namespace caad::config
