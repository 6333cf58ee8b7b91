// DNS wire format for the transport, with ldns: building a query and turning
// a response into a dns::Message after checking that it answers that query.
// Responses are untrusted input: anything unexpected drops the whole message.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "lib/dns/message.h"
#include "lib/lookup/transport.h"
#include "lib/util/result.h"

namespace caad::net {

inline constexpr std::uint16_t k_edns_buffer = 1232;  // DNS Flag Day 2020

// Encodes a recursive (RD=1) query with EDNS0 (buffer k_edns_buffer), the CD
// bit as asked, and the given ID.
std::vector<std::uint8_t> encode_query(const lookup::Question& question, std::uint16_t id);

// Decodes a response. Fails (with a reason) unless it parses, is a response
// (QR=1), carries `id`, and has exactly the question asked (name compared
// case-insensitively, type and class IN).
Result<dns::Message> decode_response(std::span<const std::uint8_t> wire, const lookup::Question& question,
                                     std::uint16_t id);

}  // namespace caad::net
