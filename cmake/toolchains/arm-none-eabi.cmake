# arm-none-eabi.cmake — CMake toolchain file for bare-metal Arm Cortex-M4
# with Debian's packaged GNU toolchain (gcc-arm-none-eabi,
# libnewlib-arm-none-eabi, libstdc++-arm-none-eabi-newlib).
#
#   cmake -S examples/firmware -B build/firmware -G Ninja \
#         -DCMAKE_TOOLCHAIN_FILE=$PWD/cmake/toolchains/arm-none-eabi.cmake
#
# The target is the Cortex-M4 of QEMU's mps2-an386 board.  Floating point is
# soft (-mfloat-abi=soft): lwsp and lwIP do no floating-point work, so there
# is no FPU state to enable at reset or to save in handlers, and the same
# objects would run on a Cortex-M4 without an FPU.  Programs link against the
# full newlib and libstdc++, not newlib-nano (nano.specs): Debian's nano
# libstdc++ is built without exception support, so any throw, even one
# caught, ends in std::terminate, and lwsp throws (and catches) during
# start-up.  The firmware brings its own system calls
# (examples/firmware/board/syscalls.c): no semihosting, no nosys stubs.
#
# LWSP_ARM_CPU_FLAGS may be set before this file is read (or with -D) to
# build for another core of the same family, e.g.
# "-mcpu=cortex-m3 -mthumb -mfloat-abi=soft" for mps2-an385.
set(CMAKE_SYSTEM_NAME Generic)
set(CMAKE_SYSTEM_PROCESSOR arm)

set(LWSP_ARM_TRIPLE arm-none-eabi)
find_program(LWSP_ARM_GCC ${LWSP_ARM_TRIPLE}-gcc)
if(NOT LWSP_ARM_GCC)
  message(FATAL_ERROR "${LWSP_ARM_TRIPLE}-gcc not found: apt-get install gcc-arm-none-eabi "
                      "libnewlib-arm-none-eabi libstdc++-arm-none-eabi-newlib")
endif()
get_filename_component(LWSP_ARM_BIN "${LWSP_ARM_GCC}" DIRECTORY)

set(CMAKE_C_COMPILER "${LWSP_ARM_BIN}/${LWSP_ARM_TRIPLE}-gcc")
set(CMAKE_CXX_COMPILER "${LWSP_ARM_BIN}/${LWSP_ARM_TRIPLE}-g++")
set(CMAKE_ASM_COMPILER "${LWSP_ARM_BIN}/${LWSP_ARM_TRIPLE}-gcc")
set(CMAKE_AR "${LWSP_ARM_BIN}/${LWSP_ARM_TRIPLE}-ar" CACHE FILEPATH "")
set(CMAKE_RANLIB "${LWSP_ARM_BIN}/${LWSP_ARM_TRIPLE}-ranlib" CACHE FILEPATH "")
set(CMAKE_OBJCOPY "${LWSP_ARM_BIN}/${LWSP_ARM_TRIPLE}-objcopy" CACHE FILEPATH "")
set(CMAKE_SIZE "${LWSP_ARM_BIN}/${LWSP_ARM_TRIPLE}-size" CACHE FILEPATH "")

# No program can run without a linker script and startup code, so CMake's
# compiler checks build a static library instead of an executable.
set(CMAKE_TRY_COMPILE_TARGET_TYPE STATIC_LIBRARY)

set(LWSP_ARM_CPU_FLAGS "-mcpu=cortex-m4 -mthumb -mfloat-abi=soft" CACHE STRING
    "Code generation flags for the target core")
# Each function and object in a section of its own, so that the firmware's
# --gc-sections keeps only what is reached.
set(CMAKE_C_FLAGS_INIT "${LWSP_ARM_CPU_FLAGS} -ffunction-sections -fdata-sections")
set(CMAKE_CXX_FLAGS_INIT "${LWSP_ARM_CPU_FLAGS} -ffunction-sections -fdata-sections")
set(CMAKE_ASM_FLAGS_INIT "${LWSP_ARM_CPU_FLAGS}")
set(CMAKE_EXE_LINKER_FLAGS_INIT "${LWSP_ARM_CPU_FLAGS} -Wl,--gc-sections")

# Headers and libraries of the target come from the toolchain only; the
# host's programs (none are needed) from the host.
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)
