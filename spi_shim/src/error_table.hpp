// Internal: the stack's net_error -> Winsock error code (error_table.cpp).
#pragma once

#include "lwsp/net_error.hpp"
#include "lwsp/ws2spi.h"

namespace lwsp::wsp {
int to_wsa(net_error e);
}
