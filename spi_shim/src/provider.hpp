// Internal: provider-wide state and the helpers every WSP function uses —
// the entry check (startup, re-entrancy, handle, stack), the blocking wait,
// and the conversions between Winsock sockaddrs and stack addresses.
#pragma once

#include <functional>
#include <memory>
#include <mutex>

#include "error_table.hpp"
#include "handle_table.hpp"
#include "lwsp/stack.hpp"
#include "lwsp/ws2spi.h"
#include "wsp_socket.hpp"

namespace lwsp::wsp {

// What the first WSPStartup set up.
struct provider_config {
    // The upcall table: ws2's as given to the first WSPStartup, its empty
    // members (all of them, off Windows) filled with lwsp's own
    // (lwsp/upcalls.h).
    WSPUPCALLTABLE upcalls{};
    bool external_handles = false;  // ws2 hands out the SOCKET values (WPUCreateSocketHandle given)
    DWORD catalog_entry = 0;
};

struct provider_state {
    // Two leaf locks: never held while taking a stack's core lock, never
    // both at once.
    mutex mu;
    int startups LWSP_GUARDED_BY(mu) = 0;  // WSPStartup count minus WSPCleanup count
    provider_config config LWSP_GUARDED_BY(mu);
    // The SOCKET handles (kind 0 of handle_table.hpp).
    mutex handles_mu;
    handle_table<wsp_socket> handles LWSP_GUARDED_BY(handles_mu);

    // A copy of the configuration, taken under `mu` (a later WSPStartup
    // after the last WSPCleanup may change it).
    provider_config settings() LWSP_EXCLUDES(mu) {
        lock_guard g(mu);
        return config;
    }
    bool started() LWSP_EXCLUDES(mu) {
        lock_guard g(mu);
        return startups != 0;
    }
};

provider_state& provider();

// Sets *lpErrno (if the pointer is usable) and returns SOCKET_ERROR.
inline int fail(LPINT lpErrno, int code) {
    if (lpErrno) *lpErrno = code;
    return SOCKET_ERROR;
}

// Common entry checks, in Winsock's order: lpErrno usable, provider
// started, not re-entered from a blocking hook (WSAEINPROGRESS), the
// stack present and running (WSAENETDOWN).  Returns 0 or the error.
int check_entry();

// check_entry() plus the handle: fills `out` or returns WSAENOTSOCK.
int find_socket(SOCKET s, std::shared_ptr<wsp_socket>& out);

// The running stack (check_entry guarantees one).  A socket uses its own
// (wsp_socket::st), which may be an older, stopped one.
stack& the_stack();

// Registers a new socket: a handle from the table (or from ws2 through
// WPUCreateSocketHandle when an upcall table was given).  Returns
// INVALID_SOCKET and sets `err` on failure.
SOCKET register_socket(const std::shared_ptr<wsp_socket>& sock, int& err);
// Removes the handle (and tells ws2 through WPUCloseSocketHandle).
void unregister_socket(wsp_socket& sock);

// Blocks the calling thread on `sock` until `ready()` holds.  Returns 0, or
// WSAEINTR (socket closed or the call canceled), WSAETIMEDOUT (timeout_ms
// passed; 0 = no limit) or WSAENETDOWN (stack stopped).  While waiting it
// runs the application's blocking hook (WPUQueryBlockingCallback), during
// which calls into the provider fail with WSAEINPROGRESS.
int block_on(core_lock& lk, wsp_socket& sock, const std::function<bool()>& ready, DWORD timeout_ms,
             bool watch_progress = false) LWSP_REQUIRES(sock.st->core());
// The same wait on any condition variable of stack `st` (WSPSelect's):
// WSAEINTR when `interrupted()` or the call is canceled, WSAETIMEDOUT at
// `deadline`.
int block_on(core_lock& lk, stack& st, platform::condvar& cv, const std::function<bool()>& interrupted,
             const std::function<bool()>& ready, std::optional<millis> deadline, bool watch_progress = false)
    LWSP_REQUIRES(st.core());

// Stack deadline for a timeout in ms from now (0 = none).
std::optional<millis> deadline_after(stack& st, DWORD timeout_ms);

// Converts a Winsock sockaddr of the socket's family.  Returns 0 or
// WSAEFAULT (NULL, or namelen too short) / WSAEAFNOSUPPORT (other family).
int from_sockaddr(const struct sockaddr* name, int namelen, int family, sock_address& out);
// Writes a sockaddr; returns 0 or WSAEFAULT (*namelen too small: untouched).
int to_sockaddr(const sock_address& a, struct sockaddr* name, LPINT namelen);

// Is the current thread inside the blocking hook of one of our calls?
bool in_blocking_hook();

}  // namespace lwsp::wsp
