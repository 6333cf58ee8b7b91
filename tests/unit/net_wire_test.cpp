// Tests for daemon/net/wire: the query bytes we send (checked by parsing them
// back with ldns and by looking at the OPT record itself), and the decoding
// of responses built with ldns here: CAA answers with exact RDATA, CNAME and
// DNAME chains, negative answers, error RCODEs, and every reason to drop a
// response as not ours or not well formed.
#include <doctest/doctest.h>
// ldns/common.h defines bool, true and false as macros in C++ unless
// <stdbool.h> came first; those macros break standard headers included later.
// clang-format off
#include <stdbool.h>  // NOLINT(modernize-deprecated-headers)
#include <ldns/ldns.h>
// clang-format on

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "daemon/net/wire.h"

namespace {

using caad::dns::Message;
using caad::dns::Name;
using caad::dns::RRType;
using caad::lookup::Question;
using caad::net::decode_response;
using caad::net::encode_query;

using Bytes = std::vector<std::uint8_t>;

struct PktDeleter {
  void operator()(ldns_pkt* p) const { ldns_pkt_free(p); }
};
using PktPtr = std::unique_ptr<ldns_pkt, PktDeleter>;
struct MallocDeleter {
  void operator()(void* p) const { std::free(p); }
};

constexpr std::uint16_t k_caa = static_cast<std::uint16_t>(RRType::caa);

Question question(std::string_view name, std::uint16_t type = k_caa, bool cd = false) {
  return Question{.name = *Name::parse(name), .type = type, .checking_disabled = cd};
}

Bytes octets(std::string_view text) {
  return Bytes(text.begin(), text.end());
}

std::string dname_text(const ldns_rdf* rdf) {
  std::unique_ptr<char, MallocDeleter> text(ldns_rdf2str(rdf));
  return text ? std::string(text.get()) : std::string();
}

// A record with raw RDATA: ldns writes the one field's octets as they are,
// which lets a test put any RDATA on the wire, malformed included.
ldns_rr* raw_rr(std::string_view owner, std::uint16_t type, const Bytes& rdata,
                std::uint32_t ttl = 300, ldns_rr_class rr_class = LDNS_RR_CLASS_IN) {
  ldns_rr* rr = ldns_rr_new();
  ldns_rr_set_owner(rr, ldns_dname_new_frm_str(std::string(owner).c_str()));
  ldns_rr_set_type(rr, static_cast<ldns_rr_type>(type));
  ldns_rr_set_class(rr, rr_class);
  ldns_rr_set_ttl(rr, ttl);
  if (!rdata.empty())
    ldns_rr_push_rdf(rr, ldns_rdf_new_frm_data(LDNS_RDF_TYPE_UNKNOWN, rdata.size(), rdata.data()));
  return rr;
}

Bytes caa_rdata(std::uint8_t flags, std::string_view tag, const Bytes& value) {
  Bytes out;
  out.reserve(2 + tag.size() + value.size());
  out.push_back(flags);
  out.push_back(static_cast<std::uint8_t>(tag.size()));
  for (char c : tag) out.push_back(static_cast<std::uint8_t>(c));
  for (std::uint8_t o : value) out.push_back(o);
  return out;
}

ldns_rr* text_rr(std::string_view text) {
  ldns_rr* rr = nullptr;
  REQUIRE(ldns_rr_new_frm_str(&rr, std::string(text).c_str(), 0, nullptr, nullptr) ==
          LDNS_STATUS_OK);
  return rr;
}

// A response built field by field; wire() renders it with ldns, which also
// compresses the names.
class Response {
 public:
  Response(std::string_view qname, std::uint16_t qtype, std::uint16_t id,
           ldns_rr_class qclass = LDNS_RR_CLASS_IN)
      : m_pkt(ldns_pkt_new()) {
    ldns_pkt_set_id(m_pkt.get(), id);
    ldns_pkt_set_qr(m_pkt.get(), true);
    ldns_pkt_set_rd(m_pkt.get(), true);
    ldns_pkt_set_ra(m_pkt.get(), true);
    add_question(qname, qtype, qclass);
  }
  Response& add_question(std::string_view qname, std::uint16_t qtype,
                         ldns_rr_class rr_class = LDNS_RR_CLASS_IN) {
    ldns_rr* q = ldns_rr_new();
    ldns_rr_set_owner(q, ldns_dname_new_frm_str(std::string(qname).c_str()));
    ldns_rr_set_type(q, static_cast<ldns_rr_type>(qtype));
    ldns_rr_set_class(q, rr_class);
    ldns_rr_set_question(q, true);
    ldns_pkt_push_rr(m_pkt.get(), LDNS_SECTION_QUESTION, q);
    return *this;
  }
  Response& answer(ldns_rr* rr) {
    ldns_pkt_push_rr(m_pkt.get(), LDNS_SECTION_ANSWER, rr);
    return *this;
  }
  Response& authority(ldns_rr* rr) {
    ldns_pkt_push_rr(m_pkt.get(), LDNS_SECTION_AUTHORITY, rr);
    return *this;
  }
  ldns_pkt* operator->() { return m_pkt.get(); }
  Bytes wire() const {
    std::uint8_t* raw = nullptr;
    std::size_t size = 0;
    REQUIRE(ldns_pkt2wire(&raw, m_pkt.get(), &size) == LDNS_STATUS_OK);
    std::unique_ptr<std::uint8_t, MallocDeleter> owned(raw);
    return Bytes(raw, raw + size);
  }

