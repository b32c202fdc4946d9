// fuzz_address_strings — WSPStringToAddress / WSPAddressToString, and the
// text parsers and printers behind them (spi_shim/src/address_strings.*).
//
// Every buffer the harness hands over is exactly as long as the length it
// claims, so a read or write one element too far is an AddressSanitizer
// report rather than a silent overrun into harness memory.  Beyond memory
// safety it checks the documented contract (address_strings.hpp): the only
// errors are WSAEFAULT and WSAEINVAL, *lpErrno is untouched on success,
// nothing is written on failure or beyond the structure, and the required
// length reported on WSAEFAULT is enough.  And three properties:
//   * round trip: text that parses prints as text that parses to the same
//     address; printing is idempotent (the printed form is canonical);
//   * every address the printer accepts prints as text that parses back to
//     it (flow info aside, which is not shown);
//   * plain address text (no port, brackets or scope) is accepted exactly
//     when the C library's inet_pton accepts it, with the same bytes, and
//     printed as inet_ntop prints it (except IPv4-compatible addresses,
//     which RFC 5952 prints in hex and inet_ntop with a dotted tail).
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "address_strings.hpp"
#include "address_strings_format.hpp"
#include "common/check.hpp"
#include "common/reference_inet.hpp"
#include "lwsp/lwsp.h"
#include "lwsp/stack.hpp"

