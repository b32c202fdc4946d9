// lwsp/provider_catalog.hpp — what lwsp registers in a Winsock catalog: its
// provider GUID and one WSAPROTOCOL_INFOW per protocol it serves (TCP and
// UDP over IPv4 and IPv6).  tools/lwsp-install hands them to
// WSCInstallProvider; a CE image lists the same in its registry
// (docs/design.md, "The Windows provider").
#pragma once

#include <array>

#include "lwsp/ws2spi.h"

namespace lwsp::provider {

// lwsp's provider id: {6df69a56-6d7c-4b0b-b361-095add9ef5a6}.
GUID provider_guid();

// The four catalog entries, in this order: TCP/IPv4, UDP/IPv4, TCP/IPv6,
// UDP/IPv6.  Base protocols (ProtocolChain.ChainLen BASE_PROTOCOL), not IFS
// (ws2 creates the SOCKET handles through WPUCreateSocketHandle), matching
// protocol 0 for their socket type (PFL_MATCHES_PROTOCOL_ZERO), catalog ids
// left 0 for ws2 to assign.
std::array<WSAPROTOCOL_INFOW, 4> protocol_entries();

}  // namespace lwsp::provider
