/*
 * lwsp/ws2spi.h - the Winsock 2 Service Provider Interface (ws2spi.h) types
 * and constants, for C (C99 or later) and C++.
 *
 * What it provides
 *   The declarations a Winsock service provider and its clients need:
 *   Win32 base types, Winsock error codes, SOL_SOCKET/IPPROTO_* levels and
 *   options, address families, socket types, ioctl codes, FD_* network
 *   events, XP1_* service flags, the Winsock address structures (sockaddr,
 *   sockaddr_in, sockaddr_in6, SOCKADDR_STORAGE, in_addr, in6_addr), linger,
 *   fd_set and its FD_* macros, timeval, WSABUF, WSAOVERLAPPED, WSATHREADID,
 *   WSANETWORKEVENTS, WSAPROTOCOL_INFOW, WSPDATA(W), FLOWSPEC/QOS, the
 *   callback types, one LPWSPxxx pointer type per WSP entry point, the
 *   WSPPROC_TABLE (30 entries) and WSPUPCALLTABLE (15 entries) in Winsock's
 *   member order, LPWSPSTARTUP and LPWPUCOMPLETEOVERLAPPEDREQUEST.
 *   It declares no functions except __WSAFDIsSet (used by FD_ISSET, which
 *   lwsp provides); the provider's own entry points are declared by
 *   lwsp/lwsp.h.
 *
 * _WIN32 versus elsewhere
 *   On Windows and Windows CE (_WIN32 defined) this header includes the
 *   system's <winsock2.h>, <ws2tcpip.h> and <ws2spi.h> and nothing else: the
 *   SDK's declarations are the real ones.
 *   Everywhere else it declares a compatible subset itself, with Winsock's
 *   names, member order and numeric values, so Winsock client and provider
 *   code compiles unchanged against lwsp.
 *
 * Sizes on LP64 systems (64-bit Linux)
 *   - DWORD, ULONG, LONG and u_long are 32 bits, as on Windows (they are not
 *     'unsigned long', which is 64 bits there).  FIONBIO/FIONREAD arguments
 *     and WSABUF.len are therefore 4 bytes, as on Windows.
 *   - Members that Winsock declares with the C type 'long' keep that type:
 *     timeval.tv_sec/tv_usec, WSANETWORKEVENTS.lNetworkEvents and the
 *     lNetworkEvents/lEvent parameters.  They are 8 bytes on LP64 and
 *     4 bytes on Windows; only their values below 2^31 are meaningful.
 *   - SOCKET, ULONG_PTR and DWORD_PTR are pointer-sized (uintptr_t);
 *     WCHAR is a 16-bit 'unsigned short' in both C and C++.
 *
 * Do not mix with POSIX socket headers
 *   Winsock and POSIX reuse the same names with different meanings:
 *   struct sockaddr (sa_family is u_short here), AF_INET6 (23 here, 10 on
 *   Linux), SO_* and SOL_SOCKET, MSG_*, FIONBIO/FIONREAD/_IOW/IOC_IN, fd_set,
 *   struct linger, INADDR_*.  A translation unit that includes this header
 *   must not include <sys/socket.h>, <netinet/in.h>, <netinet/tcp.h>,
 *   <arpa/inet.h>, <netdb.h> or <sys/ioctl.h>, before or after it; keep code
 *   that talks to the host's own sockets (e.g. a port built on Boost.Asio)
 *   in separate translation units.  This header refuses to compile if one of
 *   those was included before it.  A socket header included after it fails
 *   to compile (struct sockaddr and the SOCK_* enumerators clash), but
 *   <sys/ioctl.h> included after it does NOT fail: glibc silently replaces
 *   FIONBIO/FIONREAD with Linux's values (FIONBIO 0x5421), which lwsp then
 *   rejects at run time as an unknown ioctl.  Likewise lwIP's own
 *   socket-layer headers (lwip/sockets.h, lwip/inet.h, lwip/netdb.h)
 *   declare in_addr/sockaddr and cannot share a translation unit with this
 *   header; lwIP's raw API headers (lwip/tcp.h, lwip/udp.h, ...) can.
 *
 * Coexisting with <sys/types.h> and <sys/select.h> (glibc)
 *   With glibc, <stdlib.h> includes <sys/types.h> and <sys/select.h>
 *   whenever the BSD/GNU extensions are on (__USE_MISC: gcc's default
 *   gnu* modes, -D_DEFAULT_SOURCE/-D_GNU_SOURCE, and always in C++, where
 *   g++ and clang++ define _GNU_SOURCE).  Those define their own fd_set,
 *   FD_SETSIZE (1024), FD_SET/FD_CLR/FD_ISSET/FD_ZERO, struct timeval and
 *   u_long (64-bit).  So that the result does not depend on include order,
 *   this header includes <stdlib.h> itself first, then:
 *   - fd_set and u_long are macros naming lwsp's own types (lwsp_ws_fd_set,
 *     lwsp_ws_u_long): source code writes fd_set and u_long and gets
 *     Winsock's layouts; the C library's select() keeps its own type;
 *   - FD_SETSIZE and the FD_SET/FD_CLR/FD_ISSET/FD_ZERO macros are
 *     replaced by Winsock's;
 *   - struct timeval is the C library's if it already defined one (its
 *     members are tv_sec and tv_usec, both 'long' wide: checked below),
 *     otherwise defined here as Winsock declares it; with newlib, whose
 *     timeval has a 64-bit tv_sec, it is a macro naming lwsp's own
 *     (lwsp_ws_timeval);
 *   - u_char, u_short and u_int are the same types either way.
 *   Include <sys/time.h> or <sys/select.h> (if you need them at all)
 *   before this header, never after it.
 *
 * FD_SETSIZE
 *   Winsock's default is 64.  As with <winsock2.h>, a client may choose
 *   another size by defining FD_SETSIZE before including this header; with
 *   glibc that only works if no system header was included before the
 *   definition (glibc's <sys/select.h> redefines FD_SETSIZE).  Defining
 *   LWSP_FD_SETSIZE before including this header always works.  The
 *   provider reads fd_count entries, so clients may use any size.
 */
#ifndef LWSP_WS2SPI_H
#define LWSP_WS2SPI_H

#if defined(_WIN32)

#include <winsock2.h>
#include <ws2tcpip.h>
#include <ws2spi.h>

#else /* !_WIN32 */

