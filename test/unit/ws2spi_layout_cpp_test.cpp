// Compile-time checks that lwsp/ws2spi.h works from C++17 after the common
// C++ standard headers.  With libstdc++ these drag in glibc's <stdlib.h>,
// <sys/types.h>, <sys/select.h> (fd_set, FD_SETSIZE 1024, FD_SET..., struct
// timeval, a 64-bit u_long), <pthread.h>, <sched.h> and <time.h> (g++ always
// defines _GNU_SOURCE); none is a socket header, and the header must still
// give Winsock's types.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <cstdint>
#include <thread>
#include <mutex>
#include <vector>
#include <string>
#include <cstddef>
#include <type_traits>

#include <lwsp/ws2spi.h>

// Windows declares DWORD and u_long 'unsigned long' (32 bits there); lwsp
// declares them uint32_t so that they keep 32 bits on LP64.
static_assert(sizeof(DWORD) == 4 && std::is_unsigned<DWORD>::value, "DWORD is 32-bit unsigned");
static_assert(sizeof(u_long) == 4 && std::is_unsigned<u_long>::value, "u_long is 32-bit, as on Windows");
static_assert(std::is_same<SOCKET, std::uintptr_t>::value, "SOCKET is UINT_PTR");
static_assert(sizeof(WCHAR) == 2, "WCHAR");
static_assert(sizeof(struct sockaddr) == 16, "sockaddr");
static_assert(sizeof(struct sockaddr_in) == 16, "sockaddr_in");
static_assert(sizeof(struct sockaddr_in6) == 28, "sockaddr_in6");
static_assert(sizeof(SOCKADDR_STORAGE) == 128, "SOCKADDR_STORAGE");
static_assert(sizeof(struct linger) == 4, "linger");
static_assert(sizeof(struct timeval) == 2 * sizeof(long), "timeval");
static_assert(FD_SETSIZE == 64, "Winsock's FD_SETSIZE, not glibc's 1024");
static_assert(offsetof(fd_set, fd_array) == sizeof(SOCKET), "Winsock's fd_set");
static_assert(sizeof(WSPPROC_TABLE) == 30 * sizeof(void*), "WSPPROC_TABLE");
static_assert(sizeof(WSPUPCALLTABLE) == 15 * sizeof(void*), "WSPUPCALLTABLE");
static_assert(offsetof(WSPPROC_TABLE, lpWSPAccept) == 0, "lpWSPAccept first");
static_assert(offsetof(WSPPROC_TABLE, lpWSPCloseSocket) == 6 * sizeof(void*), "lpWSPCloseSocket 7th");
static_assert(offsetof(WSPPROC_TABLE, lpWSPStringToAddress) == 29 * sizeof(void*), "lpWSPStringToAddress last");
static_assert(offsetof(WSPUPCALLTABLE, lpWPUCloseEvent) == 0, "lpWPUCloseEvent first");
static_assert(offsetof(WSPUPCALLTABLE, lpWPUCloseThread) == 14 * sizeof(void*), "lpWPUCloseThread last");
static_assert(offsetof(WSABUF, buf) == sizeof(void*), "WSABUF.buf");
static_assert(sizeof(WSAPROTOCOL_INFOW) == 628, "WSAPROTOCOL_INFOW");
static_assert(sizeof(WSPDATA) == 4 + 2 * 256, "WSPDATA");
static_assert(WSAEWOULDBLOCK == 10035, "WSAEWOULDBLOCK");
static_assert(WSA_IO_PENDING == 997, "WSA_IO_PENDING");
static_assert(SO_DONTLINGER == static_cast<int>(~SO_LINGER), "SO_DONTLINGER");
static_assert(static_cast<std::uint32_t>(FIONBIO) == 0x8004667Eu, "FIONBIO");
static_assert(std::is_same<std::decay<decltype(FIONBIO)>::type, u_long>::value, "FIONBIO is a u_long");
static_assert(FIONREAD == 0x4004667F, "FIONREAD");
static_assert(SIOCATMARK == 0x40047307, "SIOCATMARK");
static_assert(AF_INET6 == 23, "AF_INET6");
static_assert(SOL_SOCKET == 0xffff, "SOL_SOCKET");
static_assert(INVALID_SOCKET == static_cast<SOCKET>(~static_cast<std::uintptr_t>(0)), "INVALID_SOCKET");

namespace {

int WSPAPI close_socket_stub(SOCKET, LPINT lpErrno) {
    *lpErrno = WSAENOTSOCK;
    return SOCKET_ERROR;
}

}  // namespace

int lwsp_ws2spi_layout_cpp_check();

// Uses the header's types together with the standard library ones; returns 0.
int lwsp_ws2spi_layout_cpp_check() {
    std::mutex m;
    std::lock_guard<std::mutex> lock(m);
    std::vector<WSABUF> bufs(2);
    std::string text = "x";
    bufs[0].len = static_cast<u_long>(text.size());
    bufs[0].buf = &text[0];

    WSPPROC_TABLE table{};
    table.lpWSPCloseSocket = close_socket_stub;
    int err = 0;
    if (table.lpWSPCloseSocket(INVALID_SOCKET, &err) != SOCKET_ERROR || err != WSAENOTSOCK) return __LINE__;

    fd_set set;
    FD_ZERO(&set);
    FD_SET(3, &set);
    FD_SET(3, &set);
    FD_CLR(4, &set);
    if (set.fd_count != 1 || set.fd_array[0] != 3) return __LINE__;
    return bufs[0].len == 1 ? 0 : __LINE__;
}
