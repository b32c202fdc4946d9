// Internal: the asynchronous half of the provider (async.cpp) — overlapped
// operations and WSPEventSelect's network-event record — and the one-shot
// I/O steps (io_calls.cpp) that both the blocking calls and the overlapped
// operations are built from.
#pragma once

#include <memory>

#include "provider.hpp"

namespace lwsp::wsp {

// ---- one-shot I/O (io_calls.cpp); core lock held; never block -------------
// Receives into `bufs`; returns 0, WSAEMSGSIZE (datagram truncated: `got`
// bytes delivered), WSAEWOULDBLOCK, or another error.  0 with got == 0 on a
// stream is the peer's FIN.
int recv_once(wsp_socket& sock, const WSABUF* bufs, DWORD count, std::size_t total, bool peek, sock_address* from,
              DWORD& got);
// Sends from `bufs` starting `offset` bytes in; returns 0 with `sent` > 0,
// WSAEWOULDBLOCK, or another error.  UDP: one datagram (`to` may be null).
int send_once(wsp_socket& sock, const WSABUF* bufs, DWORD count, std::size_t total, std::size_t offset,
              const sock_address* to, DWORD& sent);

// ---- overlapped operations (async.cpp) -------------------------------------
// Describes an overlapped call.  With a completion routine and no thread id
// (a direct caller rather than ws2) the calling thread is opened through
// WPUOpenCurrentThread.  Returns 0 or WSAEINVAL.
int make_overlapped_op(bool is_recv, const WSABUF* bufs, DWORD count, std::size_t total, LPWSAOVERLAPPED ov,
                       LPWSAOVERLAPPED_COMPLETION_ROUTINE routine, LPWSATHREADID thread,
                       std::unique_ptr<overlapped_op>& out);
// Completes an operation that finished inside its call (ioctls).
void complete_at_once(wsp_socket& sock, overlapped_op& op, DWORD bytes);
// Starts an overlapped operation.  Returns 0 when it completed at once
// (*bytes written, completion action queued), WSA_IO_PENDING when it will
// complete later, or an error (no completion indication at all).
int submit_overlapped(core_lock& lk, wsp_socket& sock, std::unique_ptr<overlapped_op> op, const sock_address* to,
                      LPDWORD bytes);
// Completes every pending operation of `sock` with `error`
// (WSA_OPERATION_ABORTED on close); the completion actions still happen.
void cancel_overlapped(wsp_socket& sock, int error);

// ---- network events (async.cpp) ---------------------------------------------
// Re-enabling calls: a receive, a send that failed WSAEWOULDBLOCK, an accept.
void after_recv(wsp_socket& sock);
void after_send_would_block(wsp_socket& sock);
void after_accept(wsp_socket& listener);
// Gives a just-accepted socket the listener's registration and records what
// is already true for it.
void inherit_event_select(const wsp_socket& listener, wsp_socket& accepted);
// Drops the registration (close).
void clear_event_select(wsp_socket& sock);

// Notified on every completion; WSPGetOverlappedResult waits on it.
std::condition_variable& completion_cv();

}  // namespace lwsp::wsp
