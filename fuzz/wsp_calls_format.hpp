// wsp_calls_format.hpp — the input layout of fuzz_wsp_calls, shared by the
// harness and the seed generator (make_corpus.cpp).  Integers are
// little-endian (common/input.hpp).
//
//   input  := record*
//   record := u8 what (call), u8 flags (bit 0: lpErrno NULL; bit 1: no peer
//             turn after the call), then the call's arguments, in the order
//             the list below gives, each in one of these encodings:
//
//   handle   u8 kind, u8 index: kind % 8 = 0-3 an open socket (index modulo
//            their number), 4 a closed one, 5 u32 follows (made up),
//            6 INVALID_SOCKET, 7 an open socket's handle of another generation
//   pick     u8: below the table's size an entry of the call's table, 0xFF a
//            u32 follows (any int), anything else the small number v - size
//   sockaddr u8 family (0 AF_INET, 1 AF_INET6, 2 AF_UNSPEC, 3 u16 follows),
//            u8 address (addr4[]/addr6[] of the harness), u16 port (below 16:
//            ports[]), u8 length mode (0 exact, 1 u8 shorter length follows,
//            2 NULL pointer, 3 a SOCKADDR_STORAGE, 4 length -1), u32 scope id
//            (IPv6) or sin_zero (IPv4)
//   outname  u8: 0 NULL and NULL, 1 a SOCKADDR_STORAGE, 2 u8 size follows,
//            3 length pointer NULL, 4 buffer NULL, 5 length -1
//   wsabufs  u8 count (bits 0-2; bit 7: the array pointer NULL), then per
//            buffer u16 length, u8 flags (bit 0: buf NULL)
//   ov       u8: % 4 = 0 NULL, 1 with an event (u8 event), 2 with a
//            completion routine (u8 thread), 3 both (u8 event, u8 thread)
//   event    u8 % 6: 0 NULL, 1-3 valid events, 4 a closed event, 5 u32 follows
//   thread   u8 % 4: 0 NULL, 1 a valid WSATHREADID, 2 a closed one, 3 u32
//   timeval  u8 % 4: 0 NULL, 1 zero, 2 u32 u32 u32 u32 (tv_sec, tv_usec as
//            64-bit values), 3 u8 seconds, u32 microseconds
//   fdset    u8: 0 NULL, else (v - 1) % 101 handles follow (more than
//            FD_SETSIZE: ws2spi.h lets a client use any size)
//   ptrs     u8 of "this pointer is NULL" bits, per call
//
// calls (what):
//   socket      pick af, pick type, pick protocol, u8 protocol info (0 none,
//               else three picks: af, type, protocol), pick group, pick flags
//   bind        handle, sockaddr            listen   handle, pick backlog
//   accept      handle, outname, u8 condition (0 none, 1 accept, 2 reject,
//               3 defer, 4 an undefined verdict)
//   connect     handle, sockaddr, u8 extras (bit 0: caller data, bit 1:
//               callee data, bit 2: SQOS, bit 3: GQOS)
//   send        handle, wsabufs, pick flags, ptrs (bit 0 count), ov
//   sendto      handle, wsabufs, pick flags, sockaddr, ptrs, ov
//   recv        handle, wsabufs, pick flags, ptrs (bit 0 count, bit 1 flags), ov
//   recvfrom    handle, wsabufs, pick flags, outname, ptrs, ov
//   shutdown    handle, pick how        close   handle
//   getsockopt  handle, pick level, pick name, u8 size, u8 length mode
//               (0 the size, 1 NULL, 2 pick follows)
//   setsockopt  handle, pick level, pick name, u8 size (0: NULL), u8 content
//               (0 zeros, 1 u32, 2 u16 u16 (linger), 3 bytes), pick length
//               (entry 0: the size)
//   ioctl       handle, pick code, u8 in size (0: NULL), u32 in value, u8 out
//               size (0: NULL), ptrs (bit 0 returned), ov
//   select      fdset read, fdset write, fdset except, timeval
//   event_select handle, event, pick events
//   enum_events handle, event, ptrs (bit 0 the structure)
//   ov_result   handle, u8 which (0 NULL, 1 a fresh OVERLAPPED, else one
//               used before), ptrs (bit 0 bytes, bit 1 flags), u8 fWait
//   sockname / peername   handle, outname
//   addr_to_str sockaddr, u8 output characters (0: NULL)
//   str_to_addr pick family, u8 output bytes, blob8 text
//   cancel      (nothing)         startup  u16 version, ptrs (bit 0 data,
//   cleanup     (nothing)                  bit 1 proc table; bit 2: protocol info given)
//   unsupported u8 which, handle
//   peer        u8 action (peer_action), u8 index, u16 argument
//   clock       u16: below 50000 milliseconds, else (v - 50000) seconds
//   alertable   (nothing): run queued completion routines
//   hook        u8 mode (hook_mode), u16 milliseconds, u8 inner call: how the
//               blocking hook behaves from now on
#pragma once

