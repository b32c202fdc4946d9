#include "tap_fd.hpp"

#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "bench_common.hpp"

namespace bench {

int tap_open(const std::string& name) {
    const int fd = ::open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) fail("open /dev/net/tun: " + std::string(std::strerror(errno)));
    ifreq ifr{};
    std::strncpy(ifr.ifr_name, name.c_str(), IFNAMSIZ - 1);
    ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
    if (::ioctl(fd, TUNSETIFF, &ifr) != 0) fail("TUNSETIFF " + name + ": " + std::strerror(errno));
    // Plain frames: no offloads an earlier user of the device left on.
    if (::ioctl(fd, TUNSETOFFLOAD, 0u) != 0) fail("TUNSETOFFLOAD " + name + ": " + std::strerror(errno));
    return fd;
}

bool fd_wait(int fd, bool out, int timeout_ms) {
    pollfd p{fd, static_cast<short>(out ? POLLOUT : POLLIN), 0};
    return ::poll(&p, 1, timeout_ms) > 0;
}

}  // namespace bench