#if defined(_SYS_SOCKET_H) || defined(_SYS_SOCKET_H_)
#error "lwsp/ws2spi.h: <sys/socket.h> (POSIX sockets) was included before this header. Its struct sockaddr, AF_*, SO_*, MSG_* and SOL_SOCKET conflict with Winsock's. Do not include POSIX socket headers in a translation unit that uses lwsp's Winsock declarations; keep host-socket code in a separate file."
#endif
#if defined(_NETINET_IN_H) || defined(_NETINET_IN_H_) || defined(_ARPA_INET_H) || defined(_ARPA_INET_H_) || defined(_NETDB_H) || defined(_NETDB_H_)
#error "lwsp/ws2spi.h: <netinet/in.h>, <arpa/inet.h> or <netdb.h> (POSIX sockets) was included before this header. Their in_addr, sockaddr_in, INADDR_* and IPPROTO_* conflict with Winsock's. Keep host-socket code in a separate translation unit."
#endif
#if defined(_SYS_IOCTL_H) || defined(_SYS_IOCTL_H_)
#error "lwsp/ws2spi.h: <sys/ioctl.h> was included before this header. Its FIONBIO, FIONREAD, _IO/_IOR/_IOW and IOC_IN/IOC_OUT have Linux/BSD values, not Winsock's. Keep host ioctl code in a separate translation unit."
#endif

/* A client-chosen FD_SETSIZE (Winsock style) must survive the C library's
 * <sys/select.h>, which <stdlib.h> below may pull in.  A value defined
 * after glibc's <sys/select.h> is only taken if it differs from glibc's. */
#if !defined(LWSP_FD_SETSIZE) && defined(FD_SETSIZE)
#  if !defined(_SYS_SELECT_H)
#    define LWSP_WS2SPI_CLIENT_FD_SETSIZE_ 1
#  elif defined(__FD_SETSIZE)
#    if FD_SETSIZE != __FD_SETSIZE
#      define LWSP_WS2SPI_CLIENT_FD_SETSIZE_ 1
#    endif
#  endif
#endif
#if defined(LWSP_WS2SPI_CLIENT_FD_SETSIZE_) && (defined(__GNUC__) || defined(__clang__))
#  pragma push_macro("FD_SETSIZE")
#endif

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h> /* first, on purpose: see "Coexisting with ..." above */

#if defined(LWSP_FD_SETSIZE)
#  undef FD_SETSIZE
#  define FD_SETSIZE LWSP_FD_SETSIZE
#elif defined(LWSP_WS2SPI_CLIENT_FD_SETSIZE_)
#  if defined(__GNUC__) || defined(__clang__)
#    undef FD_SETSIZE
#    pragma pop_macro("FD_SETSIZE")
#  endif
#  undef LWSP_WS2SPI_CLIENT_FD_SETSIZE_
#else
#  undef FD_SETSIZE
#  define FD_SETSIZE 64
#endif

/* The C library's select() macros, if any, do not apply to Winsock's fd_set. */
#undef FD_SET
#undef FD_CLR
#undef FD_ISSET
#undef FD_ZERO

/* Winsock's fd_set and u_long under their own names (see the top comment). */
#undef fd_set
#define fd_set lwsp_ws_fd_set
#undef u_long
#define u_long lwsp_ws_u_long

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------------ */
/* Win32 base types                                                         */
/* ------------------------------------------------------------------------ */

#define CALLBACK
#define WSAAPI
#define WSPAPI

typedef int BOOL;
typedef unsigned char BYTE;
typedef uint16_t WORD;
typedef uint32_t DWORD;
typedef int INT;
typedef unsigned int UINT;
typedef int32_t LONG;
typedef uint32_t ULONG;
typedef unsigned short USHORT;
typedef unsigned short WCHAR;          /* UTF-16 code unit, as on Windows */
typedef WCHAR *LPWSTR;
typedef const WCHAR *LPCWSTR;
typedef void *PVOID;
typedef void *LPVOID;
typedef void *HANDLE;
typedef void *HWND;
typedef intptr_t INT_PTR;
typedef uintptr_t UINT_PTR;
typedef intptr_t LONG_PTR;
typedef uintptr_t ULONG_PTR;
typedef uintptr_t DWORD_PTR;
typedef DWORD_PTR *PDWORD_PTR;
typedef UINT_PTR WPARAM;
typedef LONG_PTR LPARAM;
typedef BOOL *LPBOOL;
typedef int *LPINT;
typedef DWORD *LPDWORD;
typedef DWORD *PDWORD;

#if !defined(__u_char_defined)
/* (glibc's <sys/types.h> defines the same three types when it is present) */
typedef unsigned char u_char;
typedef unsigned short u_short;
typedef unsigned int u_int;
#endif
typedef uint32_t u_long;               /* expands to lwsp_ws_u_long: 32-bit as on Windows */

#ifndef GUID_DEFINED
#define GUID_DEFINED
typedef struct _GUID {
    DWORD Data1;
    WORD Data2;
    WORD Data3;
    BYTE Data4[8];
} GUID;
#endif
typedef GUID *LPGUID;

#ifndef FALSE
#define FALSE 0
#endif
#ifndef TRUE
#define TRUE 1
#endif

#ifndef MAKEWORD
#define MAKEWORD(low, high) ((WORD)(((BYTE)((DWORD_PTR)(low) & 0xff)) | ((WORD)((BYTE)((DWORD_PTR)(high) & 0xff))) << 8))
#endif
#ifndef LOBYTE
#define LOBYTE(w) ((BYTE)(((DWORD_PTR)(w)) & 0xff))
#endif
#ifndef HIBYTE
#define HIBYTE(w) ((BYTE)((((DWORD_PTR)(w)) >> 8) & 0xff))
#endif

/* ------------------------------------------------------------------------ */
/* Sockets, events, groups                                                  */
/* ------------------------------------------------------------------------ */

typedef UINT_PTR SOCKET;
typedef HANDLE WSAEVENT;
typedef WSAEVENT *LPWSAEVENT;
typedef unsigned int GROUP;

#define INVALID_SOCKET ((SOCKET)(~0))
#define SOCKET_ERROR (-1)
#ifndef NO_ERROR
#define NO_ERROR 0
#endif
#define WSA_INVALID_EVENT ((WSAEVENT)NULL)

/* ------------------------------------------------------------------------ */
/* Error codes                                                              */
/* ------------------------------------------------------------------------ */

