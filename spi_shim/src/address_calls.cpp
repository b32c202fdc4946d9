// WSPAddressToString / WSPStringToAddress: the common entry checks, then the
// text conversions of address_strings.cpp.
#include "address_strings.hpp"
#include "provider.hpp"
#include "wsp_calls.hpp"

namespace lwsp::wsp {

INT WSPAPI WSPAddressToString(LPSOCKADDR lpsaAddress, DWORD dwAddressLength, LPWSAPROTOCOL_INFOW lpProtocolInfo,
                              LPWSTR lpszAddressString, LPDWORD lpdwAddressStringLength, LPINT lpErrno) {
    if (lpErrno == nullptr) return SOCKET_ERROR;
    if (int e = check_entry(); e != 0 && e != WSAENETDOWN) return fail(lpErrno, e);
    return address_to_string(lpsaAddress, dwAddressLength, lpProtocolInfo, lpszAddressString, lpdwAddressStringLength,
                             lpErrno);
}

INT WSPAPI WSPStringToAddress(LPWSTR AddressString, INT AddressFamily, LPWSAPROTOCOL_INFOW lpProtocolInfo,
                              LPSOCKADDR lpAddress, LPINT lpAddressLength, LPINT lpErrno) {
    if (lpErrno == nullptr) return SOCKET_ERROR;
    if (int e = check_entry(); e != 0 && e != WSAENETDOWN) return fail(lpErrno, e);
    return string_to_address(AddressString, AddressFamily, lpProtocolInfo, lpAddress, lpAddressLength, lpErrno);
}

}  // namespace lwsp::wsp
