/*
 * Compile-time checks (C11) that lwsp/ws2spi.h reproduces Winsock's layouts
 * and values on LP64 Linux.  The common C headers come first on purpose:
 * with glibc in GNU mode <stdlib.h> brings in <sys/types.h> and
 * <sys/select.h>, and the header must still compile and give Winsock's
 * fd_set, FD_SETSIZE, u_long and timeval.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdint.h>
#include <stddef.h>

#include <lwsp/ws2spi.h>

#define PTR sizeof(void *)

/* Base types */
_Static_assert(sizeof(BYTE) == 1, "BYTE");
_Static_assert(sizeof(WORD) == 2, "WORD");
_Static_assert(sizeof(DWORD) == 4, "DWORD is 32-bit, as on Windows");
_Static_assert(sizeof(LONG) == 4 && sizeof(ULONG) == 4, "LONG/ULONG are 32-bit");
_Static_assert(sizeof(u_long) == 4, "u_long is 32-bit, as on Windows");
_Static_assert(sizeof(u_short) == 2 && sizeof(u_char) == 1 && sizeof(u_int) == 4, "u_*");
_Static_assert(sizeof(WCHAR) == 2, "WCHAR is a UTF-16 unit");
_Static_assert(sizeof(BOOL) == sizeof(int), "BOOL");
_Static_assert(sizeof(SOCKET) == PTR, "SOCKET is pointer-sized");
_Static_assert(sizeof(ULONG_PTR) == PTR && sizeof(DWORD_PTR) == PTR, "*_PTR");
_Static_assert(sizeof(HANDLE) == PTR && sizeof(WSAEVENT) == PTR, "HANDLE");
_Static_assert(sizeof(GROUP) == 4, "GROUP");
_Static_assert(sizeof(GUID) == 16, "GUID");
_Static_assert((DWORD)-1 > 0 && (u_long)-1 > 0, "DWORD/u_long unsigned");

/* Addresses */
_Static_assert(sizeof(struct in_addr) == 4, "in_addr");
_Static_assert(sizeof(struct in6_addr) == 16, "in6_addr");
_Static_assert(sizeof(struct sockaddr) == 16, "sockaddr");
_Static_assert(offsetof(struct sockaddr, sa_data) == 2, "sockaddr.sa_data");
_Static_assert(sizeof(struct sockaddr_in) == 16, "sockaddr_in");
_Static_assert(offsetof(struct sockaddr_in, sin_port) == 2, "sin_port");
_Static_assert(offsetof(struct sockaddr_in, sin_addr) == 4, "sin_addr");
_Static_assert(offsetof(struct sockaddr_in, sin_zero) == 8, "sin_zero");
_Static_assert(sizeof(struct sockaddr_in6) == 28, "sockaddr_in6");
_Static_assert(offsetof(struct sockaddr_in6, sin6_flowinfo) == 4, "sin6_flowinfo");
_Static_assert(offsetof(struct sockaddr_in6, sin6_addr) == 8, "sin6_addr");
_Static_assert(offsetof(struct sockaddr_in6, sin6_scope_id) == 24, "sin6_scope_id");
_Static_assert(sizeof(SOCKADDR_STORAGE) == 128, "SOCKADDR_STORAGE");
_Static_assert(offsetof(SOCKADDR_STORAGE, ss_family) == 0, "ss_family first");

/* linger, timeval, fd_set */
_Static_assert(sizeof(struct linger) == 4, "linger is two u_shorts");
_Static_assert(offsetof(struct linger, l_linger) == 2, "l_linger");
_Static_assert(sizeof(struct timeval) == 2 * sizeof(long), "timeval is two longs");
_Static_assert(FD_SETSIZE == 64, "Winsock's default FD_SETSIZE");
_Static_assert(offsetof(fd_set, fd_count) == 0, "fd_count first");
_Static_assert(offsetof(fd_set, fd_array) == sizeof(SOCKET), "fd_array after padded count");
_Static_assert(sizeof(((fd_set *)0)->fd_array) == FD_SETSIZE * sizeof(SOCKET), "fd_array size");