 private:
  PktPtr m_pkt;
};

bool contains(const Bytes& haystack, const Bytes& needle) {
  return std::search(haystack.begin(), haystack.end(), needle.begin(), needle.end()) !=
         haystack.end();
}

}  // namespace

TEST_CASE("encode_query: RD, CD, ID, question and an EDNS0 OPT record offering 1232 octets") {
  for (const bool cd : {false, true}) {
    CAPTURE(cd);
    const Bytes wire = encode_query(question("Shop.Example.COM", k_caa, cd), 0xBEEF);
    REQUIRE(wire.size() > 12);

    ldns_pkt* raw = nullptr;
    REQUIRE(ldns_wire2pkt(&raw, wire.data(), wire.size()) == LDNS_STATUS_OK);
    const PktPtr pkt(raw);
    CHECK(ldns_pkt_id(pkt.get()) == 0xBEEF);
    CHECK_FALSE(ldns_pkt_qr(pkt.get()));
    CHECK(ldns_pkt_rd(pkt.get()));
    CHECK(ldns_pkt_cd(pkt.get()) == cd);
    CHECK(ldns_pkt_get_opcode(pkt.get()) == LDNS_PACKET_QUERY);
    REQUIRE(ldns_pkt_qdcount(pkt.get()) == 1);
    const ldns_rr* q = ldns_rr_list_rr(ldns_pkt_question(pkt.get()), 0);
    CHECK(dname_text(ldns_rr_owner(q)) == "shop.example.com.");
    CHECK(ldns_rr_get_type(q) == LDNS_RR_TYPE_CAA);
    CHECK(ldns_rr_get_class(q) == LDNS_RR_CLASS_IN);
    CHECK(ldns_pkt_edns(pkt.get()));
    CHECK(ldns_pkt_edns_udp_size(pkt.get()) == 1232);

    // The bytes themselves: ARCOUNT 1 and, at the end, the OPT record: root
    // owner, TYPE 41, CLASS 1232 (the buffer size), TTL 0, RDLENGTH 0.
    CHECK(wire[10] == 0);
    CHECK(wire[11] == 1);
    const Bytes opt{0x00, 0x00, 0x29, 0x04, 0xD0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00};
    REQUIRE(wire.size() >= opt.size());
    CHECK(Bytes(wire.end() - static_cast<std::ptrdiff_t>(opt.size()), wire.end()) == opt);
    // Header flags as bits: QR=0, opcode 0, RD=1 (byte 2); CD in byte 3.
    CHECK(wire[2] == 0x01);
    CHECK((wire[3] & 0x10) == (cd ? 0x10 : 0x00));
  }
}

