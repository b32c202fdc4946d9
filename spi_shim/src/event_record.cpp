#include "event_record.hpp"

#include <cstring>

#include "error_table.hpp"

namespace lwsp::wsp {

namespace {

int bit_index(long bit) {
    int i = 0;
    while ((1L << i) != bit) ++i;
    return i;
}

// FD_CLOSE's error: 0 for the peer's FIN, the reset or abort otherwise.
int close_error(net_error why) {
    switch (why) {
        case net_error::ok: return 0;
        case net_error::connection_reset: return WSAECONNRESET;
        case net_error::connection_aborted: return WSAECONNABORTED;
        default: return to_wsa(why);
    }
}

}  // namespace

bool event_record::select(WSAEVENT event, long mask) {
    event_ = mask != 0 ? event : nullptr;
    mask_ = mask;
    if (mask == 0) return false;
    armed_ |= FD_READ | FD_ACCEPT | FD_OOB;
    return (recorded_ & mask_) != 0;
}

void event_record::clear() {
    event_ = nullptr;
    mask_ = 0;
    recorded_ = 0;
}

bool event_record::record(long bit, int error) {
    if ((armed_ & bit) == 0) return false;
    if (bit == FD_WRITE && !selected(FD_WRITE)) return false;  // owed, not recorded
    armed_ &= ~bit;
    recorded_ |= bit;
    errors_[bit_index(bit)] = error;
    return selected(bit);
}

void event_record::arm(long bits) {
    armed_ |= bits;
    recorded_ &= ~bits;
}

void event_record::enumerate(WSANETWORKEVENTS& out) {
    const long report = recorded_ & mask_;  // the rest stays recorded
    out.lNetworkEvents = report;
    for (int i = 0; i < FD_MAX_EVENTS; ++i)
        if (report & (1L << i)) out.iErrorCode[i] = errors_[i];
    recorded_ &= ~report;
}

bool event_record::connection_ended(net_error reason, bool unread) {
    if (close_reported_) return false;
    if (unread) {
        close_pending_ = true;
        close_reason_ = reason;
        return false;
    }
    close_reported_ = true;
    armed_ |= FD_CLOSE;
    return record(FD_CLOSE, close_error(reason));
}

bool event_record::after_read(bool unread) {
    if (!close_pending_ || unread || close_reported_) return false;
    close_reported_ = true;
    armed_ |= FD_CLOSE;
    return record(FD_CLOSE, close_error(close_reason_));
}

}  // namespace lwsp::wsp
