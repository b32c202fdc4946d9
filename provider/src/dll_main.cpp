// lwsp.dll — lwsp as a Winsock base service provider for Windows.
//
// ws2 loads the DLL named in its catalog (tools/lwsp-install puts it there)
// and calls its one export, WSPStartup, passing ws2's upcall table.  The
// shim's WSPStartup (spi_shim) finds no stack on the first call and runs
// the bring-up registered here at load time: it reads the provider's
// configuration (lwsp/provider_config.hpp: the file LWSP_PROVIDER_CONFIG
// names, else HKLM\SOFTWARE\lwsp\Provider), starts the stack and attaches
// the configured port.  The last WSPCleanup stops it again.  ws2's upcalls
// are used as given: this DLL contains no emulation of them (lwsp::upcalls
// is not linked), so a table with a missing upcall fails WSPStartup with
// WSAEINVAL.
//
// Also exported: lwsp_provider_last_error(), the reason the last bring-up
// failed ("" if it did not) — WSPStartup can only say WSASYSNOTREADY.  The
// same text goes to OutputDebugString.
#include <windows.h>

#include <fstream>
#include <memory>
#include <mutex>
#include <sstream>
#include <string>

#include "lwsp/lwsp.h"
#include "lwsp/provider_config.hpp"

namespace {

std::mutex g_mu;
// The running stack (guarded by g_mu).  A raw pointer on purpose: if the
// process exits without the last WSPCleanup, nothing may destroy the stack
// at DLL_PROCESS_DETACH — its driver and port threads are already gone
// then, and joining them would hang the exit.
lwsp::stack* g_stack = nullptr;
std::string g_last_error;  // guarded by g_mu

std::string narrow(const wchar_t* w, std::size_t n) {
    std::string out;
    out.reserve(n);
    for (std::size_t i = 0; i < n && w[i] != 0; ++i) out.push_back(w[i] < 0x80 ? static_cast<char>(w[i]) : '?');
    return out;
}

lwsp::provider::config from_registry() {
    HKEY key = nullptr;
    const LONG r = RegOpenKeyExW(HKEY_LOCAL_MACHINE, L"SOFTWARE\\lwsp\\Provider", 0, KEY_READ, &key);
    if (r != ERROR_SUCCESS) {
        throw lwsp::provider::config_error(
            "lwsp provider: no configuration: HKLM\\SOFTWARE\\lwsp\\Provider cannot be opened (error " +
            std::to_string(r) + ") and LWSP_PROVIDER_CONFIG is not set");
    }
    lwsp::provider::key_values kv;
    for (DWORD i = 0;; ++i) {
        wchar_t name[256];
        DWORD name_len = 256;
        wchar_t data[1024];
        DWORD data_size = sizeof data;
        DWORD type = 0;
        const LONG e =
            RegEnumValueW(key, i, name, &name_len, nullptr, &type, reinterpret_cast<BYTE*>(data), &data_size);
        if (e == ERROR_NO_MORE_ITEMS) break;
        if (e != ERROR_SUCCESS) continue;  // a value too long for a setting: from_values cannot name it either
        if (type != REG_SZ) {
            RegCloseKey(key);
            throw lwsp::provider::config_error("lwsp provider: registry value " + narrow(name, name_len) +
                                               " is not a string (REG_SZ)");
        }
        kv.emplace_back(narrow(name, name_len), narrow(data, data_size / sizeof(wchar_t)));
    }
    RegCloseKey(key);
    return lwsp::provider::from_values(kv);
}

lwsp::provider::config load_config() {
    char path[MAX_PATH];
    const DWORD n = GetEnvironmentVariableA("LWSP_PROVIDER_CONFIG", path, sizeof path);
    if (n == 0 || n >= sizeof path) return from_registry();
    std::ifstream in(path);
    if (!in) throw lwsp::provider::config_error(std::string("lwsp provider: cannot read LWSP_PROVIDER_CONFIG=") + path);
    std::stringstream text;
    text << in.rdbuf();
    return lwsp::provider::parse_file_text(text.str());
}

int bring_up() {
    std::lock_guard<std::mutex> g(g_mu);
    try {
        g_stack = lwsp::provider::bring_up(load_config()).release();
        g_last_error.clear();
        return 0;
    } catch (const std::exception& e) {
        g_last_error = e.what();
    }
    OutputDebugStringA((g_last_error + "\n").c_str());
    return -1;
}

void tear_down() {
    std::unique_ptr<lwsp::stack> st;
    {
        std::lock_guard<std::mutex> g(g_mu);
        st.reset(g_stack);
        g_stack = nullptr;
    }
    st.reset();  // stops the driver thread and the port: outside the lock
}

}  // namespace

// The text stays valid until the next bring-up.  (A buffer, not a
// thread_local std::string: see platform::thread_slot on thread_local
// destructors under mingw-w64.)
extern "C" const char* lwsp_provider_last_error(void) {
    static char text[1024];
    std::lock_guard<std::mutex> g(g_mu);
    const std::size_t n = g_last_error.copy(text, sizeof text - 1);
    text[n] = 0;
    return text;
}

extern "C" BOOL WINAPI DllMain(HINSTANCE, DWORD reason, LPVOID) {
    // Only registers two function pointers: nothing that could wait on the
    // loader lock.
    if (reason == DLL_PROCESS_ATTACH) lwsp_set_provider_bring_up(&bring_up, &tear_down);
    return TRUE;
}
