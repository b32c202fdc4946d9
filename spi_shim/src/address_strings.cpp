// WSPAddressToString / WSPStringToAddress bodies: see address_strings.hpp.
//
// Written from the documented behaviour (Winsock SPI pages, RFC 4291 section
// 2.2 for the accepted IPv6 text, RFC 5952 for the produced text).  Pure
// functions over caller memory: no allocation, no exceptions, no host
// socket headers.

#include "address_strings.hpp"

#include <cstddef>
#include <cstdint>
#include <cstring>

namespace lwsp::wsp {

namespace {

static_assert(sizeof(sockaddr_in) == 16, "Winsock sockaddr_in is 16 bytes");
static_assert(sizeof(sockaddr_in6) == 28, "Winsock sockaddr_in6 is 28 bytes");
static_assert(sizeof(WCHAR) == 2, "WCHAR is a UTF-16 code unit");

// Longest valid input: "[ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255%4294967295]:65535"
// is 65 characters; anything longer than this bound is rejected unread.
constexpr std::size_t kMaxText = 96;

// ---------------------------------------------------------------------------
// Text building

struct text_buf {
    char data[kMaxText];
    std::size_t len = 0;

    void put(char c) {
        if (len < sizeof(data)) data[len++] = c;
    }
    void put(const char* s) {
        while (*s != '\0') put(*s++);
    }
    void put_dec(std::uint32_t v) {
        char tmp[10];
        std::size_t n = 0;
        do {
            tmp[n++] = static_cast<char>('0' + v % 10);
            v /= 10;
        } while (v != 0);
        while (n > 0) put(tmp[--n]);
    }
    void put_hex16(unsigned v) {  // no leading zeros, lowercase
        static const char digits[] = "0123456789abcdef";
        bool started = false;
        for (int shift = 12; shift >= 0; shift -= 4) {
            const unsigned d = (v >> shift) & 0xFu;
            if (d != 0 || started || shift == 0) {
                put(digits[d]);
                started = true;
            }
        }
    }
    void put_ipv4(const std::uint8_t* b) {
        for (int i = 0; i < 4; ++i) {
            if (i != 0) put('.');
            put_dec(b[i]);
        }
    }
};

std::uint16_t read_be16(const void* p) {
    const auto* b = static_cast<const std::uint8_t*>(p);
    return static_cast<std::uint16_t>((b[0] << 8) | b[1]);
}

void write_be16(void* p, std::uint16_t v) {
    const std::uint8_t b[2] = {static_cast<std::uint8_t>(v >> 8), static_cast<std::uint8_t>(v & 0xFFu)};
    std::memcpy(p, b, 2);
}

// RFC 5952 text of a 16-byte address (no scope, no brackets).
void format_ipv6(const std::uint8_t* a, text_buf& out) {
    unsigned words[8];
    for (std::size_t i = 0; i < 8; ++i) words[i] = read_be16(a + 2 * i);

    // ::ffff:a.b.c.d (IPv4-mapped, RFC 5952 section 5).
    if (words[0] == 0 && words[1] == 0 && words[2] == 0 && words[3] == 0 && words[4] == 0 && words[5] == 0xFFFFu) {
        out.put("::ffff:");
        out.put_ipv4(a + 12);
        return;
    }

    // Longest run of zero words, length >= 2; first one wins a tie.
    int best_start = -1;
    int best_len = 0;
    for (int i = 0; i < 8;) {
        if (words[i] != 0) {
            ++i;
            continue;
        }
        int j = i;
        while (j < 8 && words[j] == 0) ++j;
        if (j - i > best_len) {
            best_start = i;
            best_len = j - i;
        }
        i = j;
    }
    if (best_len < 2) {
        best_start = -1;
        best_len = 0;
    }

    for (int i = 0; i < 8;) {
        if (i == best_start) {
            out.put("::");
            i += best_len;
            continue;
        }
        // A separator is needed unless this is the first word or the word
        // directly after "::" (which already ends in a colon).
        if (i != 0 && i != best_start + best_len) out.put(':');
        out.put_hex16(words[i]);
        ++i;
    }
}

int emit(const text_buf& text, LPWSTR out, LPDWORD out_len) {
    const DWORD required = static_cast<DWORD>(text.len + 1);
    if (out == nullptr || *out_len < required) {
        *out_len = required;
        return WSAEFAULT;
    }
    for (std::size_t i = 0; i < text.len; ++i) out[i] = static_cast<WCHAR>(static_cast<unsigned char>(text.data[i]));
    out[text.len] = 0;
    *out_len = required;
    return 0;
}

// ---------------------------------------------------------------------------
// Parsing (over an ASCII copy of the input: s[0..n))

bool is_digit(char c) { return c >= '0' && c <= '9'; }

int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

// Non-empty run of decimal digits with value <= max (leading zeros allowed).
bool parse_decimal(const char* s, std::size_t n, std::uint32_t max, std::uint32_t& out) {
    if (n == 0) return false;
    std::uint64_t v = 0;
    for (std::size_t i = 0; i < n; ++i) {
        if (!is_digit(s[i])) return false;
        v = v * 10 + static_cast<std::uint64_t>(s[i] - '0');
        if (v > max) return false;
    }
    out = static_cast<std::uint32_t>(v);
    return true;
}

// Strict dotted quad: exactly four decimal parts 0..255, no leading zeros
// (a leading zero would be octal to inet_addr-style parsers; refuse it).
bool parse_ipv4(const char* s, std::size_t n, std::uint8_t* out) {
    std::uint8_t b[4];
    std::size_t i = 0;
    for (int part = 0; part < 4; ++part) {
        if (part != 0) {
            if (i >= n || s[i] != '.') return false;
            ++i;
        }
        const std::size_t start = i;
        while (i < n && is_digit(s[i]) && i - start < 4) ++i;
        const std::size_t digits = i - start;
        if (digits == 0 || digits > 3) return false;
        if (digits > 1 && s[start] == '0') return false;
        std::uint32_t v = 0;
        if (!parse_decimal(s + start, digits, 255, v)) return false;
        b[part] = static_cast<std::uint8_t>(v);
    }
    if (i != n) return false;
    std::memcpy(out, b, 4);
    return true;
}

// RFC 4291 section 2.2 text: eight hex groups, or fewer with one "::",
// optionally ending in a dotted IPv4 address in place of the last two groups.
bool parse_ipv6(const char* s, std::size_t n, std::uint8_t* out) {
    std::uint16_t words[8] = {};
    int count = 0;
    int gap = -1;  // index in words[] where "::" stands, or -1
    std::size_t i = 0;

    if (n >= 2 && s[0] == ':' && s[1] == ':') {
        gap = 0;
        i = 2;
    }
    while (i < n) {
        const std::size_t start = i;
        while (i < n && hex_value(s[i]) >= 0) ++i;
        if (i < n && s[i] == '.') {
            // Dotted IPv4 tail: must run to the end and fill two words.
            if (count > 6) return false;
            std::uint8_t v4[4];
            if (!parse_ipv4(s + start, n - start, v4)) return false;
            words[count++] = static_cast<std::uint16_t>((v4[0] << 8) | v4[1]);
            words[count++] = static_cast<std::uint16_t>((v4[2] << 8) | v4[3]);
            i = n;
            break;
        }
        const std::size_t digits = i - start;
        if (digits == 0 || digits > 4 || count >= 8) return false;
        unsigned w = 0;
        for (std::size_t k = start; k < i; ++k) w = (w << 4) | static_cast<unsigned>(hex_value(s[k]));
        words[count++] = static_cast<std::uint16_t>(w);
        if (i == n) break;
        if (s[i] != ':') return false;
        ++i;
        if (i < n && s[i] == ':') {
            if (gap >= 0) return false;
            gap = count;
            ++i;
        } else if (i == n) {
            return false;  // trailing single colon
        }
    }

    std::uint16_t full[8] = {};
    if (gap < 0) {
        if (count != 8) return false;
        for (int k = 0; k < 8; ++k) full[k] = words[k];
    } else {
        if (count > 7) return false;  // "::" stands for at least one group
        for (int k = 0; k < gap; ++k) full[k] = words[k];
        const int tail = count - gap;
        for (int k = 0; k < tail; ++k) full[8 - tail + k] = words[gap + k];
    }
    for (std::size_t k = 0; k < 8; ++k) write_be16(out + 2 * k, full[k]);
    return true;
}

// Copies a NUL-terminated wide string into ASCII; false if it holds a
// character above 0x7F or is longer than the longest valid address text.
bool narrow(const WCHAR* w, char* out, std::size_t& n) {
    for (n = 0; n < kMaxText; ++n) {
        const WCHAR c = w[n];
        if (c == 0) return true;
        if (c > 0x7F) return false;
        out[n] = static_cast<char>(c);
    }
    return false;
}

const char* find_char(const char* s, std::size_t n, char c) {
    for (std::size_t i = 0; i < n; ++i)
        if (s[i] == c) return s + i;
    return nullptr;
}

bool parse_inet(const char* s, std::size_t n, sockaddr_in& out) {
    std::uint8_t addr[4];
    std::uint32_t port = 0;
    const char* colon = find_char(s, n, ':');
    const std::size_t addr_len = colon != nullptr ? static_cast<std::size_t>(colon - s) : n;
    if (!parse_ipv4(s, addr_len, addr)) return false;
    if (colon != nullptr && !parse_decimal(colon + 1, n - addr_len - 1, 0xFFFFu, port)) return false;

    std::memset(&out, 0, sizeof out);
    out.sin_family = AF_INET;
    write_be16(&out.sin_port, static_cast<std::uint16_t>(port));
    std::memcpy(&out.sin_addr, addr, 4);
    return true;
}

bool parse_inet6(const char* s, std::size_t n, sockaddr_in6& out) {
    const char* body = s;
    std::size_t body_len = n;
    std::uint32_t port = 0;

    if (n > 0 && s[0] == '[') {
        const char* close = find_char(s, n, ']');
        if (close == nullptr) return false;
        body = s + 1;
        body_len = static_cast<std::size_t>(close - body);
        const char* rest = close + 1;
        const std::size_t rest_len = n - static_cast<std::size_t>(rest - s);
        if (rest_len != 0) {
            if (rest[0] != ':') return false;
            if (!parse_decimal(rest + 1, rest_len - 1, 0xFFFFu, port)) return false;
        }
    }

    std::uint32_t scope = 0;
    std::size_t addr_len = body_len;
    if (const char* pct = find_char(body, body_len, '%')) {
        addr_len = static_cast<std::size_t>(pct - body);
        if (!parse_decimal(pct + 1, body_len - addr_len - 1, 0xFFFFFFFFu, scope)) return false;
    }

    std::uint8_t addr[16];
    if (!parse_ipv6(body, addr_len, addr)) return false;

    std::memset(&out, 0, sizeof out);
    out.sin6_family = AF_INET6;
    write_be16(&out.sin6_port, static_cast<std::uint16_t>(port));
    std::memcpy(&out.sin6_addr, addr, 16);
    out.sin6_scope_id = scope;
    return true;
}

INT fail(LPINT lpErrno, int code) {
    *lpErrno = code;
    return SOCKET_ERROR;
}

}  // namespace

INT address_to_string(LPSOCKADDR lpsaAddress, DWORD dwAddressLength, LPWSAPROTOCOL_INFOW /*lpProtocolInfo*/,
                      LPWSTR lpszAddressString, LPDWORD lpdwAddressStringLength, LPINT lpErrno) {
    if (lpsaAddress == nullptr || lpdwAddressStringLength == nullptr) return fail(lpErrno, WSAEFAULT);
    if (dwAddressLength < sizeof(u_short)) return fail(lpErrno, WSAEINVAL);

    u_short family = 0;
    std::memcpy(&family, lpsaAddress, sizeof family);

    text_buf text;
    if (family == AF_INET) {
        if (dwAddressLength < sizeof(sockaddr_in)) return fail(lpErrno, WSAEINVAL);
        sockaddr_in in;
        std::memcpy(&in, lpsaAddress, sizeof in);
        std::uint8_t a[4];
        std::memcpy(a, &in.sin_addr, 4);
        const std::uint16_t port = read_be16(&in.sin_port);
        text.put_ipv4(a);
        if (port != 0) {
            text.put(':');
            text.put_dec(port);
        }
    } else if (family == AF_INET6) {
        if (dwAddressLength < sizeof(sockaddr_in6)) return fail(lpErrno, WSAEINVAL);
        sockaddr_in6 in6;
        std::memcpy(&in6, lpsaAddress, sizeof in6);
        std::uint8_t a[16];
        std::memcpy(a, &in6.sin6_addr, 16);
        const std::uint16_t port = read_be16(&in6.sin6_port);
        if (port != 0) text.put('[');
        format_ipv6(a, text);
        if (in6.sin6_scope_id != 0) {
            text.put('%');
            text.put_dec(in6.sin6_scope_id);
        }
        if (port != 0) {
            text.put("]:");
            text.put_dec(port);
        }
    } else {
        return fail(lpErrno, WSAEINVAL);
    }

    const int err = emit(text, lpszAddressString, lpdwAddressStringLength);
    if (err != 0) return fail(lpErrno, err);
    return 0;
}

INT string_to_address(LPWSTR AddressString, INT AddressFamily, LPWSAPROTOCOL_INFOW /*lpProtocolInfo*/,
                      LPSOCKADDR lpAddress, LPINT lpAddressLength, LPINT lpErrno) {
    if (AddressString == nullptr || lpAddress == nullptr || lpAddressLength == nullptr) return fail(lpErrno, WSAEFAULT);

    int need = 0;
    if (AddressFamily == AF_INET)
        need = static_cast<int>(sizeof(sockaddr_in));
    else if (AddressFamily == AF_INET6)
        need = static_cast<int>(sizeof(sockaddr_in6));
    else
        return fail(lpErrno, WSAEINVAL);

    if (*lpAddressLength < need) {
        *lpAddressLength = need;
        return fail(lpErrno, WSAEFAULT);
    }

    char text[kMaxText];
    std::size_t n = 0;
    if (!narrow(AddressString, text, n)) return fail(lpErrno, WSAEINVAL);

    if (AddressFamily == AF_INET) {
        sockaddr_in in;
        if (!parse_inet(text, n, in)) return fail(lpErrno, WSAEINVAL);
        std::memcpy(lpAddress, &in, sizeof in);
    } else {
        sockaddr_in6 in6;
        if (!parse_inet6(text, n, in6)) return fail(lpErrno, WSAEINVAL);
        std::memcpy(lpAddress, &in6, sizeof in6);
    }
    *lpAddressLength = need;
    return 0;
}

}  // namespace lwsp::wsp