#define WSABASEERR 10000
#define WSAEINTR (WSABASEERR + 4)
#define WSAEBADF (WSABASEERR + 9)
#define WSAEACCES (WSABASEERR + 13)
#define WSAEFAULT (WSABASEERR + 14)
#define WSAEINVAL (WSABASEERR + 22)
#define WSAEMFILE (WSABASEERR + 24)
#define WSAEWOULDBLOCK (WSABASEERR + 35)
#define WSAEINPROGRESS (WSABASEERR + 36)
#define WSAEALREADY (WSABASEERR + 37)
#define WSAENOTSOCK (WSABASEERR + 38)
#define WSAEDESTADDRREQ (WSABASEERR + 39)
#define WSAEMSGSIZE (WSABASEERR + 40)
#define WSAEPROTOTYPE (WSABASEERR + 41)
#define WSAENOPROTOOPT (WSABASEERR + 42)
#define WSAEPROTONOSUPPORT (WSABASEERR + 43)
#define WSAESOCKTNOSUPPORT (WSABASEERR + 44)
#define WSAEOPNOTSUPP (WSABASEERR + 45)
#define WSAEPFNOSUPPORT (WSABASEERR + 46)
#define WSAEAFNOSUPPORT (WSABASEERR + 47)
#define WSAEADDRINUSE (WSABASEERR + 48)
#define WSAEADDRNOTAVAIL (WSABASEERR + 49)
#define WSAENETDOWN (WSABASEERR + 50)
#define WSAENETUNREACH (WSABASEERR + 51)
#define WSAENETRESET (WSABASEERR + 52)
#define WSAECONNABORTED (WSABASEERR + 53)
#define WSAECONNRESET (WSABASEERR + 54)
#define WSAENOBUFS (WSABASEERR + 55)
#define WSAEISCONN (WSABASEERR + 56)
#define WSAENOTCONN (WSABASEERR + 57)
#define WSAESHUTDOWN (WSABASEERR + 58)
#define WSAETOOMANYREFS (WSABASEERR + 59)
#define WSAETIMEDOUT (WSABASEERR + 60)
#define WSAECONNREFUSED (WSABASEERR + 61)
#define WSAELOOP (WSABASEERR + 62)
#define WSAENAMETOOLONG (WSABASEERR + 63)
#define WSAEHOSTDOWN (WSABASEERR + 64)
#define WSAEHOSTUNREACH (WSABASEERR + 65)
#define WSAENOTEMPTY (WSABASEERR + 66)
#define WSAEPROCLIM (WSABASEERR + 67)
#define WSAEUSERS (WSABASEERR + 68)
#define WSAEDQUOT (WSABASEERR + 69)
#define WSAESTALE (WSABASEERR + 70)
#define WSAEREMOTE (WSABASEERR + 71)
#define WSASYSNOTREADY (WSABASEERR + 91)
#define WSAVERNOTSUPPORTED (WSABASEERR + 92)
#define WSANOTINITIALISED (WSABASEERR + 93)
#define WSAEDISCON (WSABASEERR + 101)
#define WSAENOMORE (WSABASEERR + 102)
#define WSAECANCELLED (WSABASEERR + 103)
#define WSAEINVALIDPROCTABLE (WSABASEERR + 104)
#define WSAEINVALIDPROVIDER (WSABASEERR + 105)
#define WSAEPROVIDERFAILEDINIT (WSABASEERR + 106)
#define WSASYSCALLFAILURE (WSABASEERR + 107)
#define WSASERVICE_NOT_FOUND (WSABASEERR + 108)
#define WSATYPE_NOT_FOUND (WSABASEERR + 109)
#define WSA_E_NO_MORE (WSABASEERR + 110)
#define WSA_E_CANCELLED (WSABASEERR + 111)
#define WSAEREFUSED (WSABASEERR + 112)
#define WSAHOST_NOT_FOUND (WSABASEERR + 1001)
#define WSATRY_AGAIN (WSABASEERR + 1002)
#define WSANO_RECOVERY (WSABASEERR + 1003)
#define WSANO_DATA (WSABASEERR + 1004)

/* Win32 error values that Winsock 2 reuses. */
#define WSA_INVALID_HANDLE 6
#define WSA_NOT_ENOUGH_MEMORY 8
#define WSA_INVALID_PARAMETER 87
#define WSA_OPERATION_ABORTED 995
#define WSA_IO_INCOMPLETE 996
#define WSA_IO_PENDING 997

/* Stored in WSAOVERLAPPED.Internal while an operation is pending. */
#define WSS_OPERATION_IN_PROGRESS 0x00000103

/* Wait results. */
#define WAIT_IO_COMPLETION ((DWORD)0x000000C0)
#define WSA_WAIT_FAILED ((DWORD)0xFFFFFFFF)
#define WSA_WAIT_EVENT_0 ((DWORD)0)
#define WSA_WAIT_IO_COMPLETION ((DWORD)0x000000C0)
#define WSA_WAIT_TIMEOUT ((DWORD)258)
#define WSA_MAXIMUM_WAIT_EVENTS 64
#define WSA_INFINITE ((DWORD)0xFFFFFFFF)

/* ------------------------------------------------------------------------ */
/* Levels, options, protocols, families, types                              */
/* ------------------------------------------------------------------------ */

#define SOL_SOCKET 0xffff

#define SO_DEBUG 0x0001
#define SO_ACCEPTCONN 0x0002
#define SO_REUSEADDR 0x0004
#define SO_KEEPALIVE 0x0008
#define SO_DONTROUTE 0x0010
#define SO_BROADCAST 0x0020
#define SO_USELOOPBACK 0x0040
#define SO_LINGER 0x0080
#define SO_OOBINLINE 0x0100
#define SO_DONTLINGER ((int)(~SO_LINGER))
#define SO_EXCLUSIVEADDRUSE ((int)(~SO_REUSEADDR))
#define SO_SNDBUF 0x1001
#define SO_RCVBUF 0x1002
#define SO_SNDLOWAT 0x1003
#define SO_RCVLOWAT 0x1004
#define SO_SNDTIMEO 0x1005
#define SO_RCVTIMEO 0x1006
#define SO_ERROR 0x1007
#define SO_TYPE 0x1008
#define SO_GROUP_ID 0x2001
#define SO_GROUP_PRIORITY 0x2002
#define SO_MAX_MSG_SIZE 0x2003
#define SO_PROTOCOL_INFOA 0x2004
#define SO_PROTOCOL_INFOW 0x2005
#define PVD_CONFIG 0x3001
#define SO_CONDITIONAL_ACCEPT 0x3002
#define SO_CONNECT_TIME 0x700C

#define IPPROTO_IP 0
#define IPPROTO_ICMP 1
#define IPPROTO_IGMP 2
#define IPPROTO_TCP 6
#define IPPROTO_UDP 17
#define IPPROTO_IPV6 41
#define IPPROTO_ICMPV6 58
#define IPPROTO_RAW 255