/* Buffers, overlapped, threads, events, QoS */
_Static_assert(offsetof(WSABUF, len) == 0, "WSABUF.len first");
_Static_assert(offsetof(WSABUF, buf) == PTR, "WSABUF.buf");
_Static_assert(sizeof(WSABUF) == 2 * PTR, "WSABUF");
_Static_assert(offsetof(WSAOVERLAPPED, InternalHigh) == PTR, "InternalHigh");
_Static_assert(offsetof(WSAOVERLAPPED, Offset) == 2 * PTR, "Offset");
_Static_assert(offsetof(WSAOVERLAPPED, OffsetHigh) == 2 * PTR + 4, "OffsetHigh");
_Static_assert(offsetof(WSAOVERLAPPED, hEvent) == 2 * PTR + 8, "hEvent");
_Static_assert(sizeof(WSAOVERLAPPED) == 3 * PTR + 8, "WSAOVERLAPPED");
_Static_assert(sizeof(WSATHREADID) == 2 * PTR, "WSATHREADID");
_Static_assert(offsetof(WSANETWORKEVENTS, iErrorCode) == sizeof(long), "iErrorCode");
_Static_assert(sizeof(((WSANETWORKEVENTS *)0)->iErrorCode) == 10 * sizeof(int), "iErrorCode[10]");
_Static_assert(sizeof(FLOWSPEC) == 32, "FLOWSPEC is 8 ULONGs");
_Static_assert(offsetof(QOS, ReceivingFlowspec) == 32, "QOS.ReceivingFlowspec");
_Static_assert(offsetof(QOS, ProviderSpecific) == 64, "QOS.ProviderSpecific");

/* Protocol and provider descriptions */
_Static_assert(sizeof(WSAPROTOCOLCHAIN) == 4 + 7 * 4, "WSAPROTOCOLCHAIN");
_Static_assert(offsetof(WSAPROTOCOL_INFOW, ProviderId) == 20, "ProviderId");
_Static_assert(offsetof(WSAPROTOCOL_INFOW, dwCatalogEntryId) == 36, "dwCatalogEntryId");
_Static_assert(offsetof(WSAPROTOCOL_INFOW, ProtocolChain) == 40, "ProtocolChain");
_Static_assert(offsetof(WSAPROTOCOL_INFOW, iVersion) == 72, "iVersion");
_Static_assert(offsetof(WSAPROTOCOL_INFOW, dwMessageSize) == 108, "dwMessageSize");
_Static_assert(offsetof(WSAPROTOCOL_INFOW, szProtocol) == 116, "szProtocol");
_Static_assert(sizeof(WSAPROTOCOL_INFOW) == 628, "WSAPROTOCOL_INFOW (628 on Windows too)");
_Static_assert(sizeof(WSPDATA) == 4 + 2 * 256, "WSPDATA");
#if !defined(_WIN32) /* lwsp's alias; the SDK names only WSPDATA */
_Static_assert(sizeof(WSPDATAW) == sizeof(WSPDATA), "WSPDATAW alias");
#endif

/* Dispatch tables: size and every member's position */
_Static_assert(sizeof(WSPPROC_TABLE) == 30 * PTR, "WSPPROC_TABLE has 30 entries");
_Static_assert(sizeof(WSPUPCALLTABLE) == 15 * PTR, "WSPUPCALLTABLE has 15 entries");