TEST_CASE("encode_query: other types and the ID's byte order") {
  const Bytes wire =
      encode_query(question("example.com", static_cast<std::uint16_t>(RRType::cname)), 0x0102);
  REQUIRE(wire.size() > 12);
  CHECK(wire[0] == 0x01);
  CHECK(wire[1] == 0x02);
  // Question: 7 example 3 com 0, TYPE 5, CLASS 1.
  const Bytes qsection{7, 'e', 'x', 'a', 'm', 'p', 'l', 'e', 3, 'c', 'o', 'm', 0, 0, 5, 0, 1};
  CHECK(Bytes(wire.begin() + 12,
              wire.begin() + 12 + static_cast<std::ptrdiff_t>(qsection.size())) == qsection);
}

TEST_CASE("decode_response: NOERROR with CAA records, flags, tags and values exactly") {
  const Bytes binary_value{0x00, 0xFF, '"', '\\', 0x0A, 'x'};
  Response r("example.com.", k_caa, 4242);
  ldns_pkt_set_aa(r.operator->(), true);
  ldns_pkt_set_ad(r.operator->(), true);
  ldns_pkt_set_edns_udp_size(r.operator->(), 1232);
  r.answer(raw_rr("example.com.", k_caa, caa_rdata(0, "issue", octets("letsencrypt.org")), 3600))
      .answer(
          raw_rr("example.com.", k_caa, caa_rdata(128, "iodef", octets("mailto:sec@example.com"))))
      .answer(raw_rr("example.com.", k_caa, caa_rdata(0, "issuewild", octets(";"))))
      .answer(raw_rr("example.com.", k_caa, caa_rdata(7, "Weird-Tag", binary_value)))
      .answer(raw_rr("example.com.", k_caa, caa_rdata(0, "issue", {})));
  const Bytes wire = r.wire();
  // ldns compresses the owners: a pointer to the question name (offset 12).
  CHECK(contains(wire, Bytes{0xC0, 0x0C}));

  const auto decoded = decode_response(wire, question("example.com"), 4242);
  REQUIRE_MESSAGE(decoded.has_value(), decoded.error().message);
  const Message& m = *decoded;
  CHECK(m.rcode == 0);
  CHECK_FALSE(m.truncated);
  CHECK(m.authoritative);
  CHECK(m.authentic_data);
  CHECK(m.authority.empty());
  REQUIRE(m.answer.size() == 5);
  for (const auto& rr : m.answer) {
    CHECK(rr.owner.text() == "example.com");
    CHECK(rr.type == k_caa);
    REQUIRE(rr.caa.has_value());
    CHECK_FALSE(rr.target.has_value());
    CHECK_FALSE(rr.soa_minimum.has_value());
  }
  CHECK(m.answer[0].ttl == 3600);
  CHECK(m.answer[1].ttl == 300);
  CHECK(*m.answer[0].caa == caad::caa::Record{0, "issue", "letsencrypt.org"});
  CHECK(*m.answer[1].caa == caad::caa::Record{128, "iodef", "mailto:sec@example.com"});
  CHECK(m.answer[1].caa->critical());
  CHECK(*m.answer[2].caa == caad::caa::Record{0, "issuewild", ";"});
  CHECK(m.answer[3].caa->flags == 7);
  CHECK(m.answer[3].caa->tag == "Weird-Tag");
  CHECK(Bytes(m.answer[3].caa->value.begin(), m.answer[3].caa->value.end()) == binary_value);
  CHECK(*m.answer[4].caa == caad::caa::Record{0, "issue", ""});
  // The record's own wire() gives back the RDATA that was sent.
  CHECK(m.answer[3].caa->wire() == caa_rdata(7, "Weird-Tag", binary_value));
}

