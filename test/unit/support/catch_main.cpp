// The one Catch2 main of the unit tests.
//
// On Windows the tests are the embedder that asks for lwsp's own upcalls
// (there is no ws2 in a unit test): without the fallback, WSPStartup would
// refuse the zeroed and partial tables the tests pass, as it refuses them
// from ws2 (lwsp/lwsp.h, "the fallback rule").  Off Windows that fallback is
// already the default.
#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>

#include "lwsp/lwsp.h"
#include "lwsp/upcalls.h"

int main(int argc, char* argv[]) {
    lwsp_set_fallback_upcalls(&lwsp_default_upcalls);
    return Catch::Session().run(argc, argv);
}
