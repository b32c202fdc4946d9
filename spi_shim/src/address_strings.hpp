// Internal: text <-> sockaddr conversion, the bodies of WSPAddressToString and
// WSPStringToAddress (address_strings.cpp).  The provider's dispatch code
// calls these after its own common checks; they touch no provider state.
//
// address_to_string
//   AF_INET  (dwAddressLength >= 16): "a.b.c.d:port", ":port" omitted when 0.
//   AF_INET6 (dwAddressLength >= 28): RFC 5952 text (lowercase, longest run of
//            two or more zero groups shown as "::", the first on a tie,
//            ::ffff:0:0/96 with a dotted IPv4 tail), "%scope" appended when
//            sin6_scope_id != 0, and "[...]:port" when the port is not 0.
//   The output is a NUL-terminated WCHAR string; *lpdwAddressStringLength is
//   in characters including the NUL (required length on WSAEFAULT, written
//   length on success).  sin6_flowinfo is not shown.
//   Errors: NULL lpsaAddress / lpdwAddressStringLength -> WSAEFAULT;
//   short dwAddressLength or another family -> WSAEINVAL; NULL or too small
//   output buffer -> WSAEFAULT and *lpdwAddressStringLength = required.
//
// string_to_address
//   AF_INET:  "a.b.c.d" or "a.b.c.d:port" (strict dotted decimal).
//   AF_INET6: "addr", "addr%scope", "[addr]", "[addr%scope]", "[addr]:port",
//             "[addr%scope]:port" (RFC 4291 text incl. "::" and a dotted
//             IPv4 tail; decimal scope id).
//   Success: the sockaddr_in / sockaddr_in6 is zeroed, then family, port
//   (network order), address and scope id are stored; *lpAddressLength = 16
//   or 28.  Bytes of lpAddress beyond that structure are not touched.
//   Errors: NULL AddressString / lpAddress / lpAddressLength -> WSAEFAULT;
//   another family -> WSAEINVAL; *lpAddressLength < 16 / 28 -> WSAEFAULT with
//   *lpAddressLength = 16 / 28; unparsable text -> WSAEINVAL.  Nothing is
//   written to lpAddress on failure.
//
// Both return 0 on success, SOCKET_ERROR with *lpErrno set on failure;
// *lpErrno is left unchanged on success.  lpProtocolInfo is not used.
#pragma once

#include "lwsp/ws2spi.h"

namespace lwsp::wsp {

INT address_to_string(LPSOCKADDR lpsaAddress, DWORD dwAddressLength, LPWSAPROTOCOL_INFOW lpProtocolInfo,
                      LPWSTR lpszAddressString, LPDWORD lpdwAddressStringLength, LPINT lpErrno);

INT string_to_address(LPWSTR AddressString, INT AddressFamily, LPWSAPROTOCOL_INFOW lpProtocolInfo, LPSOCKADDR lpAddress,
                      LPINT lpAddressLength, LPINT lpErrno);

}  // namespace lwsp::wsp