TEST_CASE("decode_response: a CAA record written by ldns from presentation text") {
  Response r("example.com.", k_caa, 1);
  r.answer(text_rr("example.com. 600 IN CAA 0 issue \"ca.example; account=42\""));
  const auto decoded = decode_response(r.wire(), question("example.com"), 1);
  REQUIRE_MESSAGE(decoded.has_value(), decoded.error().message);
  REQUIRE(decoded->answer.size() == 1);
  CHECK(decoded->answer[0].ttl == 600);
  CHECK(*decoded->answer[0].caa == caad::caa::Record{0, "issue", "ca.example; account=42"});
}

TEST_CASE("decode_response: a CNAME chain to CAA records") {
  Response r("www.example.com.", k_caa, 7);
  r.answer(text_rr("www.example.com. 300 IN CNAME Alias.Example.NET."))
      .answer(text_rr("alias.example.net. 60 IN CNAME cdn.provider.test."))
      .answer(raw_rr("cdn.provider.test.", k_caa, caa_rdata(0, "issue", octets("ca.example"))));
  const auto decoded = decode_response(r.wire(), question("www.example.com"), 7);
  REQUIRE_MESSAGE(decoded.has_value(), decoded.error().message);
  const auto& answer = decoded->answer;
  REQUIRE(answer.size() == 3);
  CHECK(answer[0].type == static_cast<std::uint16_t>(RRType::cname));
  CHECK(answer[0].owner.text() == "www.example.com");
  REQUIRE(answer[0].target.has_value());
  CHECK(answer[0].target->text() == "alias.example.net");
  CHECK(answer[1].owner.text() == "alias.example.net");
  CHECK(answer[1].ttl == 60);
  CHECK(answer[1].target->text() == "cdn.provider.test");
  CHECK(answer[2].owner.text() == "cdn.provider.test");
  CHECK(answer[2].caa->value == "ca.example");
}

TEST_CASE("decode_response: DNAME with its synthesised CNAME") {
  Response r("www.example.com.", k_caa, 8);
  r.answer(text_rr("example.com. 300 IN DNAME example.net."))
      .answer(text_rr("www.example.com. 300 IN CNAME www.example.net."))
      .answer(raw_rr("www.example.net.", k_caa, caa_rdata(0, "issue", octets("ca.example"))));
  const auto decoded = decode_response(r.wire(), question("www.example.com"), 8);
  REQUIRE_MESSAGE(decoded.has_value(), decoded.error().message);
  const auto& answer = decoded->answer;
  REQUIRE(answer.size() == 3);
  CHECK(answer[0].type == static_cast<std::uint16_t>(RRType::dname));
  CHECK(answer[0].owner.text() == "example.com");
  CHECK(answer[0].target->text() == "example.net");
  CHECK(answer[1].target->text() == "www.example.net");
  CHECK(answer[2].caa.has_value());
}

TEST_CASE("decode_response: NXDOMAIN with the SOA and its MINIMUM") {
  Response r("nope.example.com.", k_caa, 9);
  ldns_pkt_set_rcode(r.operator->(), LDNS_RCODE_NXDOMAIN);
  ldns_pkt_set_aa(r.operator->(), true);
  r.authority(text_rr(
      "example.com. 900 IN SOA ns1.example.com. hostmaster.example.com. 2024010101 7200 3600 "
      "1209600 3600"));
  const auto decoded = decode_response(r.wire(), question("nope.example.com"), 9);
  REQUIRE_MESSAGE(decoded.has_value(), decoded.error().message);
  CHECK(decoded->rcode == 3);
  CHECK(decoded->answer.empty());
  REQUIRE(decoded->authority.size() == 1);
  const auto& soa = decoded->authority[0];
  CHECK(soa.type == static_cast<std::uint16_t>(RRType::soa));
  CHECK(soa.owner.text() == "example.com");
  CHECK(soa.ttl == 900);
  REQUIRE(soa.soa_minimum.has_value());
  CHECK(*soa.soa_minimum == 3600);
}

