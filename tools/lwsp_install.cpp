// lwsp-install — registers lwsp.dll as a Winsock base service provider, or
// removes it (Windows; run as an administrator).
//
//   lwsp-install install [PATH-OF-lwsp.dll]   default: lwsp.dll beside this program
//   lwsp-install remove
//   lwsp-install show                         the entries, without installing
//   lwsp-install status                       whether the catalog lists them
//                                             (WSAEnumProtocols): exit 0 if so, 3 if not
//
// install hands lwsp's four catalog entries (TCP and UDP over IPv4 and
// IPv6; lwsp/provider_catalog.hpp) to WSCInstallProvider under lwsp's
// provider GUID; remove calls WSCDeinstallProvider with it.  Applications
// then reach lwsp through WSASocket with one of lwsp's protocol infos (from
// WSAEnumProtocols, matched by ProviderId), or by default once the entries
// are ordered first (WSCWriteProviderOrder; not done here, on purpose: lwsp
// does not take over the machine's networking unless asked).  The
// provider's configuration (port, addresses) lives under
// HKLM\SOFTWARE\lwsp\Provider (docs/design.md, "The Windows provider").
#include <winsock2.h>
#include <ws2spi.h>

#include <cstdio>
#include <cstring>
#include <cwchar>
#include <string>

#include "lwsp/provider_catalog.hpp"

namespace {

void print_guid(const GUID& g) {
    std::printf("{%08lx-%04x-%04x-%02x%02x-%02x%02x%02x%02x%02x%02x}", static_cast<unsigned long>(g.Data1), g.Data2,
                g.Data3, g.Data4[0], g.Data4[1], g.Data4[2], g.Data4[3], g.Data4[4], g.Data4[5], g.Data4[6],
                g.Data4[7]);
}

void show() {
    std::printf("provider ");
    print_guid(lwsp::provider::provider_guid());
    std::printf("\n");
    for (const WSAPROTOCOL_INFOW& p : lwsp::provider::protocol_entries()) {
        std::printf("  %ls: family %d, type %d, protocol %d, flags1 0x%08lx, provider flags 0x%lx\n", p.szProtocol,
                    p.iAddressFamily, p.iSocketType, p.iProtocol, static_cast<unsigned long>(p.dwServiceFlags1),
                    static_cast<unsigned long>(p.dwProviderFlags));
    }
}

std::wstring default_dll_path() {
    wchar_t self[MAX_PATH];
    const DWORD n = GetModuleFileNameW(nullptr, self, MAX_PATH);
    std::wstring path(self, n);
    const std::size_t slash = path.find_last_of(L"\\/");
    return (slash == std::wstring::npos ? std::wstring() : path.substr(0, slash + 1)) + L"lwsp.dll";
}

int usage() {
    std::fprintf(stderr, "usage: lwsp-install install [PATH-OF-lwsp.dll] | remove | show | status\n");
    return 2;
}

// How many of the catalog's entries carry lwsp's provider GUID; -1 if the
// catalog cannot be read.
int catalog_entries() {
    WSADATA wsa;
    if (WSAStartup(MAKEWORD(2, 2), &wsa) != 0) return -1;
    DWORD size = 0;
    WSAEnumProtocolsW(nullptr, nullptr, &size);
    std::string buf(size, '\0');
    auto* infos = reinterpret_cast<WSAPROTOCOL_INFOW*>(buf.data());
    const int n = size != 0 ? WSAEnumProtocolsW(nullptr, infos, &size) : 0;
    int ours = -1;
    if (n != SOCKET_ERROR) {
        const GUID id = lwsp::provider::provider_guid();
        ours = 0;
        for (int i = 0; i < n; ++i) ours += std::memcmp(&infos[i].ProviderId, &id, sizeof id) == 0 ? 1 : 0;
        std::printf("lwsp-install: the catalog lists %d entries, %d of them lwsp's\n", n, ours);
    }
    WSACleanup();
    return ours;
}

}  // namespace

int wmain(int argc, wchar_t** argv) {
    if (argc < 2) return usage();
    const std::wstring cmd = argv[1];
    GUID id = lwsp::provider::provider_guid();
    if (cmd == L"show") {
        show();
        return 0;
    }
    if (cmd == L"status") {
        const int n = catalog_entries();
        if (n < 0) {
            std::fprintf(stderr, "lwsp-install: WSAEnumProtocols failed\n");
            return 1;
        }
        return n > 0 ? 0 : 3;
    }
    if (cmd == L"install") {
        const std::wstring dll = argc > 2 ? argv[2] : default_dll_path();
        if (GetFileAttributesW(dll.c_str()) == INVALID_FILE_ATTRIBUTES) {
            std::fprintf(stderr, "lwsp-install: %ls does not exist\n", dll.c_str());
            return 1;
        }
        auto entries = lwsp::provider::protocol_entries();
        int err = 0;
        if (WSCInstallProvider(&id, dll.c_str(), entries.data(), static_cast<DWORD>(entries.size()), &err) != 0) {
            std::fprintf(stderr, "lwsp-install: WSCInstallProvider failed: %d%s\n", err,
                         err == WSAEACCES ? " (run as an administrator)" : "");
            return 1;
        }
        std::printf("lwsp-install: installed %ls as provider ", dll.c_str());
        print_guid(id);
        std::printf(" (%u entries)\n", static_cast<unsigned>(entries.size()));
        return 0;
    }
    if (cmd == L"remove") {
        int err = 0;
        if (WSCDeinstallProvider(&id, &err) != 0) {
            std::fprintf(stderr, "lwsp-install: WSCDeinstallProvider failed: %d%s\n", err,
                         err == WSAEINVAL ? " (not installed)" : "");
            return 1;
        }
        std::printf("lwsp-install: removed provider ");
        print_guid(id);
        std::printf("\n");
        return 0;
    }
    return usage();
}
