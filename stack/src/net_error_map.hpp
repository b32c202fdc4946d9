// Internal: lwIP err_t -> net_error (defined in net_error.cpp).
#pragma once

#include "lwip/err.h"
#include "lwsp/net_error.hpp"

namespace lwsp {
net_error from_err(err_t err);
}
