// lwsp's Winsock catalog entries (lwsp/provider_catalog.hpp).
#include "lwsp/provider_catalog.hpp"

#include <cstring>

namespace lwsp::provider {

GUID provider_guid() {
    GUID g{};
    g.Data1 = 0x6df69a56;
    g.Data2 = 0x6d7c;
    g.Data3 = 0x4b0b;
    const unsigned char tail[8] = {0xb3, 0x61, 0x09, 0x5a, 0xdd, 0x9e, 0xf5, 0xa6};
    std::memcpy(g.Data4, tail, sizeof tail);
    return g;
}

namespace {

WSAPROTOCOL_INFOW entry(int family, bool tcp) {
    WSAPROTOCOL_INFOW p;
    std::memset(&p, 0, sizeof p);
    p.dwServiceFlags1 = tcp ? XP1_GUARANTEED_DELIVERY | XP1_GUARANTEED_ORDER | XP1_GRACEFUL_CLOSE
                            : XP1_CONNECTIONLESS | XP1_MESSAGE_ORIENTED | XP1_SUPPORT_BROADCAST;
    if (family == AF_INET6) p.dwServiceFlags1 &= ~static_cast<DWORD>(XP1_SUPPORT_BROADCAST);  // IPv6 has none
    p.dwProviderFlags = PFL_MATCHES_PROTOCOL_ZERO;
    p.ProviderId = provider_guid();
    p.ProtocolChain.ChainLen = BASE_PROTOCOL;
    p.iVersion = 2;
    p.iAddressFamily = family;
    p.iMaxSockAddr =
        family == AF_INET6 ? static_cast<int>(sizeof(sockaddr_in6)) : static_cast<int>(sizeof(sockaddr_in));
    p.iMinSockAddr = p.iMaxSockAddr;
    p.iSocketType = tcp ? SOCK_STREAM : SOCK_DGRAM;
    p.iProtocol = tcp ? IPPROTO_TCP : IPPROTO_UDP;
    p.iNetworkByteOrder = BIGENDIAN;
    p.iSecurityScheme = SECURITY_PROTOCOL_NONE;
    // A stream has no message size; a datagram at most what IPv4 carries.
    p.dwMessageSize = tcp ? 0 : 65507;
    const char* name =
        family == AF_INET6 ? (tcp ? "lwsp TCP/IPv6" : "lwsp UDP/IPv6") : (tcp ? "lwsp TCP/IPv4" : "lwsp UDP/IPv4");
    for (std::size_t i = 0; name[i] != 0 && i < WSAPROTOCOL_LEN; ++i)
        p.szProtocol[i] = static_cast<WCHAR>(static_cast<unsigned char>(name[i]));
    return p;
}

}  // namespace

std::array<WSAPROTOCOL_INFOW, 4> protocol_entries() {
    return {entry(AF_INET, true), entry(AF_INET, false), entry(AF_INET6, true), entry(AF_INET6, false)};
}

}  // namespace lwsp::provider