#define TCP_NODELAY 0x0001
#define IP_TTL 4
#define IPV6_UNICAST_HOPS 4
#define IPV6_V6ONLY 27

#define AF_UNSPEC 0
#define AF_INET 2
#define AF_INET6 23
#define PF_UNSPEC AF_UNSPEC
#define PF_INET AF_INET
#define PF_INET6 AF_INET6

#define SOCK_STREAM 1
#define SOCK_DGRAM 2
#define SOCK_RAW 3
#define SOCK_RDM 4
#define SOCK_SEQPACKET 5

#define FROM_PROTOCOL_INFO (-1)

#define INADDR_ANY ((u_long)0x00000000)
#define INADDR_LOOPBACK 0x7f000001
#define INADDR_BROADCAST ((u_long)0xffffffff)
#define INADDR_NONE 0xffffffff

#define SOMAXCONN 0x7fffffff

#define SD_RECEIVE 0x00
#define SD_SEND 0x01
#define SD_BOTH 0x02

#define MSG_OOB 0x1
#define MSG_PEEK 0x2
#define MSG_DONTROUTE 0x4
#define MSG_WAITALL 0x8
#define MSG_INTERRUPT 0x10
#define MSG_PARTIAL 0x8000

#define WSA_FLAG_OVERLAPPED 0x01
#define WSA_FLAG_MULTIPOINT_C_ROOT 0x02
#define WSA_FLAG_MULTIPOINT_C_LEAF 0x04
#define WSA_FLAG_MULTIPOINT_D_ROOT 0x08
#define WSA_FLAG_MULTIPOINT_D_LEAF 0x10

/* Results of a WSPAccept condition function. */
#define CF_ACCEPT 0x0000
#define CF_REJECT 0x0001
#define CF_DEFER 0x0002

/* ------------------------------------------------------------------------ */
/* Ioctl codes                                                              */
/* ------------------------------------------------------------------------ */

#define IOCPARM_MASK 0x7f
#define IOC_VOID 0x20000000
#define IOC_OUT 0x40000000
#define IOC_IN 0x80000000
#define IOC_INOUT (IOC_IN | IOC_OUT)

/* The result has type u_long (32-bit unsigned), like Windows' unsigned long. */
#define _IO(x, y) (IOC_VOID | ((u_long)(x) << 8) | (u_long)(y))
#define _IOR(x, y, t) (IOC_OUT | (((u_long)sizeof(t) & IOCPARM_MASK) << 16) | ((u_long)(x) << 8) | (u_long)(y))
#define _IOW(x, y, t) (IOC_IN | (((u_long)sizeof(t) & IOCPARM_MASK) << 16) | ((u_long)(x) << 8) | (u_long)(y))

#define FIONREAD _IOR('f', 127, u_long)     /* 0x4004667F */
#define FIONBIO _IOW('f', 126, u_long)      /* 0x8004667E */
#define SIOCATMARK _IOR('s', 7, u_long)     /* 0x40047307 */

#define IOC_UNIX 0x00000000
#define IOC_WS2 0x08000000
#define IOC_PROTOCOL 0x10000000
#define IOC_VENDOR 0x18000000

#define _WSAIO(x, y) (IOC_VOID | (x) | (y))
#define _WSAIOR(x, y) (IOC_OUT | (x) | (y))
#define _WSAIOW(x, y) (IOC_IN | (x) | (y))
#define _WSAIORW(x, y) (IOC_INOUT | (x) | (y))

#define SIO_FLUSH _WSAIO(IOC_WS2, 4)                           /* 0x28000004 */
#define SIO_GET_BROADCAST_ADDRESS _WSAIOR(IOC_WS2, 5)          /* 0x48000005 */
#define SIO_GET_EXTENSION_FUNCTION_POINTER _WSAIORW(IOC_WS2, 6) /* 0xC8000006 */
#define SIO_MULTIPOINT_LOOPBACK _WSAIOW(IOC_WS2, 9)            /* 0x88000009 */
#define SIO_MULTICAST_SCOPE _WSAIOW(IOC_WS2, 10)               /* 0x8800000A */
#define SIO_ROUTING_INTERFACE_QUERY _WSAIORW(IOC_WS2, 20)      /* 0xC8000014 */
#define SIO_ROUTING_INTERFACE_CHANGE _WSAIOW(IOC_WS2, 21)      /* 0x88000015 */
#define SIO_ADDRESS_LIST_QUERY _WSAIOR(IOC_WS2, 22)            /* 0x48000016 */
#define SIO_ADDRESS_LIST_CHANGE _WSAIO(IOC_WS2, 23)            /* 0x28000017 */

/* ------------------------------------------------------------------------ */
/* Network events (WSPEventSelect, WSPEnumNetworkEvents)                    */
/* ------------------------------------------------------------------------ */

#define FD_READ_BIT 0
#define FD_WRITE_BIT 1
#define FD_OOB_BIT 2
#define FD_ACCEPT_BIT 3
#define FD_CONNECT_BIT 4
#define FD_CLOSE_BIT 5
#define FD_QOS_BIT 6
#define FD_GROUP_QOS_BIT 7
#define FD_ROUTING_INTERFACE_CHANGE_BIT 8
#define FD_ADDRESS_LIST_CHANGE_BIT 9
#define FD_MAX_EVENTS 10

#define FD_READ (1 << FD_READ_BIT)
#define FD_WRITE (1 << FD_WRITE_BIT)
#define FD_OOB (1 << FD_OOB_BIT)
#define FD_ACCEPT (1 << FD_ACCEPT_BIT)
#define FD_CONNECT (1 << FD_CONNECT_BIT)
#define FD_CLOSE (1 << FD_CLOSE_BIT)
#define FD_QOS (1 << FD_QOS_BIT)
#define FD_GROUP_QOS (1 << FD_GROUP_QOS_BIT)
#define FD_ROUTING_INTERFACE_CHANGE (1 << FD_ROUTING_INTERFACE_CHANGE_BIT)
#define FD_ADDRESS_LIST_CHANGE (1 << FD_ADDRESS_LIST_CHANGE_BIT)
#define FD_ALL_EVENTS ((1 << FD_MAX_EVENTS) - 1)

/* ------------------------------------------------------------------------ */
/* Protocol information                                                     */
/* ------------------------------------------------------------------------ */

