# mingw-w64-x86_64.cmake — CMake toolchain file for 64-bit Windows with
# Debian's mingw-w64 cross compiler, POSIX threads model
# (g++-mingw-w64-x86-64-posix: std::thread, std::mutex and
# std::condition_variable work; the win32 model has none of them in GCC 12).
#
#   cmake -S . -B build/mingw -G Ninja \
#         -DCMAKE_TOOLCHAIN_FILE=$PWD/cmake/toolchains/mingw-w64-x86_64.cmake
#
# Headers and import libraries are mingw-w64's real Windows SDK
# (winsock2.h, ws2spi.h, ws2_32, ...); lwsp/ws2spi.h includes them on _WIN32.
# Programs link libgcc, libstdc++ and winpthread statically, so each .exe
# and .dll runs under Wine or on Windows without mingw's runtime DLLs beside
# it.  Tests run under Wine: CMAKE_CROSSCOMPILING_EMULATOR is
# scripts/wine-run (a private WINEPREFIX in the build tree; exit 77 when
# Wine is missing).
set(CMAKE_SYSTEM_NAME Windows)
set(CMAKE_SYSTEM_PROCESSOR x86_64)

set(LWSP_MINGW_TRIPLE x86_64-w64-mingw32)
find_program(LWSP_MINGW_GXX ${LWSP_MINGW_TRIPLE}-g++-posix)
if(NOT LWSP_MINGW_GXX)
  message(FATAL_ERROR "${LWSP_MINGW_TRIPLE}-g++-posix not found: apt-get install g++-mingw-w64-x86-64-posix")
endif()
set(CMAKE_C_COMPILER ${LWSP_MINGW_TRIPLE}-gcc-posix)
set(CMAKE_CXX_COMPILER ${LWSP_MINGW_TRIPLE}-g++-posix)
set(CMAKE_RC_COMPILER ${LWSP_MINGW_TRIPLE}-windres)

set(CMAKE_FIND_ROOT_PATH /usr/${LWSP_MINGW_TRIPLE})
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)

# Windows 7 and later (WSAPoll, InitializeConditionVariable, ...).
add_compile_definitions(_WIN32_WINNT=0x0601 WINVER=0x0601 WIN32_LEAN_AND_MEAN NOMINMAX)
set(CMAKE_EXE_LINKER_FLAGS_INIT "-static")
set(CMAKE_SHARED_LINKER_FLAGS_INIT "-static")

get_filename_component(_lwsp_root "${CMAKE_CURRENT_LIST_DIR}/../.." ABSOLUTE)
set(CMAKE_CROSSCOMPILING_EMULATOR "${_lwsp_root}/scripts/wine-run")
