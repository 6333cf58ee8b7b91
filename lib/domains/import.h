// Reading customer domains from import files: CSV with a header line, or
// JSON Lines, with the fields name, wildcard, ca, not_after, renew_at. All or
// nothing: the first bad line stops the import with its line number and the
// reason, and no domain is returned.
#pragma once

#include <istream>
#include <string>
#include <string_view>
#include <vector>

#include "lib/store/types.h"
#include "lib/util/result.h"

namespace caad::domains {

enum class Format { csv, jsonl };

// Guesses from the first non-blank character: '{' is JSON Lines, else CSV.
Format detect_format(std::string_view first_line);

// Parses a whole file. `source` names it in errors ("domains.csv:12: ...").
// `known_cas` are the configured CA names; an unknown name in "ca" is an
// error. The same name twice in one file is an error naming both lines.
//  CSV: header required, any column order, columns beyond the five are an
//       error; "ca" holds names separated by ';' (primary first); wildcard is
//       true/false/1/0/yes/no or empty; a name "*.x" implies wildcard.
//  JSONL: one object per line; "ca" is a string or an array of strings;
//       unknown keys are errors.
//  Dates: RFC 3339 or YYYY-MM-DD (see lib/util/time.h); empty means unknown.
Result<std::vector<store::DomainSpec>> parse(std::istream& in, Format format, std::string_view source,
                                             const std::vector<std::string>& known_cas);

}  // namespace caad::domains
