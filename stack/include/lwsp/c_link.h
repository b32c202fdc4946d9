/*
 * lwsp/c_link.h — the C handle of a port's link (lwsp_link in lwsp/lwsp.h).
 * A port's C constructor returns one of these wrapping its lwsp::link.
 */
#ifndef LWSP_C_LINK_H
#define LWSP_C_LINK_H

#ifdef __cplusplus
#include <memory>

#include "lwsp/link.hpp"
struct lwsp_link {
    std::shared_ptr<lwsp::link> impl;  // shared with the stack once attached
};
#else
struct lwsp_link;
#endif

#endif /* LWSP_C_LINK_H */
