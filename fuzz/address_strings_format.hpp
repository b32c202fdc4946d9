// address_strings_format.hpp — the input layout of fuzz_address_strings,
// shared by the harness and the seed generator (make_corpus.cpp).
//
//   u8 op      bit 0: 0 parse (string_to_address), 1 print (address_to_string)
//              bit 1: through the proc table (WSPStringToAddress /
//                     WSPAddressToString) rather than the internal function
//              bits 2-4: argument mutilation, 0 = none (see null_* below)
//   parse:  u8 family selector (family_of), u8 claimed *lpAddressLength (the
//           harness's buffer is exactly that long), then the text: every
//           remaining byte is one character, 0xFF u16 escapes a wide one;
//           the harness appends the terminating NUL.
//   print:  u8 dwAddressLength (the sockaddr buffer is exactly that long),
//           u8 claimed output length in characters (the buffer is exactly
//           that long; 0 means no buffer), then the sockaddr bytes.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/input.hpp"

namespace lwsp::fuzz::address_strings {

constexpr unsigned op_print = 1;
constexpr unsigned op_table = 2;
// Argument mutilations (bits 2-4 of op).
constexpr unsigned null_text = 1;     // AddressString / lpsaAddress NULL
constexpr unsigned null_address = 2;  // lpAddress / lpszAddressString NULL
constexpr unsigned null_length = 3;   // lpAddressLength / lpdwAddressStringLength NULL
constexpr unsigned null_errno = 4;    // lpErrno NULL (proc table only)

constexpr std::uint8_t wide_escape = 0xFF;

// Family selector: 0 AF_INET, 1 AF_INET6 (Winsock's 23), 2 AF_UNSPEC, any
// other value is used as the family number itself.
inline int family_of(std::uint8_t sel) {
    switch (sel) {
        case 0: return 2;
        case 1: return 23;
        case 2: return 0;
        default: return sel;
    }
}

inline std::vector<std::uint8_t> parse_input(unsigned op, std::uint8_t family_sel, std::uint8_t claimed_len,
                                             const std::string& text) {
    output o;
    o.u8(op & ~op_print).u8(family_sel).u8(claimed_len);
    for (char c : text) o.u8(static_cast<std::uint8_t>(c));
    return o.data();
}

inline std::vector<std::uint8_t> print_input(unsigned op, const std::vector<std::uint8_t>& sockaddr_bytes,
                                             std::uint8_t claimed_chars) {
    output o;
    o.u8(op | op_print).u8(static_cast<unsigned>(sockaddr_bytes.size())).u8(claimed_chars).bytes(sockaddr_bytes);
    return o.data();
}

}  // namespace lwsp::fuzz::address_strings