#define XP1_CONNECTIONLESS 0x00000001
#define XP1_GUARANTEED_DELIVERY 0x00000002
#define XP1_GUARANTEED_ORDER 0x00000004
#define XP1_MESSAGE_ORIENTED 0x00000008
#define XP1_PSEUDO_STREAM 0x00000010
#define XP1_GRACEFUL_CLOSE 0x00000020
#define XP1_EXPEDITED_DATA 0x00000040
#define XP1_CONNECT_DATA 0x00000080
#define XP1_DISCONNECT_DATA 0x00000100
#define XP1_SUPPORT_BROADCAST 0x00000200
#define XP1_SUPPORT_MULTIPOINT 0x00000400
#define XP1_MULTIPOINT_CONTROL_PLANE 0x00000800
#define XP1_MULTIPOINT_DATA_PLANE 0x00001000
#define XP1_QOS_SUPPORTED 0x00002000
#define XP1_INTERRUPT 0x00004000
#define XP1_UNI_SEND 0x00008000
#define XP1_UNI_RECV 0x00010000
#define XP1_IFS_HANDLES 0x00020000
#define XP1_PARTIAL_MESSAGE 0x00040000

#define PFL_MULTIPLE_PROTO_ENTRIES 0x00000001
#define PFL_RECOMMENDED_PROTO_ENTRY 0x00000002
#define PFL_HIDDEN 0x00000004
#define PFL_MATCHES_PROTOCOL_ZERO 0x00000008

#define BIGENDIAN 0x0000
#define LITTLEENDIAN 0x0001
#define SECURITY_PROTOCOL_NONE 0x0000

#define LAYERED_PROTOCOL 0
#define BASE_PROTOCOL 1

#define MAX_PROTOCOL_CHAIN 7
#define WSAPROTOCOL_LEN 255
#define WSPDESCRIPTION_LEN 255

/* ------------------------------------------------------------------------ */
/* Addresses                                                                */
/* ------------------------------------------------------------------------ */

typedef struct in_addr {
    union {
        struct { u_char s_b1, s_b2, s_b3, s_b4; } S_un_b;
        struct { u_short s_w1, s_w2; } S_un_w;
        u_long S_addr;
    } S_un;
} IN_ADDR, *PIN_ADDR, *LPIN_ADDR;
#define s_addr S_un.S_addr
#define s_host S_un.S_un_b.s_b2
#define s_net S_un.S_un_b.s_b1
#define s_imp S_un.S_un_w.s_w2
#define s_impno S_un.S_un_b.s_b4
#define s_lh S_un.S_un_b.s_b3

typedef struct in6_addr {
    union {
        u_char Byte[16];
        u_short Word[8];
    } u;
} IN6_ADDR, *PIN6_ADDR, *LPIN6_ADDR;
#define s6_addr u.Byte
#define s6_bytes u.Byte
#define s6_words u.Word

typedef struct sockaddr {
    u_short sa_family;
    char sa_data[14];
} SOCKADDR, *PSOCKADDR, *LPSOCKADDR;

typedef struct sockaddr_in {
    short sin_family;
    u_short sin_port;
    struct in_addr sin_addr;
    char sin_zero[8];
} SOCKADDR_IN, *PSOCKADDR_IN, *LPSOCKADDR_IN;

typedef struct sockaddr_in6 {
    short sin6_family;
    u_short sin6_port;
    u_long sin6_flowinfo;
    struct in6_addr sin6_addr;
    u_long sin6_scope_id;
} SOCKADDR_IN6, *PSOCKADDR_IN6, *LPSOCKADDR_IN6;

#define _SS_MAXSIZE 128
#define _SS_ALIGNSIZE (sizeof(int64_t))
#define _SS_PAD1SIZE (_SS_ALIGNSIZE - sizeof(short))
#define _SS_PAD2SIZE (_SS_MAXSIZE - (sizeof(short) + _SS_PAD1SIZE + _SS_ALIGNSIZE))

typedef struct sockaddr_storage {
    short ss_family;
    char __ss_pad1[_SS_PAD1SIZE];
    int64_t __ss_align;
    char __ss_pad2[_SS_PAD2SIZE];
} SOCKADDR_STORAGE, *PSOCKADDR_STORAGE, *LPSOCKADDR_STORAGE;

/* ------------------------------------------------------------------------ */
/* linger, timeval, fd_set                                                  */
/* ------------------------------------------------------------------------ */

typedef struct linger {
    u_short l_onoff;
    u_short l_linger;                  /* seconds */
} LINGER, *PLINGER, *LPLINGER;

/* newlib (firmware) defines struct timeval in its GNU modes with a 64-bit
 * time_t tv_sec: not Winsock's shape.  There, as for fd_set, the name
 * stands for lwsp's own type. */
#if defined(__NEWLIB__) && defined(_TIMEVAL_DEFINED)
#define timeval lwsp_ws_timeval
#endif
#if !defined(__timeval_defined) || (defined(__NEWLIB__) && defined(_TIMEVAL_DEFINED))
struct timeval {
    long tv_sec;                       /* 'long' as Winsock declares it */
    long tv_usec;
};
#endif
/* The C library's struct timeval, when used, must have Winsock's shape. */
typedef char lwsp_ws2spi_timeval_is_two_longs_[(sizeof(struct timeval) == 2 * sizeof(long)) ? 1 : -1];
typedef struct timeval TIMEVAL, *PTIMEVAL, *LPTIMEVAL;

typedef struct fd_set {                /* struct lwsp_ws_fd_set */
    u_int fd_count;
    SOCKET fd_array[FD_SETSIZE];
} fd_set, FD_SET, *PFD_SET, *LPFD_SET;

/* Provided by lwsp: nonzero if fd is in set. */
int WSAAPI __WSAFDIsSet(SOCKET fd, fd_set *set);

#define FD_CLR(fd, set) \
    do { \
        u_int lwsp_fd_i_; \
        for (lwsp_fd_i_ = 0; lwsp_fd_i_ < ((fd_set *)(set))->fd_count; ++lwsp_fd_i_) { \
            if (((fd_set *)(set))->fd_array[lwsp_fd_i_] == (SOCKET)(fd)) { \
                for (; lwsp_fd_i_ + 1 < ((fd_set *)(set))->fd_count; ++lwsp_fd_i_) \
                    ((fd_set *)(set))->fd_array[lwsp_fd_i_] = ((fd_set *)(set))->fd_array[lwsp_fd_i_ + 1]; \
                ((fd_set *)(set))->fd_count--; \
                break; \
            } \
        } \
    } while (0)

