// What ports/ce_ndisuio needs of Windows CE's NDISUIO interface (CE's
// nuiouser.h, which mingw-w64 does not have) and of NDIS (ntddndis.h):
// facts only — the device name, control codes, structure layouts and OID
// values — each with where it is documented.  Private to the port; the
// tests include it to script a fake NDISUIO device.
#pragma once

#include <windows.h>
#include <winioctl.h>

#include <cstddef>
#include <cstdint>

namespace lwsp {
namespace nuio {

// The device: Device Manager loads ndisuio.dll from
// HKLM\Drivers\BuiltIn\NDISUIO (Prefix "UIO", Index 1, Order 3: CE 6.0,
// "NDISUIO Driver Registration"), so the stream device is "UIO1:" (CE's
// nuiouser.h, NDISUIO_DEVICE_NAME under UNDER_CE).
constexpr const wchar_t* device_name = L"UIO1:";

// Control codes: CTL_CODE(FILE_DEVICE_NETWORK, function, METHOD_BUFFERED,
// FILE_ANY_ACCESS) with the function numbers of CE's nuiouser.h
// (FSCTL_NDISUIO_BASE is FILE_DEVICE_NETWORK).  Cross-check: OpenNETCF's
// Smart Device Framework lists QUERY_OID_VALUE 0x120804, SET_OID_VALUE
// 0x120814, REQUEST_NOTIFICATION 0x12081C, CANCEL_NOTIFICATION 0x120820.
constexpr DWORD control_code(DWORD function) {
    return CTL_CODE(FILE_DEVICE_NETWORK, function, METHOD_BUFFERED, FILE_ANY_ACCESS);
}
// In: the adapter's name, UTF-16, without the terminating NUL (CE 6.0,
// IOCTL_NDISUIO_OPEN_DEVICE: "the size of the adapter name only").
constexpr DWORD ioctl_open_device = control_code(0x200);
// In and out: query_oid header + data (below).
constexpr DWORD ioctl_query_oid_value = control_code(0x201);
// In: USHORT EtherType(s) to receive; NDISUIO's default is 0x8001 only
// (CE 6.0, IOCTL_NDISUIO_SET_ETHER_TYPE).
constexpr DWORD ioctl_set_ether_type = control_code(0x202);
// In: query_binding with BindingIndex; out: the structure, then the names.
constexpr DWORD ioctl_query_binding = control_code(0x203);
// In: set_oid header + data.
constexpr DWORD ioctl_set_oid_value = control_code(0x205);
// In: request_notification.
constexpr DWORD ioctl_request_notification = control_code(0x207);
// No buffers: ends the notifications this handle asked for.
constexpr DWORD ioctl_cancel_notification = control_code(0x208);
// No buffers: a ReadFile blocked on this handle returns (CE has no CancelIo
// for it; "NDISUIO Operations": IOCTL_CANCEL_READ cancels ReadFile).
constexpr DWORD ioctl_cancel_read = control_code(0x20a);

static_assert(ioctl_query_oid_value == 0x120804, "CTL_CODE(FILE_DEVICE_NETWORK, 0x201, METHOD_BUFFERED, 0)");
static_assert(ioctl_set_oid_value == 0x120814, "CTL_CODE(FILE_DEVICE_NETWORK, 0x205, METHOD_BUFFERED, 0)");
static_assert(ioctl_request_notification == 0x12081c, "CTL_CODE(FILE_DEVICE_NETWORK, 0x207, METHOD_BUFFERED, 0)");
static_assert(ioctl_cancel_notification == 0x120820, "CTL_CODE(FILE_DEVICE_NETWORK, 0x208, METHOD_BUFFERED, 0)");

// NDISUIO_QUERY_OID and NDISUIO_SET_OID (CE 6.0 reference): the OID, on CE
// a pointer to the adapter's name (may be null once IOCTL_NDISUIO_OPEN_DEVICE
// associated the handle), then the data, variable in length (the buffer
// size passed to DeviceIoControl says how much).  The query passes the same
// buffer as input and output.
struct oid_request {
    ULONG oid;
    wchar_t* device_name;
    UCHAR data[sizeof(ULONG)];
};
constexpr std::size_t oid_data_offset = offsetof(oid_request, data);

// NDISUIO_QUERY_BINDING (CE 6.0 reference): offsets from the start of the
// structure, lengths in bytes.
struct query_binding {
    ULONG binding_index;  // 0-based
    ULONG device_name_offset;
    ULONG device_name_length;
    ULONG device_descr_offset;
    ULONG device_descr_length;
};

// NDISUIO_REQUEST_NOTIFICATION (CE 6.0 reference): a message queue made by
// CreateMsgQueue, and the notifications wanted.
struct request_notification {
    HANDLE msg_queue;
    DWORD notification_types;
};

// NDISUIO_DEVICE_NOTIFICATION (CE 6.0 reference): one message on the queue.
struct device_notification {
    DWORD notification_type;
    wchar_t device_name[MAX_PATH];
    UINT offset_to_status_buffer;
    UINT status_buffer_size;
};

// dwNotificationType flags (CE 6.0, NDISUIO_DEVICE_NOTIFICATION).
constexpr DWORD notify_reset_start = 0x00000001;
constexpr DWORD notify_reset_end = 0x00000002;
constexpr DWORD notify_media_connect = 0x00000004;
constexpr DWORD notify_media_disconnect = 0x00000008;
constexpr DWORD notify_bind = 0x00000010;
constexpr DWORD notify_unbind = 0x00000020;
constexpr DWORD notify_adapter_arrival = 0x00000040;
constexpr DWORD notify_adapter_removal = 0x00000080;
constexpr DWORD notify_device_power_up = 0x00000200;
constexpr DWORD notify_device_power_down = 0x00000400;

// NDIS OIDs (ntddndis.h; CE 6.0 "General NDIS Objects", "Ethernet Objects").
constexpr ULONG oid_gen_maximum_frame_size = 0x00010106;     // ULONG: frame bytes without the header (the IP MTU)
constexpr ULONG oid_gen_current_packet_filter = 0x0001010e;  // ULONG: NDIS_PACKET_TYPE_* bits
constexpr ULONG oid_gen_media_connect_status = 0x00010114;   // ULONG: NDIS_MEDIA_STATE
constexpr ULONG oid_802_3_current_address = 0x01010102;      // 6 bytes
// NDIS_MEDIA_STATE.
constexpr ULONG media_state_connected = 0;
constexpr ULONG media_state_disconnected = 1;
// NDIS_PACKET_TYPE_*.
constexpr ULONG packet_type_directed = 0x00000001;
constexpr ULONG packet_type_multicast = 0x00000002;
constexpr ULONG packet_type_all_multicast = 0x00000004;
constexpr ULONG packet_type_broadcast = 0x00000008;
constexpr ULONG packet_type_promiscuous = 0x00000020;

}  // namespace nuio
}  // namespace lwsp
