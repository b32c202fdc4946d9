// What Windows CE's default provider does not offer, answered as it answers
// (docs/design.md "Which behaviour is right"): WSPDuplicateSocket,
// WSPJoinLeaf and the disconnect-data calls fail WSASYSCALLFAILURE, always;
// WSPAsyncSelect (no window messages on CE) and WSPGetQOSByName fail
// WSAEOPNOTSUPP after the common entry checks.

#include "provider.hpp"
#include "wsp_calls.hpp"

namespace lwsp::wsp {

// CE's default provider: always SOCKET_ERROR with WSASYSCALLFAILURE.
int WSPAPI WSPDuplicateSocket(SOCKET, DWORD, LPWSAPROTOCOL_INFOW, LPINT lpErrno) {
    return fail(lpErrno, WSASYSCALLFAILURE);
}

SOCKET WSPAPI WSPJoinLeaf(SOCKET, const struct sockaddr*, int, LPWSABUF, LPWSABUF, LPQOS, LPQOS, DWORD, LPINT lpErrno) {
    if (lpErrno) *lpErrno = WSASYSCALLFAILURE;
    return INVALID_SOCKET;
}

int WSPAPI WSPSendDisconnect(SOCKET, LPWSABUF, LPINT lpErrno) { return fail(lpErrno, WSASYSCALLFAILURE); }

int WSPAPI WSPRecvDisconnect(SOCKET, LPWSABUF, LPINT lpErrno) { return fail(lpErrno, WSASYSCALLFAILURE); }

// The common entry checks still come first (WSANOTINITIALISED,
// WSAEINPROGRESS, WSAENOTSOCK, WSAENETDOWN), as for every call on a socket.
static int entry_error(SOCKET s) {
    std::shared_ptr<wsp_socket> sock;
    return find_socket(s, sock);
}

// CE has no window messages and no QoS.
int WSPAPI WSPAsyncSelect(SOCKET s, HWND, unsigned int, long, LPINT lpErrno) {
    if (int e = entry_error(s)) return fail(lpErrno, e);
    return fail(lpErrno, WSAEOPNOTSUPP);
}

BOOL WSPAPI WSPGetQOSByName(SOCKET s, LPWSABUF, LPQOS, LPINT lpErrno) {
    const int e = entry_error(s);
    if (lpErrno) *lpErrno = e != 0 ? e : WSAEOPNOTSUPP;
    return FALSE;
}

}  // namespace lwsp::wsp