#define AT(type, member, index) \
    _Static_assert(offsetof(type, member) == (index) * PTR, #type "." #member " position")
AT(WSPPROC_TABLE, lpWSPAccept, 0);
AT(WSPPROC_TABLE, lpWSPAddressToString, 1);
AT(WSPPROC_TABLE, lpWSPAsyncSelect, 2);
AT(WSPPROC_TABLE, lpWSPBind, 3);
AT(WSPPROC_TABLE, lpWSPCancelBlockingCall, 4);
AT(WSPPROC_TABLE, lpWSPCleanup, 5);
AT(WSPPROC_TABLE, lpWSPCloseSocket, 6);
AT(WSPPROC_TABLE, lpWSPConnect, 7);
AT(WSPPROC_TABLE, lpWSPDuplicateSocket, 8);
AT(WSPPROC_TABLE, lpWSPEnumNetworkEvents, 9);
AT(WSPPROC_TABLE, lpWSPEventSelect, 10);
AT(WSPPROC_TABLE, lpWSPGetOverlappedResult, 11);
AT(WSPPROC_TABLE, lpWSPGetPeerName, 12);
AT(WSPPROC_TABLE, lpWSPGetSockName, 13);
AT(WSPPROC_TABLE, lpWSPGetSockOpt, 14);
AT(WSPPROC_TABLE, lpWSPGetQOSByName, 15);
AT(WSPPROC_TABLE, lpWSPIoctl, 16);
AT(WSPPROC_TABLE, lpWSPJoinLeaf, 17);
AT(WSPPROC_TABLE, lpWSPListen, 18);
AT(WSPPROC_TABLE, lpWSPRecv, 19);
AT(WSPPROC_TABLE, lpWSPRecvDisconnect, 20);
AT(WSPPROC_TABLE, lpWSPRecvFrom, 21);
AT(WSPPROC_TABLE, lpWSPSelect, 22);
AT(WSPPROC_TABLE, lpWSPSend, 23);
AT(WSPPROC_TABLE, lpWSPSendDisconnect, 24);
AT(WSPPROC_TABLE, lpWSPSendTo, 25);
AT(WSPPROC_TABLE, lpWSPSetSockOpt, 26);
AT(WSPPROC_TABLE, lpWSPShutdown, 27);
AT(WSPPROC_TABLE, lpWSPSocket, 28);
AT(WSPPROC_TABLE, lpWSPStringToAddress, 29);

AT(WSPUPCALLTABLE, lpWPUCloseEvent, 0);
AT(WSPUPCALLTABLE, lpWPUCloseSocketHandle, 1);
AT(WSPUPCALLTABLE, lpWPUCreateEvent, 2);
AT(WSPUPCALLTABLE, lpWPUCreateSocketHandle, 3);
AT(WSPUPCALLTABLE, lpWPUFDIsSet, 4);
AT(WSPUPCALLTABLE, lpWPUGetProviderPath, 5);
AT(WSPUPCALLTABLE, lpWPUModifyIFSHandle, 6);
AT(WSPUPCALLTABLE, lpWPUPostMessage, 7);
AT(WSPUPCALLTABLE, lpWPUQueryBlockingCallback, 8);
AT(WSPUPCALLTABLE, lpWPUQuerySocketHandleContext, 9);
AT(WSPUPCALLTABLE, lpWPUQueueApc, 10);
AT(WSPUPCALLTABLE, lpWPUResetEvent, 11);
AT(WSPUPCALLTABLE, lpWPUSetEvent, 12);
AT(WSPUPCALLTABLE, lpWPUOpenCurrentThread, 13);
AT(WSPUPCALLTABLE, lpWPUCloseThread, 14);
#undef AT

/* Values */
_Static_assert(WSABASEERR == 10000, "WSABASEERR");
_Static_assert(WSAEINTR == 10004, "WSAEINTR");
_Static_assert(WSAEFAULT == 10014, "WSAEFAULT");
_Static_assert(WSAEINVAL == 10022, "WSAEINVAL");
_Static_assert(WSAEWOULDBLOCK == 10035, "WSAEWOULDBLOCK");
_Static_assert(WSAENOTSOCK == 10038, "WSAENOTSOCK");
_Static_assert(WSAECONNABORTED == 10053, "WSAECONNABORTED");
_Static_assert(WSAECONNRESET == 10054, "WSAECONNRESET");
_Static_assert(WSAEPROCLIM == 10067, "WSAEPROCLIM");
_Static_assert(WSASYSNOTREADY == 10091, "WSASYSNOTREADY");
_Static_assert(WSANOTINITIALISED == 10093, "WSANOTINITIALISED");
_Static_assert(WSAEDISCON == 10101, "WSAEDISCON");
_Static_assert(WSASYSCALLFAILURE == 10107, "WSASYSCALLFAILURE");
_Static_assert(WSA_E_NO_MORE == 10110, "WSA_E_NO_MORE");
_Static_assert(WSAEREFUSED == 10112, "WSAEREFUSED");
_Static_assert(WSAHOST_NOT_FOUND == 11001, "WSAHOST_NOT_FOUND");
_Static_assert(WSANO_DATA == 11004, "WSANO_DATA");
_Static_assert(WSA_INVALID_HANDLE == 6 && WSA_NOT_ENOUGH_MEMORY == 8 && WSA_INVALID_PARAMETER == 87,
               "Win32-aliased errors");
_Static_assert(WSA_OPERATION_ABORTED == 995 && WSA_IO_INCOMPLETE == 996 && WSA_IO_PENDING == 997,
               "overlapped errors");
_Static_assert(WSS_OPERATION_IN_PROGRESS == 0x103, "WSS_OPERATION_IN_PROGRESS");
_Static_assert(WSA_WAIT_FAILED == 0xFFFFFFFFu && WSA_INFINITE == 0xFFFFFFFFu, "WSA_WAIT_FAILED/INFINITE");
_Static_assert(WSA_WAIT_EVENT_0 == 0 && WSA_WAIT_IO_COMPLETION == 0xC0 && WSA_WAIT_TIMEOUT == 258,
               "WSA_WAIT_*");
_Static_assert(WSA_MAXIMUM_WAIT_EVENTS == 64, "WSA_MAXIMUM_WAIT_EVENTS");
_Static_assert(SOCKET_ERROR == -1, "SOCKET_ERROR");
_Static_assert(INVALID_SOCKET == (SOCKET)UINTPTR_MAX, "INVALID_SOCKET");

_Static_assert(SOL_SOCKET == 0xffff, "SOL_SOCKET");
_Static_assert(SO_LINGER == 0x0080 && SO_REUSEADDR == 0x0004, "SO_LINGER/SO_REUSEADDR");
_Static_assert(SO_DONTLINGER == (int)(~SO_LINGER), "SO_DONTLINGER");
_Static_assert(SO_DONTLINGER == -129, "SO_DONTLINGER value");
_Static_assert(SO_EXCLUSIVEADDRUSE == -5, "SO_EXCLUSIVEADDRUSE");
_Static_assert(SO_SNDBUF == 0x1001 && SO_RCVTIMEO == 0x1006 && SO_ERROR == 0x1007 && SO_TYPE == 0x1008,
               "SO_* 0x100x");
_Static_assert(SO_MAX_MSG_SIZE == 0x2003 && SO_PROTOCOL_INFOW == 0x2005, "SO_* 0x200x");
_Static_assert(SO_CONDITIONAL_ACCEPT == 0x3002, "SO_CONDITIONAL_ACCEPT");
_Static_assert(IPPROTO_TCP == 6 && IPPROTO_UDP == 17 && IPPROTO_IPV6 == 41 && IPPROTO_ICMPV6 == 58,
               "IPPROTO_*");
_Static_assert(TCP_NODELAY == 1 && IP_TTL == 4 && IPV6_V6ONLY == 27 && IPV6_UNICAST_HOPS == 4,
               "protocol options");
_Static_assert(AF_INET == 2, "AF_INET");
_Static_assert(AF_INET6 == 23, "AF_INET6 is 23 in Winsock");
_Static_assert(PF_INET6 == AF_INET6, "PF_INET6");
_Static_assert(SOCK_STREAM == 1 && SOCK_DGRAM == 2 && SOCK_RAW == 3, "SOCK_*");
_Static_assert(FROM_PROTOCOL_INFO == -1, "FROM_PROTOCOL_INFO");
_Static_assert(INADDR_LOOPBACK == 0x7f000001 && INADDR_BROADCAST == 0xffffffffu, "INADDR_*");
_Static_assert(SOMAXCONN == 0x7fffffff, "SOMAXCONN");
_Static_assert(SD_RECEIVE == 0 && SD_SEND == 1 && SD_BOTH == 2, "SD_*");
_Static_assert(MSG_OOB == 1 && MSG_PEEK == 2 && MSG_WAITALL == 8 && MSG_PARTIAL == 0x8000, "MSG_*");
_Static_assert(WSA_FLAG_OVERLAPPED == 1, "WSA_FLAG_OVERLAPPED");

_Static_assert((uint32_t)FIONBIO == 0x8004667Eu, "FIONBIO");
#if !defined(_WIN32) /* LP64: long is 64 bits, and lwsp's FIONBIO still equals Winsock's */
_Static_assert(FIONBIO == (long)0x8004667E, "FIONBIO, as a 64-bit long");
#endif
_Static_assert(sizeof(FIONBIO) == 4, "FIONBIO is a 32-bit u_long, as on Windows");
_Static_assert(FIONREAD == 0x4004667F, "FIONREAD");
_Static_assert(SIOCATMARK == 0x40047307, "SIOCATMARK");
_Static_assert(SIO_FLUSH == 0x28000004, "SIO_FLUSH");
_Static_assert(SIO_GET_EXTENSION_FUNCTION_POINTER == 0xC8000006u, "SIO_GET_EXTENSION_FUNCTION_POINTER");
_Static_assert(SIO_ADDRESS_LIST_QUERY == 0x48000016, "SIO_ADDRESS_LIST_QUERY");
_Static_assert(SIO_GET_BROADCAST_ADDRESS == 0x48000005, "SIO_GET_BROADCAST_ADDRESS");
_Static_assert(SIO_ROUTING_INTERFACE_QUERY == 0xC8000014u, "SIO_ROUTING_INTERFACE_QUERY");

_Static_assert(FD_READ == 0x01 && FD_WRITE == 0x02 && FD_OOB == 0x04 && FD_ACCEPT == 0x08, "FD_*");
_Static_assert(FD_CONNECT == 0x10 && FD_CLOSE == 0x20 && FD_QOS == 0x40 && FD_GROUP_QOS == 0x80, "FD_*");
_Static_assert(FD_ROUTING_INTERFACE_CHANGE == 0x100 && FD_ADDRESS_LIST_CHANGE == 0x200, "FD_*");
_Static_assert(FD_CONNECT_BIT == 4 && FD_CLOSE_BIT == 5 && FD_MAX_EVENTS == 10, "FD_*_BIT");
_Static_assert(FD_ALL_EVENTS == 0x3FF, "FD_ALL_EVENTS");

_Static_assert(XP1_CONNECTIONLESS == 0x1 && XP1_GRACEFUL_CLOSE == 0x20 && XP1_IFS_HANDLES == 0x20000,
               "XP1_*");
_Static_assert(XP1_QOS_SUPPORTED == 0x2000 && XP1_PARTIAL_MESSAGE == 0x40000, "XP1_*");
_Static_assert(PFL_MATCHES_PROTOCOL_ZERO == 0x8, "PFL_MATCHES_PROTOCOL_ZERO");
_Static_assert(WSPDESCRIPTION_LEN == 255 && WSAPROTOCOL_LEN == 255 && MAX_PROTOCOL_CHAIN == 7, "lengths");
_Static_assert(MAKEWORD(2, 2) == 0x0202 && LOBYTE(0x0102) == 2 && HIBYTE(0x0102) == 1, "MAKEWORD");

/* The function-pointer types accept functions of the documented shape. */
static int close_socket_stub(SOCKET s, LPINT lpErrno)
{
    (void)s;
    *lpErrno = WSAENOTSOCK;
    return SOCKET_ERROR;
}

static int startup_stub(WORD version, LPWSPDATA data, LPWSAPROTOCOL_INFOW info,
                        WSPUPCALLTABLE upcalls, LPWSPPROC_TABLE table)
{
    (void)info;
    (void)upcalls;
    if (data == NULL || table == NULL)
        return WSAEFAULT;
    data->wVersion = version;
    data->wHighVersion = MAKEWORD(2, 2);
    table->lpWSPCloseSocket = close_socket_stub;
    return 0;
}

int lwsp_ws2spi_layout_check(void);

/* Runs the FD_* macros (except FD_ISSET, which needs lwsp's __WSAFDIsSet)
 * and the stubs; returns 0 when all is as Winsock does it, else a line. */
int lwsp_ws2spi_layout_check(void)
{
    LPWSPSTARTUP startup = startup_stub;
    WSPDATA data;
    WSPPROC_TABLE table;
    WSPUPCALLTABLE upcalls;
    fd_set set;
    int err = 0;
    u_int i;

    memset(&table, 0, sizeof table);
    memset(&upcalls, 0, sizeof upcalls);
    if (startup(MAKEWORD(2, 2), &data, NULL, upcalls, &table) != 0)
        return __LINE__;
    if (data.wVersion != 0x0202 || table.lpWSPCloseSocket == NULL)
        return __LINE__;
    if (table.lpWSPCloseSocket(INVALID_SOCKET, &err) != SOCKET_ERROR || err != WSAENOTSOCK)
        return __LINE__;

    FD_ZERO(&set);
    if (set.fd_count != 0)
        return __LINE__;
    FD_SET(5, &set);
    FD_SET(7, &set);
    FD_SET(5, &set); /* duplicates are not added again */
    FD_SET(9, &set);
    if (set.fd_count != 3 || set.fd_array[0] != 5 || set.fd_array[1] != 7 || set.fd_array[2] != 9)
        return __LINE__;
    FD_CLR(7, &set); /* later entries move down */
    if (set.fd_count != 2 || set.fd_array[0] != 5 || set.fd_array[1] != 9)
        return __LINE__;
    FD_CLR(42, &set); /* absent: no change */
    if (set.fd_count != 2)
        return __LINE__;
    FD_ZERO(&set);
    for (i = 0; i < FD_SETSIZE + 10; ++i)
        FD_SET(i + 100, &set); /* silently stops at FD_SETSIZE */
    if (set.fd_count != FD_SETSIZE || set.fd_array[FD_SETSIZE - 1] != FD_SETSIZE - 1 + 100)
        return __LINE__;

    return 0;
}
