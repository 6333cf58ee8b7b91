// DNS wire format for the transport: queries out, responses in, with ldns.
//
// A query is what a stub resolver sends to a recursive one: RD=1, one
// question in class IN, and an EDNS0 OPT record offering a 1232-octet UDP
// buffer (DNS Flag Day 2020), small enough to pass without IP fragmentation
// on almost every path; larger answers come back with TC=1 and are fetched
// over TCP. The CD bit is set when the engine asks for it.
//
// A response is untrusted input from the network. Before anything in it is
// believed it must parse, be a response (QR=1) to a standard query, carry
// the ID we chose, and repeat exactly the one question we asked (the name
// compared case-insensitively, as resolvers may echo another case). Every
// record must fill its RDLENGTH exactly and nothing may follow the last
// one; ldns checks neither (see check_framing). Only then are the answer and
// authority sections turned into plain values for the engine.
//
// One exception to "parse it all": a response with TC=1 that a server cut
// in the middle of a record is still taken as "truncated" once its header
// and question check out, since the answer is then fetched over TCP anyway.
//
// Records the engine has no use for keep owner, type and TTL; records that
// cannot be represented at all (an owner that is the root or too long, a
// class other than IN, an SOA without its fields) are skipped, because they
// cannot be part of a CAA answer. A CAA record whose RDATA does not parse
// rejects the whole message: a CA that met the same record would fail the
// lookup too, and pretending the record was not there could turn a
// forbidding policy into a permissive one.
//
// ldns splits CAA RDATA into three fields (flags as an int8, the tag with its
// length octet in front, the value as the rest); their octets laid end to end
// are the RDATA again, which caa::parse_wire then checks on its own terms.
#include "daemon/net/wire.h"

// ldns/common.h defines bool, true and false as macros in C++ unless
// <stdbool.h> came first; those macros break standard headers included later.
// clang-format off
#include <stdbool.h>  // NOLINT(modernize-deprecated-headers)
#include <ldns/ldns.h>
// clang-format on