#define FD_SET(fd, set) \
    do { \
        u_int lwsp_fd_i_; \
        for (lwsp_fd_i_ = 0; lwsp_fd_i_ < ((fd_set *)(set))->fd_count; ++lwsp_fd_i_) { \
            if (((fd_set *)(set))->fd_array[lwsp_fd_i_] == (SOCKET)(fd)) \
                break; \
        } \
        if (lwsp_fd_i_ == ((fd_set *)(set))->fd_count && ((fd_set *)(set))->fd_count < FD_SETSIZE) { \
            ((fd_set *)(set))->fd_array[lwsp_fd_i_] = (SOCKET)(fd); \
            ((fd_set *)(set))->fd_count++; \
        } \
    } while (0)

#define FD_ZERO(set) (((fd_set *)(set))->fd_count = 0)

#define FD_ISSET(fd, set) __WSAFDIsSet((SOCKET)(fd), (fd_set *)(set))

/* ------------------------------------------------------------------------ */
/* Buffers, overlapped I/O, threads, network events                         */
/* ------------------------------------------------------------------------ */

typedef struct _WSABUF {
    u_long len;
    char *buf;
} WSABUF, *LPWSABUF;

typedef struct _OVERLAPPED {
    ULONG_PTR Internal;
    ULONG_PTR InternalHigh;
    DWORD Offset;
    DWORD OffsetHigh;
    HANDLE hEvent;
} OVERLAPPED, *LPOVERLAPPED;
typedef OVERLAPPED WSAOVERLAPPED;
typedef struct _OVERLAPPED *LPWSAOVERLAPPED;

typedef struct _WSATHREADID {
    HANDLE ThreadHandle;
    DWORD_PTR Reserved;
} WSATHREADID, *LPWSATHREADID;

typedef struct _WSANETWORKEVENTS {
    long lNetworkEvents;               /* 'long' as Winsock declares it */
    int iErrorCode[FD_MAX_EVENTS];
} WSANETWORKEVENTS, *PWSANETWORKEVENTS, *LPWSANETWORKEVENTS;

/* ------------------------------------------------------------------------ */
/* Quality of service                                                       */
/* ------------------------------------------------------------------------ */

typedef ULONG SERVICETYPE;

typedef struct _flowspec {
    ULONG TokenRate;
    ULONG TokenBucketSize;
    ULONG PeakBandwidth;
    ULONG Latency;
    ULONG DelayVariation;
    SERVICETYPE ServiceType;
    ULONG MaxSduSize;
    ULONG MinimumPolicedSize;
} FLOWSPEC, *PFLOWSPEC, *LPFLOWSPEC;

typedef struct _QualityOfService {
    FLOWSPEC SendingFlowspec;
    FLOWSPEC ReceivingFlowspec;
    WSABUF ProviderSpecific;
} QOS, *LPQOS;

/* ------------------------------------------------------------------------ */
/* Protocol and provider descriptions                                       */
/* ------------------------------------------------------------------------ */

typedef struct _WSAPROTOCOLCHAIN {
    int ChainLen;
    DWORD ChainEntries[MAX_PROTOCOL_CHAIN];
} WSAPROTOCOLCHAIN, *LPWSAPROTOCOLCHAIN;

typedef struct _WSAPROTOCOL_INFOW {
    DWORD dwServiceFlags1;
    DWORD dwServiceFlags2;
    DWORD dwServiceFlags3;
    DWORD dwServiceFlags4;
    DWORD dwProviderFlags;
    GUID ProviderId;
    DWORD dwCatalogEntryId;
    WSAPROTOCOLCHAIN ProtocolChain;
    int iVersion;
    int iAddressFamily;
    int iMaxSockAddr;
    int iMinSockAddr;
    int iSocketType;
    int iProtocol;
    int iProtocolMaxOffset;
    int iNetworkByteOrder;
    int iSecurityScheme;
    DWORD dwMessageSize;
    DWORD dwProviderReserved;
    WCHAR szProtocol[WSAPROTOCOL_LEN + 1];
} WSAPROTOCOL_INFOW, *LPWSAPROTOCOL_INFOW;

/* Windows CE names this structure WSPDATAW; the desktop SDK WSPDATA. */
typedef struct WSPData {
    WORD wVersion;
    WORD wHighVersion;
    WCHAR szDescription[WSPDESCRIPTION_LEN + 1];
} WSPDATA, *LPWSPDATA;
typedef WSPDATA WSPDATAW;
typedef WSPDATA *LPWSPDATAW;

/* ------------------------------------------------------------------------ */
/* Callback types                                                           */
/* ------------------------------------------------------------------------ */

typedef void (CALLBACK *LPWSAOVERLAPPED_COMPLETION_ROUTINE)(
    DWORD dwError, DWORD cbTransferred, LPWSAOVERLAPPED lpOverlapped, DWORD dwFlags);

typedef int (CALLBACK *LPCONDITIONPROC)(
    LPWSABUF lpCallerId, LPWSABUF lpCallerData, LPQOS lpSQOS, LPQOS lpGQOS,
    LPWSABUF lpCalleeId, LPWSABUF lpCalleeData, GROUP *g, DWORD_PTR dwCallbackData);

typedef void (CALLBACK *LPWSAUSERAPC)(DWORD_PTR dwContext);

typedef BOOL (CALLBACK *LPBLOCKINGCALLBACK)(DWORD_PTR dwContext);

/* ------------------------------------------------------------------------ */
/* Provider entry points (WSP*)                                             */
/* ------------------------------------------------------------------------ */

typedef SOCKET (WSPAPI *LPWSPACCEPT)(
    SOCKET s, struct sockaddr *addr, LPINT addrlen,
    LPCONDITIONPROC lpfnCondition, DWORD_PTR dwCallbackData, LPINT lpErrno);

typedef INT (WSPAPI *LPWSPADDRESSTOSTRING)(
    LPSOCKADDR lpsaAddress, DWORD dwAddressLength, LPWSAPROTOCOL_INFOW lpProtocolInfo,
    LPWSTR lpszAddressString, LPDWORD lpdwAddressStringLength, LPINT lpErrno);

typedef int (WSPAPI *LPWSPASYNCSELECT)(
    SOCKET s, HWND hWnd, unsigned int wMsg, long lEvent, LPINT lpErrno);

typedef int (WSPAPI *LPWSPBIND)(
    SOCKET s, const struct sockaddr *name, int namelen, LPINT lpErrno);

typedef int (WSPAPI *LPWSPCANCELBLOCKINGCALL)(LPINT lpErrno);

typedef int (WSPAPI *LPWSPCLEANUP)(LPINT lpErrno);