TEST_CASE("decode_response: SERVFAIL, REFUSED and extended RCODEs are decoded, not rejected") {
  SUBCASE("SERVFAIL") {
    Response r("example.com.", k_caa, 10);
    ldns_pkt_set_rcode(r.operator->(), LDNS_RCODE_SERVFAIL);
    const auto decoded = decode_response(r.wire(), question("example.com"), 10);
    REQUIRE(decoded.has_value());
    CHECK(decoded->rcode == 2);
    CHECK(decoded->answer.empty());
  }
  SUBCASE("REFUSED") {
    Response r("example.com.", k_caa, 10);
    ldns_pkt_set_rcode(r.operator->(), LDNS_RCODE_REFUSED);
    const auto decoded = decode_response(r.wire(), question("example.com"), 10);
    REQUIRE(decoded.has_value());
    CHECK(decoded->rcode == 5);
  }
  SUBCASE("BADVERS (16) needs the OPT record's extended bits") {
    Response r("example.com.", k_caa, 10);
    ldns_pkt_set_edns_udp_size(r.operator->(), 1232);
    ldns_pkt_set_edns_extended_rcode(r.operator->(), 1);
    ldns_pkt_set_rcode(r.operator->(), 0);
    const auto decoded = decode_response(r.wire(), question("example.com"), 10);
    REQUIRE(decoded.has_value());
    CHECK(decoded->rcode == 16);
  }
}

TEST_CASE("decode_response: TC is reported") {
  Response r("example.com.", k_caa, 11);
  ldns_pkt_set_tc(r.operator->(), true);
  const auto decoded = decode_response(r.wire(), question("example.com"), 11);
  REQUIRE(decoded.has_value());
  CHECK(decoded->truncated);
  CHECK(decoded->answer.empty());
}

TEST_CASE("decode_response: the question name is compared without regard to case") {
  Response r("ExAmPlE.CoM.", k_caa, 12);
  r.answer(raw_rr("EXAMPLE.com.", k_caa, caa_rdata(0, "issue", octets("ca.example"))));
  const auto decoded = decode_response(r.wire(), question("example.com"), 12);
  REQUIRE_MESSAGE(decoded.has_value(), decoded.error().message);
  REQUIRE(decoded->answer.size() == 1);
  CHECK(decoded->answer[0].owner.text() == "example.com");
}

TEST_CASE(
    "decode_response: records it cannot represent are skipped, others keep owner, type and TTL") {
  Response r("example.com.", k_caa, 13);
  r.answer(raw_rr(".", k_caa, caa_rdata(0, "issue", octets("root.example"))))
      .answer(raw_rr("example.com.", k_caa, caa_rdata(0, "issue", octets("chaos.example")), 300,
                     LDNS_RR_CLASS_CH))
      .answer(text_rr("example.com. 120 IN TXT \"hello\""))
      .answer(raw_rr("example.com.", k_caa, caa_rdata(0, "issue", octets("ca.example"))));
  const auto decoded = decode_response(r.wire(), question("example.com"), 13);
  REQUIRE_MESSAGE(decoded.has_value(), decoded.error().message);
  REQUIRE(decoded->answer.size() == 2);
  CHECK(decoded->answer[0].type == 16);
  CHECK(decoded->answer[0].ttl == 120);
  CHECK_FALSE(decoded->answer[0].caa.has_value());
  CHECK(decoded->answer[1].caa->value == "ca.example");
}

TEST_CASE("decode_response: names with escaped octets keep their escapes") {
  Response r("example.com.", k_caa, 14);
  r.answer(text_rr("example.com. 300 IN CNAME a\\.b\\000.Example.NET."));
  const auto decoded = decode_response(r.wire(), question("example.com"), 14);
  REQUIRE_MESSAGE(decoded.has_value(), decoded.error().message);
  REQUIRE(decoded->answer.size() == 1);
  REQUIRE(decoded->answer[0].target.has_value());
  CHECK(decoded->answer[0].target->text() == "a\\.b\\000.example.net");
}

