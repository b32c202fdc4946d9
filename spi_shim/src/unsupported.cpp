// What Windows CE's default provider does not offer, answered as it answers
// (docs/design.md "Which behaviour is right"), and the asynchronous calls that
// are not implemented yet.
#include "provider.hpp"
#include "wsp_calls.hpp"

namespace lwsp::wsp {

// CE's default provider: always SOCKET_ERROR with WSASYSCALLFAILURE.
int WSPAPI WSPDuplicateSocket(SOCKET, DWORD, LPWSAPROTOCOL_INFOW, LPINT lpErrno) {
    return fail(lpErrno, WSASYSCALLFAILURE);
}

SOCKET WSPAPI WSPJoinLeaf(SOCKET, const struct sockaddr*, int, LPWSABUF, LPWSABUF, LPQOS, LPQOS, DWORD,
                          LPINT lpErrno) {
    if (lpErrno) *lpErrno = WSASYSCALLFAILURE;
    return INVALID_SOCKET;
}

int WSPAPI WSPSendDisconnect(SOCKET, LPWSABUF, LPINT lpErrno) { return fail(lpErrno, WSASYSCALLFAILURE); }

int WSPAPI WSPRecvDisconnect(SOCKET, LPWSABUF, LPINT lpErrno) { return fail(lpErrno, WSASYSCALLFAILURE); }

// CE has no window messages and no QoS.
int WSPAPI WSPAsyncSelect(SOCKET, HWND, unsigned int, long, LPINT lpErrno) { return fail(lpErrno, WSAEOPNOTSUPP); }

BOOL WSPAPI WSPGetQOSByName(SOCKET, LPWSABUF, LPQOS, LPINT lpErrno) {
    if (lpErrno) *lpErrno = WSAEOPNOTSUPP;
    return FALSE;
}

// Not implemented yet (event selection and overlapped results).
int WSPAPI WSPEventSelect(SOCKET, WSAEVENT, long, LPINT lpErrno) { return fail(lpErrno, WSAEOPNOTSUPP); }

int WSPAPI WSPEnumNetworkEvents(SOCKET, WSAEVENT, LPWSANETWORKEVENTS, LPINT lpErrno) {
    return fail(lpErrno, WSAEOPNOTSUPP);
}

BOOL WSPAPI WSPGetOverlappedResult(SOCKET, LPWSAOVERLAPPED, LPDWORD, BOOL, LPDWORD, LPINT lpErrno) {
    if (lpErrno) *lpErrno = WSAEOPNOTSUPP;
    return FALSE;
}

}  // namespace lwsp::wsp