typedef int (WSPAPI *LPWSPCLOSESOCKET)(SOCKET s, LPINT lpErrno);

typedef int (WSPAPI *LPWSPCONNECT)(
    SOCKET s, const struct sockaddr *name, int namelen,
    LPWSABUF lpCallerData, LPWSABUF lpCalleeData, LPQOS lpSQOS, LPQOS lpGQOS,
    LPINT lpErrno);

typedef int (WSPAPI *LPWSPDUPLICATESOCKET)(
    SOCKET s, DWORD dwProcessId, LPWSAPROTOCOL_INFOW lpProtocolInfo, LPINT lpErrno);

typedef int (WSPAPI *LPWSPENUMNETWORKEVENTS)(
    SOCKET s, WSAEVENT hEventObject, LPWSANETWORKEVENTS lpNetworkEvents, LPINT lpErrno);

typedef int (WSPAPI *LPWSPEVENTSELECT)(
    SOCKET s, WSAEVENT hEventObject, long lNetworkEvents, LPINT lpErrno);

typedef BOOL (WSPAPI *LPWSPGETOVERLAPPEDRESULT)(
    SOCKET s, LPWSAOVERLAPPED lpOverlapped, LPDWORD lpcbTransfer, BOOL fWait,
    LPDWORD lpdwFlags, LPINT lpErrno);

typedef int (WSPAPI *LPWSPGETPEERNAME)(
    SOCKET s, struct sockaddr *name, LPINT namelen, LPINT lpErrno);

typedef int (WSPAPI *LPWSPGETSOCKNAME)(
    SOCKET s, struct sockaddr *name, LPINT namelen, LPINT lpErrno);

typedef int (WSPAPI *LPWSPGETSOCKOPT)(
    SOCKET s, int level, int optname, char *optval, LPINT optlen, LPINT lpErrno);

typedef BOOL (WSPAPI *LPWSPGETQOSBYNAME)(
    SOCKET s, LPWSABUF lpQOSName, LPQOS lpQOS, LPINT lpErrno);

typedef int (WSPAPI *LPWSPIOCTL)(
    SOCKET s, DWORD dwIoControlCode, LPVOID lpvInBuffer, DWORD cbInBuffer,
    LPVOID lpvOutBuffer, DWORD cbOutBuffer, LPDWORD lpcbBytesReturned,
    LPWSAOVERLAPPED lpOverlapped, LPWSAOVERLAPPED_COMPLETION_ROUTINE lpCompletionRoutine,
    LPWSATHREADID lpThreadId, LPINT lpErrno);

typedef SOCKET (WSPAPI *LPWSPJOINLEAF)(
    SOCKET s, const struct sockaddr *name, int namelen,
    LPWSABUF lpCallerData, LPWSABUF lpCalleeData, LPQOS lpSQOS, LPQOS lpGQOS,
    DWORD dwFlags, LPINT lpErrno);

typedef int (WSPAPI *LPWSPLISTEN)(SOCKET s, int backlog, LPINT lpErrno);

typedef int (WSPAPI *LPWSPRECV)(
    SOCKET s, LPWSABUF lpBuffers, DWORD dwBufferCount, LPDWORD lpNumberOfBytesRecvd,
    LPDWORD lpFlags, LPWSAOVERLAPPED lpOverlapped,
    LPWSAOVERLAPPED_COMPLETION_ROUTINE lpCompletionRoutine, LPWSATHREADID lpThreadId,
    LPINT lpErrno);

typedef int (WSPAPI *LPWSPRECVDISCONNECT)(
    SOCKET s, LPWSABUF lpInboundDisconnectData, LPINT lpErrno);

typedef int (WSPAPI *LPWSPRECVFROM)(
    SOCKET s, LPWSABUF lpBuffers, DWORD dwBufferCount, LPDWORD lpNumberOfBytesRecvd,
    LPDWORD lpFlags, struct sockaddr *lpFrom, LPINT lpFromlen,
    LPWSAOVERLAPPED lpOverlapped, LPWSAOVERLAPPED_COMPLETION_ROUTINE lpCompletionRoutine,
    LPWSATHREADID lpThreadId, LPINT lpErrno);

typedef int (WSPAPI *LPWSPSELECT)(
    int nfds, fd_set *readfds, fd_set *writefds, fd_set *exceptfds,
    const struct timeval *timeout, LPINT lpErrno);

typedef int (WSPAPI *LPWSPSEND)(
    SOCKET s, LPWSABUF lpBuffers, DWORD dwBufferCount, LPDWORD lpNumberOfBytesSent,
    DWORD dwFlags, LPWSAOVERLAPPED lpOverlapped,
    LPWSAOVERLAPPED_COMPLETION_ROUTINE lpCompletionRoutine, LPWSATHREADID lpThreadId,
    LPINT lpErrno);

typedef int (WSPAPI *LPWSPSENDDISCONNECT)(
    SOCKET s, LPWSABUF lpOutboundDisconnectData, LPINT lpErrno);

typedef int (WSPAPI *LPWSPSENDTO)(
    SOCKET s, LPWSABUF lpBuffers, DWORD dwBufferCount, LPDWORD lpNumberOfBytesSent,
    DWORD dwFlags, const struct sockaddr *lpTo, int iTolen,
    LPWSAOVERLAPPED lpOverlapped, LPWSAOVERLAPPED_COMPLETION_ROUTINE lpCompletionRoutine,
    LPWSATHREADID lpThreadId, LPINT lpErrno);

typedef int (WSPAPI *LPWSPSETSOCKOPT)(
    SOCKET s, int level, int optname, const char *optval, int optlen, LPINT lpErrno);

typedef int (WSPAPI *LPWSPSHUTDOWN)(SOCKET s, int how, LPINT lpErrno);

typedef SOCKET (WSPAPI *LPWSPSOCKET)(
    int af, int type, int protocol, LPWSAPROTOCOL_INFOW lpProtocolInfo, GROUP g,
    DWORD dwFlags, LPINT lpErrno);

typedef INT (WSPAPI *LPWSPSTRINGTOADDRESS)(
    LPWSTR AddressString, INT AddressFamily, LPWSAPROTOCOL_INFOW lpProtocolInfo,
    LPSOCKADDR lpAddress, LPINT lpAddressLength, LPINT lpErrno);

