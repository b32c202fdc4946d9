// Runs the layout checks of lwsp/ws2spi.h compiled as C and as C++ (most of
// them are static assertions: this program exists so that both translation
// units are built and their run-time checks executed).
#include <cstdio>

extern "C" int lwsp_ws2spi_layout_check(void);
int lwsp_ws2spi_layout_cpp_check();

int main() {
    const int c = lwsp_ws2spi_layout_check();
    const int cpp = lwsp_ws2spi_layout_cpp_check();
    std::printf("ws2spi layout: C %s, C++ %s\n", c == 0 ? "ok" : "FAILED", cpp == 0 ? "ok" : "FAILED");
    return c == 0 && cpp == 0 ? 0 : 1;
}