#include <algorithm>
#include <cstddef>
#include <cstdlib>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace caad::net {
namespace {

struct PktDeleter {
  void operator()(ldns_pkt* p) const { ldns_pkt_free(p); }
};
using PktPtr = std::unique_ptr<ldns_pkt, PktDeleter>;

struct RdfDeleter {
  void operator()(ldns_rdf* p) const { ldns_rdf_deep_free(p); }
};
using RdfPtr = std::unique_ptr<ldns_rdf, RdfDeleter>;

struct BufferDeleter {
  void operator()(ldns_buffer* b) const { ldns_buffer_free(b); }
};
using BufferPtr = std::unique_ptr<ldns_buffer, BufferDeleter>;

// One ldns_buffer per thread, cleared and reused for every query written
// and every name turned into text. ldns_pkt2wire and ldns_rdf2str would
// each allocate a fresh buffer (64 KiB for a packet) and copy it out:
// per query, that malloc and free of 64 KiB made glibc consolidate its
// heap, about a tenth of caad check's time. Grows when needed; nullptr if
// ldns could not allocate it.
ldns_buffer* scratch_buffer() {
  thread_local BufferPtr buffer(ldns_buffer_new(512));
  if (buffer) ldns_buffer_clear(buffer.get());
  return buffer.get();
}

constexpr std::uint16_t k_extended_rcode_shift =
    4;  // extended RCODE bits sit above the header's four

// The absolute domain name of a question, as ldns wants it: a trailing dot
// makes ldns treat the text as fully qualified.
RdfPtr question_name_rdf(const dns::Name& name) {
  const std::string absolute = name.text() + ".";
  return RdfPtr(ldns_dname_new_frm_str(absolute.c_str()));
}

// Presentation text of a domain name field, turned into a Name. Returns
// nullopt for the root, an over-long name, or a field that is not a name.
std::optional<dns::Name> name_of(const ldns_rdf* rdf) {
  if (rdf == nullptr || ldns_rdf_get_type(rdf) != LDNS_RDF_TYPE_DNAME) return std::nullopt;
  ldns_buffer* text = scratch_buffer();
  if (text == nullptr || ldns_rdf2buffer_str_dname(text, rdf) != LDNS_STATUS_OK || !ldns_buffer_status_ok(text)) {
    return std::nullopt;
  }
  return dns::Name::from_dns(
      std::string_view(reinterpret_cast<const char*>(ldns_buffer_begin(text)), ldns_buffer_position(text)));
}

// The RDATA octets of a record whose fields carry no compressible names
// (CAA): each field's data, in order, is exactly its wire form.
std::vector<std::uint8_t> rdata_octets(const ldns_rr* rr) {
  std::vector<std::uint8_t> out;
  for (std::size_t i = 0; i < ldns_rr_rd_count(rr); ++i) {
    const ldns_rdf* field = ldns_rr_rdf(rr, i);
    if (field == nullptr) continue;
    const std::uint8_t* data = ldns_rdf_data(field);
    out.insert(out.end(), data, data + ldns_rdf_size(field));
  }
  return out;
}

// Turns one record into a ResourceRecord. nullopt means "skip it";
// an error means the message must be dropped.
Result<std::optional<dns::ResourceRecord>> convert_record(const ldns_rr* rr) {
  using Skip = std::optional<dns::ResourceRecord>;
  if (ldns_rr_get_class(rr) != LDNS_RR_CLASS_IN) return Skip{};
  auto owner = name_of(ldns_rr_owner(rr));
  if (!owner) return Skip{};

  dns::ResourceRecord record{.owner = std::move(*owner),
                             .type = static_cast<std::uint16_t>(ldns_rr_get_type(rr)),
                             .ttl = ldns_rr_ttl(rr),
                             .target = std::nullopt,
                             .caa = std::nullopt,
                             .soa_minimum = std::nullopt};
  switch (static_cast<dns::RRType>(record.type)) {
    case dns::RRType::cname:
    case dns::RRType::dname: {
      if (ldns_rr_rd_count(rr) < 1) return Skip{};
      auto target = name_of(ldns_rr_rdf(rr, 0));
      if (!target) return Skip{};
      record.target = std::move(*target);
      break;
    }
    case dns::RRType::soa: {
      // MNAME, RNAME, SERIAL, REFRESH, RETRY, EXPIRE, MINIMUM.
      constexpr std::size_t k_minimum_field = 6;
      if (ldns_rr_rd_count(rr) <= k_minimum_field) return Skip{};
      const ldns_rdf* minimum = ldns_rr_rdf(rr, k_minimum_field);
      if (minimum == nullptr || ldns_rdf_size(minimum) != 4) return Skip{};
      record.soa_minimum = ldns_rdf2native_int32(minimum);
      break;
    }
    case dns::RRType::caa: {
      auto parsed = caa::parse_wire(rdata_octets(rr));
      if (!parsed) {
        return fail("CAA record at " + record.owner.text() +
                    " is malformed: " + parsed.error().message);
      }
      record.caa = std::move(*parsed);
      break;
    }
    default:
      break;
  }
  return Skip{std::move(record)};
}

constexpr std::size_t k_header_octets = 12;
constexpr std::uint8_t k_qr_bit = 0x80;  // in header octet 2
constexpr std::uint8_t k_tc_bit = 0x02;  // in header octet 2

std::size_t u16_at(std::span<const std::uint8_t> wire, std::size_t offset) {
  return static_cast<std::size_t>((wire[offset] << 8) | wire[offset + 1]);
}

// Moves `pos` past the name that starts there, label by label (a pointer
// ends a name). False when the name runs past the end.
bool skip_name(std::span<const std::uint8_t> wire, std::size_t& pos) {
  while (pos < wire.size()) {
    const std::uint8_t length = wire[pos];
    if ((length & 0xC0) == 0xC0) {
      pos += 2;
      return pos <= wire.size();
    }
    if ((length & 0xC0) != 0) return false;  // label types 0x40 and 0x80 are not in use
    pos += 1 + std::size_t{length};
    if (length == 0) return true;
  }
  return false;
}

// The length of the header and the questions; nullopt if they run past the end.
std::optional<std::size_t> questions_end(std::span<const std::uint8_t> wire) {
  if (wire.size() < k_header_octets) return std::nullopt;
  std::size_t pos = k_header_octets;
  for (std::size_t i = 0; i < u16_at(wire, 4); ++i) {
    if (!skip_name(wire, pos)) return std::nullopt;
    pos += 4;  // QTYPE, QCLASS
  }
  if (pos > wire.size()) return std::nullopt;
  return pos;
}

// Checks the framing of the records against their RDLENGTH, octet by octet,
// and that nothing follows the last record. ldns parses RDATA by its fields
// and carries on from wherever the fields ended, so a record with octets to
// spare would make it read the next record from inside this one's RDATA (a
// record hidden in a CNAME would become an answer); and it ignores octets
// after the last record. Each record is therefore parsed once more on its
// own, and must end exactly where its RDLENGTH says.
Status check_framing(std::span<const std::uint8_t> wire) {
  const auto end = questions_end(wire);
  if (!end) return fail("the question section runs past the end");
  std::size_t pos = *end;
  const std::size_t counts[] = {u16_at(wire, 6), u16_at(wire, 8), u16_at(wire, 10)};
  const ldns_pkt_section sections[] = {LDNS_SECTION_ANSWER, LDNS_SECTION_AUTHORITY,
                                       LDNS_SECTION_ADDITIONAL};
  for (std::size_t s = 0; s < 3; ++s) {
    for (std::size_t i = 0; i < counts[s]; ++i) {
      std::size_t framed_end = pos;
      if (!skip_name(wire, framed_end) || framed_end + 10 > wire.size()) {
        return fail("its records run past the end");
      }
      framed_end += 10 + u16_at(wire, framed_end + 8);  // TYPE, CLASS, TTL, RDLENGTH, RDATA
      if (framed_end > wire.size()) return fail("its records run past the end");
      ldns_rr* raw = nullptr;
      std::size_t parsed_end = pos;
      const ldns_status status =
          ldns_wire2rr(&raw, wire.data(), wire.size(), &parsed_end, sections[s]);
      ldns_rr_free(raw);
      if (status != LDNS_STATUS_OK || parsed_end != framed_end) {
        return fail("a record's RDATA does not fill its RDLENGTH exactly");
      }
      pos = framed_end;
    }
  }
  if (pos != wire.size())
    return fail(std::to_string(wire.size() - pos) + " octets follow its last record");
  return Ok{};
}

struct Parsed {
  PktPtr pkt;
  ldns_status status = LDNS_STATUS_OK;
};

Parsed parse(std::span<const std::uint8_t> wire) {
  ldns_pkt* raw = nullptr;
  const ldns_status status = ldns_wire2pkt(&raw, wire.data(), wire.size());
  PktPtr pkt(raw);
  if (status != LDNS_STATUS_OK) pkt.reset();
  return Parsed{std::move(pkt), status};
}

// Checks that a parsed message is a response to exactly our question.
Status check_match(const ldns_pkt* pkt, const lookup::Question& question, std::uint16_t id) {
  if (!ldns_pkt_qr(pkt)) return fail("message is a query (QR=0), not a response");
  if (ldns_pkt_id(pkt) != id) {
    return fail("response ID " + std::to_string(ldns_pkt_id(pkt)) + " is not the query ID " +
                std::to_string(id));
  }
  if (ldns_pkt_get_opcode(pkt) != LDNS_PACKET_QUERY) return fail("response opcode is not QUERY");

  const ldns_rr_list* questions = ldns_pkt_question(pkt);
  if (ldns_pkt_qdcount(pkt) != 1 || questions == nullptr || ldns_rr_list_rr_count(questions) != 1) {
    return fail("response has " + std::to_string(ldns_pkt_qdcount(pkt)) + " questions, not 1");
  }
  const ldns_rr* echoed = ldns_rr_list_rr(questions, 0);
  const RdfPtr asked = question_name_rdf(question.name);
  const ldns_rdf* echoed_name = ldns_rr_owner(echoed);
  if (!asked || echoed_name == nullptr || ldns_rdf_get_type(echoed_name) != LDNS_RDF_TYPE_DNAME ||
      ldns_dname_compare(echoed_name, asked.get()) != 0) {
    return fail("response is for another name than " + question.name.text());
  }
  if (static_cast<std::uint16_t>(ldns_rr_get_type(echoed)) != question.type) {
    return fail("response is for type " +
                std::to_string(static_cast<unsigned>(ldns_rr_get_type(echoed))) + ", not " +
                std::to_string(question.type));
  }
  if (ldns_rr_get_class(echoed) != LDNS_RR_CLASS_IN)
    return fail("response is for a class other than IN");
  return Ok{};
}

void copy_header(const ldns_pkt* pkt, dns::Message& message) {
  const auto header_rcode = static_cast<std::uint16_t>(ldns_pkt_get_rcode(pkt));
  const auto extended = static_cast<std::uint16_t>(ldns_pkt_edns_extended_rcode(pkt));
  message.rcode = static_cast<std::uint16_t>((extended << k_extended_rcode_shift) | header_rcode);
  message.truncated = ldns_pkt_tc(pkt);
  message.authoritative = ldns_pkt_aa(pkt);
  message.authentic_data = ldns_pkt_ad(pkt);
}

// A response with TC=1 whose records do not parse. RFC 2181 §9 asks a
// server to truncate at a whole RRset, but some cut anywhere. Only the
// header and the question matter then, because the answer will be fetched
// over TCP; they are checked as strictly as ever, on a copy that ends after
// the question and claims no records.
Result<dns::Message> decode_cut_truncated(std::span<const std::uint8_t> wire,
                                          const lookup::Question& question, std::uint16_t id) {
  const auto end = questions_end(wire);
  if (!end)
    return fail("truncated response of " + std::to_string(wire.size()) +
                " octets has no whole question");
  std::vector<std::uint8_t> head(wire.begin(), wire.begin() + static_cast<std::ptrdiff_t>(*end));
  std::fill(head.begin() + 6, head.begin() + static_cast<std::ptrdiff_t>(k_header_octets),
            std::uint8_t{0});
  const Parsed parsed = parse(head);
  if (!parsed.pkt) {
    return fail("truncated response does not parse: " +
                std::string(ldns_get_errorstr_by_id(parsed.status)));
  }
  if (auto match = check_match(parsed.pkt.get(), question, id); !match)
    return fail(match.error().message);
  dns::Message message;
  copy_header(parsed.pkt.get(), message);
  return message;
}

Result<std::vector<dns::ResourceRecord>> convert_section(const ldns_rr_list* list) {
  std::vector<dns::ResourceRecord> out;
  if (list == nullptr) return out;
  const std::size_t count = ldns_rr_list_rr_count(list);
  out.reserve(count);
  for (std::size_t i = 0; i < count; ++i) {
    auto converted = convert_record(ldns_rr_list_rr(list, i));
    if (!converted) return fail(converted.error().message);
    if (*converted) out.push_back(std::move(**converted));
  }
  return out;
}

}  // namespace