namespace {

using namespace lwsp::fuzz;
using namespace lwsp::fuzz::address_strings;

constexpr int sentinel_errno = 0x5A5A;
constexpr std::uint8_t canary = 0xA5;
constexpr WCHAR wide_canary = 0xA5A5;

WSPPROC_TABLE g_table{};

int sockaddr_size(int family) { return family == AF_INET ? 16 : family == AF_INET6 ? 28 : 0; }

std::string narrow(const WCHAR* w) {
    std::string s;
    for (; *w != 0; ++w) s.push_back(static_cast<char>(*w));
    return s;
}

std::vector<WCHAR> widen(const std::string& s) {
    std::vector<WCHAR> w;
    for (char c : s) w.push_back(static_cast<WCHAR>(static_cast<unsigned char>(c)));
    w.push_back(0);
    return w;
}

bool valid_error(int e) { return e == WSAEFAULT || e == WSAEINVAL; }

// A successfully parsed sockaddr_in/sockaddr_in6, as bytes (zeroed padding
// included: the parser zeroes the structure first).
struct parsed {
    bool ok = false;
    std::vector<std::uint8_t> bytes;
};

parsed do_parse(const std::string& text, int family, bool table) {
    std::vector<WCHAR> w = widen(text);
    std::uint8_t buf[28];
    std::memset(buf, canary, sizeof buf);
    INT len = sizeof buf;
    int err = sentinel_errno;
    const INT r =
        table ? g_table.lpWSPStringToAddress(w.data(), family, nullptr, reinterpret_cast<LPSOCKADDR>(buf), &len, &err)
              : lwsp::wsp::string_to_address(w.data(), family, nullptr, reinterpret_cast<LPSOCKADDR>(buf), &len, &err);
    parsed p;
    if (r != 0) return p;
    p.ok = true;
    p.bytes.assign(buf, buf + sockaddr_size(family));
    return p;
}

// Prints `sa` (a complete structure of its family) with an exactly sized
// buffer; checks the required-length protocol on the way.
std::string do_print(const std::vector<std::uint8_t>& sa, bool table) {
    DWORD need = 0;
    int err = sentinel_errno;
    std::vector<std::uint8_t> copy(sa);
    auto call = [&](LPWSTR out, LPDWORD len) {
        return table ? g_table.lpWSPAddressToString(reinterpret_cast<LPSOCKADDR>(copy.data()),
                                                    static_cast<DWORD>(copy.size()), nullptr, out, len, &err)
                     : lwsp::wsp::address_to_string(reinterpret_cast<LPSOCKADDR>(copy.data()),
                                                    static_cast<DWORD>(copy.size()), nullptr, out, len, &err);
    };
    INT r = call(nullptr, &need);
    LWSP_FUZZ_CHECK(r == SOCKET_ERROR && err == WSAEFAULT && need > 1, "size query: r=%d err=%d need=%u", r, err,
                    static_cast<unsigned>(need));
    std::unique_ptr<WCHAR[]> out(new WCHAR[need]);
    DWORD len = need;
    err = sentinel_errno;
    r = call(out.get(), &len);
    LWSP_FUZZ_CHECK(r == 0 && err == sentinel_errno && len == need,
                    "print with the required size: r=%d err=%d len=%u need=%u", r, err, static_cast<unsigned>(len),
                    static_cast<unsigned>(need));
    LWSP_FUZZ_CHECK(out[need - 1] == 0, "output not NUL-terminated at its reported length");
    for (DWORD i = 0; i + 1 < need; ++i)
        LWSP_FUZZ_CHECK(out[i] > 0 && out[i] < 0x80, "output character %u is 0x%x", static_cast<unsigned>(i), out[i]);
    return narrow(out.get());
}

std::uint16_t be16(const std::uint8_t* p) { return static_cast<std::uint16_t>(p[0] << 8 | p[1]); }

// The address part of a sockaddr (family 2 or 23), without port or scope.
bool plain_text_of(const std::vector<std::uint8_t>& sa, int family, std::string& out) {
    if (family == AF_INET) {
        out = reference_format_ipv4(sa.data() + 4);
        return true;
    }
    const std::uint8_t* a = sa.data() + 8;
    bool v4_compatible = true;  // ::a.b.c.d with a nonzero seventh group
    for (int i = 0; i < 12; ++i) v4_compatible = v4_compatible && a[i] == 0;
    v4_compatible = v4_compatible && (a[12] != 0 || a[13] != 0);
    if (v4_compatible) return false;
    out = reference_format_ipv6(a);
    return true;
}

// The properties every successfully parsed address has.
void check_parsed(const std::string& text, int family, const std::vector<std::uint8_t>& sa, bool table) {
    std::uint16_t fam = 0;
    std::memcpy(&fam, sa.data(), 2);
    LWSP_FUZZ_CHECK(fam == family, "parsed family %u, asked %d", fam, family);
    if (family == AF_INET) {
        for (int i = 8; i < 16; ++i) LWSP_FUZZ_CHECK(sa[i] == 0, "sin_zero byte %d not zero", i);
    } else {
        for (int i = 4; i < 8; ++i) LWSP_FUZZ_CHECK(sa[i] == 0, "sin6_flowinfo not zero");
    }
    // Round trip and canonical form.
    const std::string printed = do_print(sa, table);
    const parsed again = do_parse(printed, family, table);
    LWSP_FUZZ_CHECK(again.ok, "'%s' parsed, printed as '%s', which does not parse", text.c_str(), printed.c_str());
    LWSP_FUZZ_CHECK(again.bytes == sa, "'%s' printed as '%s' parses to another address", text.c_str(), printed.c_str());
    const std::string printed_again = do_print(again.bytes, table);
    LWSP_FUZZ_CHECK(printed_again == printed, "printing is not canonical: '%s' then '%s'", printed.c_str(),
                    printed_again.c_str());
    // Plain text against the C library.
    const bool plain =
        family == AF_INET ? text.find(':') == std::string::npos : text.find_first_of("[]%") == std::string::npos;
    if (plain) {
        std::uint8_t ref[16];
        const bool ref_ok = family == AF_INET ? reference_parse_ipv4(text, ref) : reference_parse_ipv6(text, ref);
        LWSP_FUZZ_CHECK(ref_ok, "'%s' parsed, inet_pton refuses it", text.c_str());
        const std::uint8_t* mine = sa.data() + (family == AF_INET ? 4 : 8);
        LWSP_FUZZ_CHECK(std::memcmp(ref, mine, family == AF_INET ? 4 : 16) == 0, "'%s': other bytes than inet_pton's",
                        text.c_str());
    }
    std::string ref_text;
    const bool no_port = be16(sa.data() + 2) == 0;
    std::uint32_t scope = 0;
    if (family == AF_INET6) std::memcpy(&scope, sa.data() + 24, 4);
    if (no_port && scope == 0 && plain_text_of(sa, family, ref_text))
        LWSP_FUZZ_CHECK(printed == ref_text, "printed '%s', inet_ntop prints '%s'", printed.c_str(), ref_text.c_str());
}

void run_parse(input& in, unsigned op) {
    const bool table = (op & op_table) != 0;
    const unsigned mutilate = op >> 2 & 7;
    const int family = family_of(in.u8());
    const std::size_t claimed = in.u8() % 64;
    std::vector<WCHAR> text;
    std::string ascii;
    bool all_ascii = true;
    while (!in.empty()) {
        std::uint8_t c = in.u8();
        WCHAR w = c;
        if (c == wide_escape) w = in.u16();
        if (w == 0) break;
        text.push_back(w);
        all_ascii = all_ascii && w < 0x80;
        ascii.push_back(static_cast<char>(w & 0x7f));
    }
    std::unique_ptr<WCHAR[]> str(new WCHAR[text.size() + 1]);  // exactly the string and its NUL
    std::copy(text.begin(), text.end(), str.get());
    str[text.size()] = 0;
    std::unique_ptr<std::uint8_t[]> buf(new std::uint8_t[claimed == 0 ? 1 : claimed]);
    std::memset(buf.get(), canary, claimed == 0 ? 1 : claimed);
    INT len = static_cast<INT>(claimed);
    int err = sentinel_errno;
    LPWSTR s = mutilate == null_text ? nullptr : str.get();
    LPSOCKADDR a = mutilate == null_address ? nullptr : reinterpret_cast<LPSOCKADDR>(buf.get());
    LPINT l = mutilate == null_length ? nullptr : &len;
    LPINT e = mutilate == null_errno && table ? nullptr : &err;
    const INT r = table ? g_table.lpWSPStringToAddress(s, family, nullptr, a, l, e)
                        : lwsp::wsp::string_to_address(s, family, nullptr, a, l, e);
    const int need = sockaddr_size(family);
    if (e == nullptr) {
        LWSP_FUZZ_CHECK(r == SOCKET_ERROR, "lpErrno NULL: returned %d", r);
        return;
    }
    if (r != 0) {
        LWSP_FUZZ_CHECK(r == SOCKET_ERROR && valid_error(err), "returned %d, error %d", r, err);
        for (std::size_t i = 0; i < claimed; ++i) LWSP_FUZZ_CHECK(buf[i] == canary, "failed parse wrote byte %zu", i);
        const bool short_buffer = need != 0 && static_cast<int>(claimed) < need && s && a && l;
        if (err == WSAEFAULT && l != nullptr && !(s == nullptr || a == nullptr))
            LWSP_FUZZ_CHECK(short_buffer && len == need, "WSAEFAULT: claimed %zu, length now %d, need %d", claimed, len,
                            need);
        if (err == WSAEINVAL) LWSP_FUZZ_CHECK(len == static_cast<INT>(claimed), "WSAEINVAL changed the length");
        // Refused plain text must be text the C library refuses too.
        if (err == WSAEINVAL && need != 0 && all_ascii && ascii.size() < 96) {
            const bool plain = family == AF_INET ? ascii.find(':') == std::string::npos
                                                 : ascii.find_first_of("[]%") == std::string::npos;
            std::uint8_t ref[16];
            if (plain && family == AF_INET)
                LWSP_FUZZ_CHECK(!reference_parse_ipv4(ascii, ref), "'%s' refused, inet_pton accepts it", ascii.c_str());
            if (plain && family == AF_INET6)
                LWSP_FUZZ_CHECK(!reference_parse_ipv6(ascii, ref), "'%s' refused, inet_pton accepts it", ascii.c_str());
        }
        return;
    }
    LWSP_FUZZ_CHECK(s && a && l, "success with a NULL argument");
    LWSP_FUZZ_CHECK(err == sentinel_errno, "success changed *lpErrno to %d", err);
    LWSP_FUZZ_CHECK(need != 0 && len == need, "success: family %d, length %d", family, len);
    LWSP_FUZZ_CHECK(static_cast<int>(claimed) >= need, "success into a %zu-byte buffer", claimed);
    LWSP_FUZZ_CHECK(all_ascii, "text with a non-ASCII character parsed");
    for (std::size_t i = static_cast<std::size_t>(need); i < claimed; ++i)
        LWSP_FUZZ_CHECK(buf[i] == canary, "parse wrote byte %zu beyond the structure", i);
    check_parsed(ascii, family, std::vector<std::uint8_t>(buf.get(), buf.get() + need), table);
}

void run_print(input& in, unsigned op) {
    const bool table = (op & op_table) != 0;
    const unsigned mutilate = op >> 2 & 7;
    const std::size_t sa_len = in.u8() % 64;
    const std::size_t claimed = in.u8() % 80;
    std::vector<std::uint8_t> sa_bytes = in.bytes(sa_len);
    sa_bytes.resize(sa_len, 0);
    std::unique_ptr<std::uint8_t[]> sa(new std::uint8_t[sa_len == 0 ? 1 : sa_len]);
    std::copy(sa_bytes.begin(), sa_bytes.end(), sa.get());
    std::unique_ptr<WCHAR[]> out(claimed == 0 ? nullptr : new WCHAR[claimed]);
    for (std::size_t i = 0; i < claimed; ++i) out[i] = wide_canary;
    DWORD len = static_cast<DWORD>(claimed);
    int err = sentinel_errno;
    LPSOCKADDR a = mutilate == null_text ? nullptr : reinterpret_cast<LPSOCKADDR>(sa.get());
    LPWSTR o = mutilate == null_address ? nullptr : out.get();
    LPDWORD l = mutilate == null_length ? nullptr : &len;
    LPINT e = mutilate == null_errno && table ? nullptr : &err;
    const INT r = table ? g_table.lpWSPAddressToString(a, static_cast<DWORD>(sa_len), nullptr, o, l, e)
                        : lwsp::wsp::address_to_string(a, static_cast<DWORD>(sa_len), nullptr, o, l, e);
    if (e == nullptr) {
        LWSP_FUZZ_CHECK(r == SOCKET_ERROR, "lpErrno NULL: returned %d", r);
        return;
    }
    std::uint16_t family = 0;
    if (sa_len >= 2) std::memcpy(&family, sa_bytes.data(), 2);
    const int need = sockaddr_size(family);
    if (r != 0) {
        LWSP_FUZZ_CHECK(r == SOCKET_ERROR && valid_error(err), "returned %d, error %d", r, err);
        for (std::size_t i = 0; i < claimed; ++i)
            LWSP_FUZZ_CHECK(out[i] == wide_canary, "failed print wrote character %zu", i);
        if (err == WSAEFAULT && a != nullptr && l != nullptr && need != 0 && sa_len >= static_cast<std::size_t>(need)) {
            LWSP_FUZZ_CHECK(len > claimed || o == nullptr, "WSAEFAULT with a buffer of %zu, required %u", claimed,
                            static_cast<unsigned>(len));
            // The required length is enough (and exact).
            std::vector<std::uint8_t> whole(sa_bytes.begin(), sa_bytes.begin() + need);
            const std::string text = do_print(whole, table);
            LWSP_FUZZ_CHECK(text.size() + 1 == len, "required %u, printed %zu characters", static_cast<unsigned>(len),
                            text.size());
        }
        if (err == WSAEINVAL && a != nullptr && l != nullptr)
            LWSP_FUZZ_CHECK(need == 0 || sa_len < static_cast<std::size_t>(need),
                            "WSAEINVAL for a complete family %u address", family);
        return;
    }
    LWSP_FUZZ_CHECK(a && o && l, "success with a NULL argument");
    LWSP_FUZZ_CHECK(err == sentinel_errno, "success changed *lpErrno to %d", err);
    LWSP_FUZZ_CHECK(need != 0 && sa_len >= static_cast<std::size_t>(need), "printed family %u from %zu bytes", family,
                    sa_len);
    LWSP_FUZZ_CHECK(len >= 1 && len <= claimed, "printed length %u into %zu", static_cast<unsigned>(len), claimed);
    LWSP_FUZZ_CHECK(out[len - 1] == 0, "not NUL-terminated at its length");
    for (std::size_t i = len; i < claimed; ++i)
        LWSP_FUZZ_CHECK(out[i] == wide_canary, "wrote character %zu beyond the text", i);
    const std::string text = narrow(out.get());
    LWSP_FUZZ_CHECK(text.size() + 1 == len, "length %u for %zu characters", static_cast<unsigned>(len), text.size());
    // What was printed parses back to what was given, flow info aside.
    const parsed back = do_parse(text, family, table);
    LWSP_FUZZ_CHECK(back.ok, "printed '%s', which does not parse", text.c_str());
    std::vector<std::uint8_t> expect(sa_bytes.begin(), sa_bytes.begin() + need);
    if (family == AF_INET) {
        std::memset(expect.data() + 8, 0, 8);  // sin_zero
    } else {
        std::memset(expect.data() + 4, 0, 4);  // sin6_flowinfo
    }
    LWSP_FUZZ_CHECK(back.bytes == expect, "printed '%s', which parses to another address", text.c_str());
    check_parsed(text, family, back.bytes, table);
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
    // The proc table needs a running stack (WSPStartup refuses otherwise);
    // it is never used for traffic here.
    static lwsp::stack* st = new lwsp::stack(lwsp::stack::options{true, 0});
    (void)st;
    WSPDATA data{};
    WSPUPCALLTABLE none{};
    LWSP_FUZZ_CHECK(WSPStartup(MAKEWORD(2, 2), &data, nullptr, none, &g_table) == 0, "WSPStartup failed");
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    input in(data, size);
    const unsigned op = in.u8();
    if (op & op_print)
        run_print(in, op);
    else
        run_parse(in, op);
    return 0;
}