#include <cstdint>
#include <vector>

#include "common/input.hpp"

namespace lwsp::fuzz::wsp_calls {

enum what : std::uint8_t {
    c_socket,
    c_bind,
    c_listen,
    c_accept,
    c_connect,
    c_send,
    c_sendto,
    c_recv,
    c_recvfrom,
    c_shutdown,
    c_close,
    c_getsockopt,
    c_setsockopt,
    c_ioctl,
    c_select,
    c_event_select,
    c_enum_events,
    c_ov_result,
    c_sockname,
    c_peername,
    c_addr_to_str,
    c_str_to_addr,
    c_cancel,
    c_startup,
    c_cleanup,
    c_unsupported,
    w_peer,
    w_clock,
    w_alertable,
    w_hook,
    what_count
};
constexpr std::uint8_t rec_null_errno = 0x01, rec_no_turn = 0x02;

enum peer_action : std::uint8_t {
    p_connect,
    p_send,
    p_close,
    p_reset,
    p_udp,
    p_silent,
    p_zero_window,
    peer_action_count
};
// What the blocking hook does once the peer has had its turn and the call
// still cannot finish.
enum hook_mode : std::uint8_t {
    h_cancel,       // returns FALSE: the call fails WSAEINTR
    h_cancel_call,  // calls WSPCancelBlockingCall, returns TRUE
    h_inner_call,   // makes a WSP call (it must fail WSAEINPROGRESS), returns FALSE
    h_advance,      // moves the clock by its milliseconds; returns TRUE when that
                    // passes the call's SO_RCVTIMEO/SO_SNDTIMEO (WSAETIMEDOUT)
    hook_mode_count
};

// Handle kinds.
constexpr std::uint8_t hk_open = 0, hk_closed = 4, hk_made_up = 5, hk_invalid = 6, hk_other_generation = 7;

// ---- writing records (the seed generator) ---------------------------------

inline void rec(output& o, what w, std::uint8_t flags = 0) { o.u8(w).u8(flags); }
inline void handle(output& o, std::uint8_t index, std::uint8_t kind = hk_open) { o.u8(kind).u8(index); }
// A sockaddr of the harness's address tables, exact length.
inline void sockaddr_arg(output& o, bool v6, std::uint8_t addr, std::uint16_t port, std::uint8_t len_mode = 0,
                         std::uint32_t extra = 0) {
    o.u8(v6 ? 1 : 0).u8(addr).u16(port).u8(len_mode);
    o.u32(extra);
}
inline void wsabufs(output& o, const std::vector<std::uint16_t>& lens) {
    o.u8(static_cast<unsigned>(lens.size()));
    for (std::uint16_t l : lens) o.u16(l).u8(0);
}

}  // namespace lwsp::fuzz::wsp_calls
