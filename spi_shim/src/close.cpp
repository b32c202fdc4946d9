// WSPCloseSocket: the close-semantics table of Windows CE 6.0 (the project's
// seed; docs/design.md "Close semantics" has the table and the reasons).
//
//   SO_DONTLINGER (default)      graceful: queued data, then FIN; returns at once
//   SO_LINGER, l_linger == 0     abortive: RST, always; returns at once
//   SO_LINGER, l_linger > 0,
//     blocking socket            FIN behind the data at once, wait until all of
//                                it (FIN included) is acknowledged; at the
//                                deadline RST; returns 0 either way
//     nonblocking socket         if anything is unacknowledged: WSAEWOULDBLOCK,
//                                nothing sent, the handle stays valid;
//                                otherwise graceful
//
// In every successful case the handle is released first, blocked calls on the
// socket in other threads return WSAEINTR, pending overlapped operations
// complete with WSA_OPERATION_ABORTED (their event set or routine queued),
// and the endpoint is detached so no event is reported for the socket
// afterwards.
#include "provider.hpp"
#include "requests.hpp"
#include "wsp_calls.hpp"

namespace lwsp::wsp {

int close_socket(core_lock& lk, wsp_socket& sock, bool may_block) {
    if (sock.closing) return WSAENOTSOCK;  // another thread is closing it
    tcp_endpoint* tcp = sock.io.tcp();
    const bool linger_on = sock.opts.linger.l_onoff != 0;
    const unsigned linger_s = sock.opts.linger.l_linger;
    const bool connected = tcp != nullptr && tcp->current_state() == tcp_endpoint::state::connected;

    // Unread received data resets the connection whatever the linger (RFC
    // 1122 4.2.2.13).  lwIP does this by itself only while it has not sent
    // its FIN; after a lingering start or SD_SEND it would not.
    const bool unread = tcp != nullptr && tcp->bytes_readable() > 0;

    // The one failure that keeps the socket as it was.
    if (tcp != nullptr && connected && !unread && linger_on && linger_s > 0 && sock.nonblocking && may_block &&
        tcp->has_unsettled_send())
        return WSAEWOULDBLOCK;

    sock.closing = true;
    unregister_socket(sock);
    sock.io.detach();
    sock.events.clear();                           // no network event after close
    cancel_requests(sock, WSA_OPERATION_ABORTED);  // completion actions still run
    sock.wake();                                   // blocked calls see `closing` and return WSAEINTR

    stack& st = *sock.st;
    const bool stopped = st.stopped();
    if (tcp != nullptr) {
        if (stopped) {
            // Nothing to send on: the endpoint forgets its (freed) pcb.
        } else if ((linger_on && linger_s == 0) || unread) {
            tcp->abort();
        } else if (linger_on && connected && !sock.nonblocking && may_block) {
            tcp->start_linger();
            const std::optional<millis> deadline = st.now() + millis(1000ull * linger_s);
            // An ACK of only our FIN raises no lwIP callback: re-check on any
            // stack progress.
            const stack::wait_status ws = sock.st->wait_progress(
                lk, sock.cv, [&] { return tcp->send_settled(); }, deadline);
            if (ws == stack::wait_status::ready)
                tcp->close();
            else
                tcp->abort();  // linger timeout (or stack stop): RST before returning
        } else {
            tcp->close();
        }
    } else if (udp_endpoint* udp = sock.io.udp()) {
        udp->close();
    }
    sock.io.reset();
    return st.stopped() ? WSAENETDOWN : 0;  // also when it stopped during a linger
}

int WSPAPI WSPCloseSocket(SOCKET s, LPINT lpErrno) {
    if (lpErrno == nullptr) return SOCKET_ERROR;
    std::shared_ptr<wsp_socket> sock;
    const int e = find_socket(s, sock);
    if (e != 0 && e != WSAENETDOWN) return fail(lpErrno, e);
    wsp_socket& so = *sock;
    // The socket's own stack, running or stopped: it outlives its sockets
    // (close them, or WSPCleanup, before destroying a stack object).
    core_lock lk(*so.st);
    const int r = close_socket(lk, so, true);
    return r == 0 ? 0 : fail(lpErrno, r);
}

}  // namespace lwsp::wsp
