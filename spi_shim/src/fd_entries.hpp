// fd_entries.hpp — the entries of a Winsock fd_set, as many as fd_count.
//
// ws2spi.h declares fd_array[FD_SETSIZE] (64), yet a client may define a
// larger FD_SETSIZE and pass a bigger set: the provider reads fd_count
// entries, whatever the declared bound.  Indexing fd_array past 64 would be
// out of the declared array's bounds (undefined behaviour), so the entries
// are reached through a pointer to the set's storage instead.
#pragma once

#include <cstddef>

#include "lwsp/ws2spi.h"

namespace lwsp::wsp {

inline SOCKET* fd_entries(fd_set* set) {
    return reinterpret_cast<SOCKET*>(reinterpret_cast<unsigned char*>(set) + offsetof(fd_set, fd_array));
}

}  // namespace lwsp::wsp
