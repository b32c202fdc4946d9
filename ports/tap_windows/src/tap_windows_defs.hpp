// The TAP-Windows6 device interface as the driver's public header documents
// it (OpenVPN's tap-windows6, src/tap-windows.h), and the registry layout
// Windows keeps for network adapters.  Facts only: control codes, paths,
// sizes.  Private to the port; the tests include it to script a fake device.
#pragma once

#include <windows.h>
#include <winioctl.h>

namespace lwsp {
namespace tapwin {

// TAP_WIN_CONTROL_CODE(request, method) is
// CTL_CODE(FILE_DEVICE_UNKNOWN, request, method, FILE_ANY_ACCESS); every
// request below uses METHOD_BUFFERED.
constexpr DWORD control_code(DWORD request) {
    return CTL_CODE(FILE_DEVICE_UNKNOWN, request, METHOD_BUFFERED, FILE_ANY_ACCESS);
}
// Out: the adapter's 6-byte MAC address.
constexpr DWORD ioctl_get_mac = control_code(1);
// Out: three ULONGs, the driver's major, minor and debug version.
constexpr DWORD ioctl_get_version = control_code(2);
// Out: one ULONG, the adapter's MTU (its "MTU" advanced property; 1500 by default).
constexpr DWORD ioctl_get_mtu = control_code(3);
// In: one ULONG, TRUE = media connected (Windows sees the cable plugged in).
constexpr DWORD ioctl_set_media_status = control_code(6);

static_assert(ioctl_get_mac == 0x220004, "CTL_CODE(FILE_DEVICE_UNKNOWN, 1, METHOD_BUFFERED, FILE_ANY_ACCESS)");
static_assert(ioctl_set_media_status == 0x220018, "CTL_CODE(FILE_DEVICE_UNKNOWN, 6, METHOD_BUFFERED, FILE_ANY_ACCESS)");

// The device of adapter {GUID} is \\.\Global\{GUID}.tap (USERMODEDEVICEDIR
// and TAP_WIN_SUFFIX of the driver's header).
constexpr const wchar_t* device_prefix = L"\\\\.\\Global\\";
constexpr const wchar_t* device_suffix = L".tap";

// Network adapters' class key (GUID_DEVCLASS_NET): one subkey per adapter
// (0000, 0001, ...) with REG_SZ values ComponentId (the driver's hardware
// id: "tap0901" for TAP-Windows6, "root\tap0901" for some installs) and
// NetCfgInstanceId (the adapter's GUID, braces included).
constexpr const wchar_t* adapters_key =
    L"SYSTEM\\CurrentControlSet\\Control\\Class\\{4D36E972-E325-11CE-BFC1-08002BE10318}";
// The connection's name ("Ethernet 2", "OpenVPN TAP") is the Name value of
// <network_key>\{GUID}\Connection.
constexpr const wchar_t* network_key =
    L"SYSTEM\\CurrentControlSet\\Control\\Network\\{4D36E972-E325-11CE-BFC1-08002BE10318}";

}  // namespace tapwin
}  // namespace lwsp