TEST_CASE("decode_response: a CAA record that does not parse rejects the whole message") {
  SUBCASE("empty tag") {
    Response r("example.com.", k_caa, 15);
    r.answer(raw_rr("example.com.", k_caa, caa_rdata(0, "issue", octets("good.example"))))
        .answer(raw_rr("example.com.", k_caa, Bytes{0, 0, 'x'}));
    const auto decoded = decode_response(r.wire(), question("example.com"), 15);
    REQUIRE_FALSE(decoded.has_value());
    CHECK(decoded.error().message.find("CAA") != std::string::npos);
  }
  SUBCASE("tag length past the end") {
    Response r("example.com.", k_caa, 15);
    r.answer(raw_rr("example.com.", k_caa, Bytes{0, 9, 'i', 's'}));
    CHECK_FALSE(decode_response(r.wire(), question("example.com"), 15).has_value());
  }
  SUBCASE("flags only") {
    Response r("example.com.", k_caa, 15);
    r.answer(raw_rr("example.com.", k_caa, Bytes{0}));
    CHECK_FALSE(decode_response(r.wire(), question("example.com"), 15).has_value());
  }
  SUBCASE("empty RDATA") {
    Response r("example.com.", k_caa, 15);
    r.answer(raw_rr("example.com.", k_caa, Bytes{}));
    CHECK_FALSE(decode_response(r.wire(), question("example.com"), 15).has_value());
  }
}

TEST_CASE("decode_response: responses that are not ours or not well formed are rejected") {
  const Question q = question("example.com");
  Response good("example.com.", k_caa, 100);
  good.answer(raw_rr("example.com.", k_caa, caa_rdata(0, "issue", octets("ca.example"))));
  const Bytes wire = good.wire();
  REQUIRE(decode_response(wire, q, 100).has_value());

  SUBCASE("wrong ID") {
    const auto decoded = decode_response(wire, q, 101);
    REQUIRE_FALSE(decoded.has_value());
    CHECK(decoded.error().message.find("ID") != std::string::npos);
  }
  SUBCASE("wrong name") {
    CHECK_FALSE(decode_response(wire, question("example.net"), 100).has_value());
    CHECK_FALSE(decode_response(wire, question("www.example.com"), 100).has_value());
  }
  SUBCASE("wrong type") {
    CHECK_FALSE(decode_response(wire, question("example.com", 1), 100).has_value());
  }
  SUBCASE("wrong class") {
    Response r("example.com.", k_caa, 100, LDNS_RR_CLASS_CH);
    CHECK_FALSE(decode_response(r.wire(), q, 100).has_value());
  }
  SUBCASE("QR=0") {
    Bytes query = wire;
    query[2] &= 0x7F;
    const auto decoded = decode_response(query, q, 100);
    REQUIRE_FALSE(decoded.has_value());
    CHECK(decoded.error().message.find("QR=0") != std::string::npos);
  }
  SUBCASE("opcode NOTIFY") {
    Bytes notify = wire;
    notify[2] = static_cast<std::uint8_t>((notify[2] & 0x87) | (4 << 3));
    CHECK_FALSE(decode_response(notify, q, 100).has_value());
  }
  SUBCASE("garbage") {
    const Bytes garbage = octets("this is not a DNS message, not even close to one");
    CHECK_FALSE(decode_response(garbage, q, 100).has_value());
    CHECK_FALSE(decode_response(Bytes{}, q, 100).has_value());
    CHECK_FALSE(decode_response(Bytes{0x00, 0x64}, q, 100).has_value());
  }
  SUBCASE("truncated bytes") {
    for (std::size_t cut = 1; cut < wire.size(); ++cut) {
      CAPTURE(cut);
      const Bytes shorter(wire.begin(), wire.end() - static_cast<std::ptrdiff_t>(cut));
      CHECK_FALSE(decode_response(shorter, q, 100).has_value());
    }
  }
  SUBCASE("octets after the last record") {
    Bytes longer = wire;
    longer.push_back(0);
    const auto decoded = decode_response(longer, q, 100);
    REQUIRE_FALSE(decoded.has_value());
    CHECK(decoded.error().message.find("follow its last record") != std::string::npos);
  }
  SUBCASE("a record whose fields do not fill its RDLENGTH") {
    // A CNAME whose RDATA holds, after the target, a whole CAA record. ldns
    // alone would read that CAA record as the next answer (the header is
    // made to claim two), smuggling it past the CNAME's RDLENGTH.
    const Bytes target{5,   'a', 'l', 'i', 'a', 's', 7,   'e', 'x', 'a',
                       'm', 'p', 'l', 'e', 3,   'n', 'e', 't', 0};
    const Bytes rdata = caa_rdata(0, "issue", octets("evil.example"));
    Bytes hidden = target;
    for (std::uint8_t o : Bytes{0xC0, 0x0C, 0x01, 0x01, 0x00, 0x01, 0x00, 0x00, 0x01, 0x2C, 0x00})
      hidden.push_back(o);
    hidden.push_back(static_cast<std::uint8_t>(rdata.size()));
    for (std::uint8_t o : rdata) hidden.push_back(o);
    Response r("example.com.", k_caa, 100);
    r.answer(raw_rr("example.com.", static_cast<std::uint16_t>(RRType::cname), hidden));
    Bytes smuggled = r.wire();
    smuggled[7] = 2;  // ANCOUNT
    const auto decoded = decode_response(smuggled, q, 100);
    REQUIRE_FALSE(decoded.has_value());
    CHECK(decoded.error().message.find("malformed") != std::string::npos);
  }
  SUBCASE("two questions") {
    Response r("example.com.", k_caa, 100);
    r.add_question("example.com.", k_caa);
    const auto decoded = decode_response(r.wire(), q, 100);
    REQUIRE_FALSE(decoded.has_value());
    CHECK(decoded.error().message.find("questions") != std::string::npos);
  }
  SUBCASE("no question") {
    Bytes none = wire;
    // QDCOUNT 0, with the question's bytes still there: they then read as a
    // malformed answer record or the counts do not add up; either way no.
    none[4] = 0;
    none[5] = 0;
    CHECK_FALSE(decode_response(none, q, 100).has_value());
  }
}

