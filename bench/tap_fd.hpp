// tap_fd.hpp — opening an existing TAP device as a plain file descriptor,
// for the programs that drive TAP without lwsp's port (the raw lwIP
// baseline, the frame pump).  Its own translation unit: Linux's network
// headers and lwIP's cannot share one.
#pragma once

#include <cstddef>
#include <string>

namespace bench {

// Opens TAP device `name` (IFF_TAP | IFF_NO_PI), nonblocking.  Fails the
// program with a message if it cannot.
int tap_open(const std::string& name);
// Waits up to `timeout_ms` for `fd` to become readable (in) or writable (out).
bool fd_wait(int fd, bool out, int timeout_ms);

}  // namespace bench