/* The 30 entry points, in Winsock's order. */
typedef struct _WSPPROC_TABLE {
    LPWSPACCEPT lpWSPAccept;
    LPWSPADDRESSTOSTRING lpWSPAddressToString;
    LPWSPASYNCSELECT lpWSPAsyncSelect;
    LPWSPBIND lpWSPBind;
    LPWSPCANCELBLOCKINGCALL lpWSPCancelBlockingCall;
    LPWSPCLEANUP lpWSPCleanup;
    LPWSPCLOSESOCKET lpWSPCloseSocket;
    LPWSPCONNECT lpWSPConnect;
    LPWSPDUPLICATESOCKET lpWSPDuplicateSocket;
    LPWSPENUMNETWORKEVENTS lpWSPEnumNetworkEvents;
    LPWSPEVENTSELECT lpWSPEventSelect;
    LPWSPGETOVERLAPPEDRESULT lpWSPGetOverlappedResult;
    LPWSPGETPEERNAME lpWSPGetPeerName;
    LPWSPGETSOCKNAME lpWSPGetSockName;
    LPWSPGETSOCKOPT lpWSPGetSockOpt;
    LPWSPGETQOSBYNAME lpWSPGetQOSByName;
    LPWSPIOCTL lpWSPIoctl;
    LPWSPJOINLEAF lpWSPJoinLeaf;
    LPWSPLISTEN lpWSPListen;
    LPWSPRECV lpWSPRecv;
    LPWSPRECVDISCONNECT lpWSPRecvDisconnect;
    LPWSPRECVFROM lpWSPRecvFrom;
    LPWSPSELECT lpWSPSelect;
    LPWSPSEND lpWSPSend;
    LPWSPSENDDISCONNECT lpWSPSendDisconnect;
    LPWSPSENDTO lpWSPSendTo;
    LPWSPSETSOCKOPT lpWSPSetSockOpt;
    LPWSPSHUTDOWN lpWSPShutdown;
    LPWSPSOCKET lpWSPSocket;
    LPWSPSTRINGTOADDRESS lpWSPStringToAddress;
} WSPPROC_TABLE, *LPWSPPROC_TABLE;

/* ------------------------------------------------------------------------ */
/* Upcalls (WPU*) supplied by ws2 to the provider                           */
/* ------------------------------------------------------------------------ */

typedef BOOL (WSPAPI *LPWPUCLOSEEVENT)(WSAEVENT hEvent, LPINT lpErrno);

typedef int (WSPAPI *LPWPUCLOSESOCKETHANDLE)(SOCKET s, LPINT lpErrno);

typedef WSAEVENT (WSPAPI *LPWPUCREATEEVENT)(LPINT lpErrno);

typedef SOCKET (WSPAPI *LPWPUCREATESOCKETHANDLE)(
    DWORD dwCatalogEntryId, DWORD_PTR dwContext, LPINT lpErrno);

typedef int (WSPAPI *LPWPUFDISSET)(SOCKET s, fd_set *fdset);

typedef int (WSPAPI *LPWPUGETPROVIDERPATH)(
    LPGUID lpProviderId, WCHAR *lpszProviderDllPath, LPINT lpProviderDllPathLen,
    LPINT lpErrno);

typedef SOCKET (WSPAPI *LPWPUMODIFYIFSHANDLE)(
    DWORD dwCatalogEntryId, SOCKET ProposedHandle, LPINT lpErrno);

typedef BOOL (WSPAPI *LPWPUPOSTMESSAGE)(HWND hWnd, UINT Msg, WPARAM wParam, LPARAM lParam);

typedef int (WSPAPI *LPWPUQUERYBLOCKINGCALLBACK)(
    DWORD dwCatalogEntryId, LPBLOCKINGCALLBACK *lplpfnCallback, PDWORD_PTR lpdwContext,
    LPINT lpErrno);

typedef int (WSPAPI *LPWPUQUERYSOCKETHANDLECONTEXT)(
    SOCKET s, PDWORD_PTR lpContext, LPINT lpErrno);

typedef int (WSPAPI *LPWPUQUEUEAPC)(
    LPWSATHREADID lpThreadId, LPWSAUSERAPC lpfnUserApc, DWORD_PTR dwContext, LPINT lpErrno);

typedef BOOL (WSPAPI *LPWPURESETEVENT)(WSAEVENT hEvent, LPINT lpErrno);

typedef BOOL (WSPAPI *LPWPUSETEVENT)(WSAEVENT hEvent, LPINT lpErrno);

typedef int (WSPAPI *LPWPUOPENCURRENTTHREAD)(LPWSATHREADID lpThreadId, LPINT lpErrno);

typedef int (WSPAPI *LPWPUCLOSETHREAD)(LPWSATHREADID lpThreadId, LPINT lpErrno);

/* Not in the upcall table: ws2 exports it directly. */
typedef int (WSPAPI *LPWPUCOMPLETEOVERLAPPEDREQUEST)(
    SOCKET s, LPWSAOVERLAPPED lpOverlapped, DWORD dwError, DWORD cbTransferred,
    LPINT lpErrno);

/* The 15 upcalls, in Winsock's order. */
typedef struct _WSPUPCALLTABLE {
    LPWPUCLOSEEVENT lpWPUCloseEvent;
    LPWPUCLOSESOCKETHANDLE lpWPUCloseSocketHandle;
    LPWPUCREATEEVENT lpWPUCreateEvent;
    LPWPUCREATESOCKETHANDLE lpWPUCreateSocketHandle;
    LPWPUFDISSET lpWPUFDIsSet;
    LPWPUGETPROVIDERPATH lpWPUGetProviderPath;
    LPWPUMODIFYIFSHANDLE lpWPUModifyIFSHandle;
    LPWPUPOSTMESSAGE lpWPUPostMessage;
    LPWPUQUERYBLOCKINGCALLBACK lpWPUQueryBlockingCallback;
    LPWPUQUERYSOCKETHANDLECONTEXT lpWPUQuerySocketHandleContext;
    LPWPUQUEUEAPC lpWPUQueueApc;
    LPWPURESETEVENT lpWPUResetEvent;
    LPWPUSETEVENT lpWPUSetEvent;
    LPWPUOPENCURRENTTHREAD lpWPUOpenCurrentThread;
    LPWPUCLOSETHREAD lpWPUCloseThread;
} WSPUPCALLTABLE, *LPWSPUPCALLTABLE;

/* WSPStartup: the upcall table is passed by value. */
typedef int (WSPAPI *LPWSPSTARTUP)(
    WORD wVersionRequested, LPWSPDATA lpWSPData, LPWSAPROTOCOL_INFOW lpProtocolInfo,
    WSPUPCALLTABLE UpcallTable, LPWSPPROC_TABLE lpProcTable);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* !_WIN32 */

#endif /* LWSP_WS2SPI_H */