TEST_CASE("decode_response: a TC=1 response cut inside a record still says truncated") {
  const Question q = question("example.com");
  Response r("example.com.", k_caa, 200);
  ldns_pkt_set_tc(r.operator->(), true);
  ldns_pkt_set_rcode(r.operator->(), LDNS_RCODE_NOERROR);
  for (int i = 0; i < 3; ++i) {
    r.answer(raw_rr("example.com.", k_caa,
                    caa_rdata(0, "issue", octets("ca" + std::to_string(i) + ".example"))));
  }
  const Bytes whole = r.wire();
  const std::size_t question_end = 12 + 13 + 4;  // header, 7example3com0, TYPE and CLASS

  for (std::size_t size = question_end; size < whole.size(); ++size) {
    CAPTURE(size);
    const Bytes cut(whole.begin(), whole.begin() + static_cast<std::ptrdiff_t>(size));
    const auto decoded = decode_response(cut, q, 200);
    REQUIRE_MESSAGE(decoded.has_value(), decoded.error().message);
    CHECK(decoded->truncated);
    CHECK(decoded->rcode == 0);
    // Records that did parse are not trusted from a cut message.
    CHECK(decoded->answer.empty());
  }
  SUBCASE("but not when the question is cut") {
    const Bytes cut(whole.begin(), whole.begin() + static_cast<std::ptrdiff_t>(question_end - 1));
    CHECK_FALSE(decode_response(cut, q, 200).has_value());
  }
  SUBCASE("nor with the wrong ID or question") {
    const Bytes cut(whole.begin(), whole.end() - 3);
    CHECK_FALSE(decode_response(cut, q, 201).has_value());
    CHECK_FALSE(decode_response(cut, question("example.net"), 200).has_value());
  }
  SUBCASE("nor without TC") {
    Bytes cut(whole.begin(), whole.end() - 3);
    cut[2] = static_cast<std::uint8_t>(cut[2] & ~0x02);
    CHECK_FALSE(decode_response(cut, q, 200).has_value());
  }
}
