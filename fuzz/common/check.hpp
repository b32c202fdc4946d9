// check.hpp — how a harness reports a finding that no sanitizer sees: a
// broken property (a wrong error code, a leak measured by the stack's own
// statistics, a hang).  It prints what broke and aborts, so libFuzzer
// saves the input as a crash like any other.
#pragma once

#include <cstdio>
#include <cstdlib>

#define LWSP_FUZZ_CHECK(cond, ...)                                                                            \
    do {                                                                                                      \
        if (!(cond)) {                                                                                        \
            std::fprintf(stderr, "lwsp fuzz: property violated at %s:%d: %s\n  ", __FILE__, __LINE__, #cond); \
            std::fprintf(stderr, __VA_ARGS__);                                                                \
            std::fprintf(stderr, "\n");                                                                       \
            std::fflush(stderr);                                                                              \
            std::abort();                                                                                     \
        }                                                                                                     \
    } while (0)
