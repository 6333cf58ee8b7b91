// Exit statuses shared by every caad command. The first three are the
// verdict, so scripts can branch on them; the rest follow sysexits.h.
#pragma once

namespace caad::cli {

inline constexpr int k_exit_permitted = 0;      // every check permitted
inline constexpr int k_exit_denied = 1;         // some CA is denied
inline constexpr int k_exit_lookup_failed = 2;  // lookups failed, none denied
inline constexpr int k_exit_usage = 64;         // EX_USAGE: bad command line
inline constexpr int k_exit_data = 65;          // EX_DATAERR: bad input file contents
inline constexpr int k_exit_no_input = 66;      // EX_NOINPUT: input file cannot be read
inline constexpr int k_exit_software = 70;      // EX_SOFTWARE: a bug; the message says where
inline constexpr int k_exit_io = 74;            // EX_IOERR: the database cannot be opened or written
inline constexpr int k_exit_config = 78;        // EX_CONFIG: the configuration file is wrong

}  // namespace caad::cli
