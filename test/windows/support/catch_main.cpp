// Catch2's main for the Windows ports' tests.
#define CATCH_CONFIG_MAIN
#include <catch2/catch.hpp>