std::vector<std::uint8_t> encode_query(const lookup::Question& question, std::uint16_t id) {
  RdfPtr name = question_name_rdf(question.name);
  if (!name) return {};
  std::uint16_t flags = LDNS_RD;
  if (question.checking_disabled) flags |= LDNS_CD;
  // ldns_pkt_query_new takes ownership of the name.
  PktPtr pkt(ldns_pkt_query_new(name.release(), static_cast<ldns_rr_type>(question.type),
                                LDNS_RR_CLASS_IN, flags));
  if (!pkt) return {};
  ldns_pkt_set_id(pkt.get(), id);
  // A non-zero UDP size is what makes ldns emit the OPT record.
  ldns_pkt_set_edns_udp_size(pkt.get(), k_edns_buffer);

  ldns_buffer* wire = scratch_buffer();
  if (wire == nullptr || ldns_pkt2buffer_wire(wire, pkt.get()) != LDNS_STATUS_OK || !ldns_buffer_status_ok(wire)) {
    return {};
  }
  const std::uint8_t* begin = ldns_buffer_begin(wire);
  return std::vector<std::uint8_t>(begin, begin + ldns_buffer_position(wire));
}

Result<dns::Message> decode_response(std::span<const std::uint8_t> wire,
                                     const lookup::Question& question, std::uint16_t id) {
  if (wire.empty()) return fail("response is empty");
  const Parsed parsed = parse(wire);
  const Status framing = parsed.pkt ? check_framing(wire) : Status(Ok{});
  if (!parsed.pkt || !framing) {
    const bool tc_response =
        wire.size() >= k_header_octets && (wire[2] & k_qr_bit) != 0 && (wire[2] & k_tc_bit) != 0;
    if (tc_response) return decode_cut_truncated(wire, question, id);
    if (!parsed.pkt) {
      return fail("response of " + std::to_string(wire.size()) +
                  " octets does not parse: " + ldns_get_errorstr_by_id(parsed.status));
    }
    return fail("response of " + std::to_string(wire.size()) +
                " octets is malformed: " + framing.error().message);
  }
  const ldns_pkt* pkt = parsed.pkt.get();
  if (auto match = check_match(pkt, question, id); !match) return fail(match.error().message);

  dns::Message message;
  copy_header(pkt, message);
  auto answer = convert_section(ldns_pkt_answer(pkt));
  if (!answer) return fail(answer.error().message);
  auto authority = convert_section(ldns_pkt_authority(pkt));
  if (!authority) return fail(authority.error().message);
  message.answer = std::move(*answer);
  message.authority = std::move(*authority);
  return message;
}

}  // namespace caad::net
