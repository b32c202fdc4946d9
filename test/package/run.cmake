# One package test (test/package/CMakeLists.txt registers them):
#
#   cmake -DSTEP=install|find_package|pkg_config|add_subdirectory
#         -DSOURCE_DIR=<lwsp source> -DWORK_DIR=<scratch directory>
#         -DPREFIX=<install prefix> -DINCLUDEDIR=... -DCMAKEDIR=... -DPKGCONFIGDIR=...
#         -DGENERATOR=... [-DMAKE_PROGRAM=...] -DC_COMPILER=... -DCXX_COMPILER=...
#         install:          -DBUILD_DIR=<built lwsp tree> [-DCONFIG=<its configuration>]
#         find_package:     -DBUILD_DIR=<the same tree> (its export is tried too)
#         pkg_config:       -DPKG_CONFIG=<pkg-config>
#         add_subdirectory: -DLWIP_DIR=<lwIP source> [-DSANITIZE=<LWSP_SANITIZE>]
#         -P run.cmake
#
# Fails (FATAL_ERROR, nonzero exit) at the first step that does not work or
# when the program does not print OK.
cmake_minimum_required(VERSION 3.16)

foreach(var STEP SOURCE_DIR WORK_DIR PREFIX INCLUDEDIR CMAKEDIR PKGCONFIGDIR GENERATOR C_COMPILER CXX_COMPILER)
  if("${${var}}" STREQUAL "")
    message(FATAL_ERROR "run.cmake: -D${var}=... missing")
  endif()
endforeach()
set(consumers "${SOURCE_DIR}/test/package")

# Runs a command; on failure prints its output and stops.
function(step what)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
  if(NOT rc EQUAL 0)
    message("${out}")
    message(FATAL_ERROR "package.${STEP}: ${what} failed (${rc})")
  endif()
  message(STATUS "package.${STEP}: ${what}: done")
  set(step_output "${out}" PARENT_SCOPE)
endfunction()

# Runs the consumer program, which must print OK.
function(run_consumer exe)
  step("run ${exe}" "${exe}")
  if(NOT step_output MATCHES "(^|\n)OK\n")
    message(FATAL_ERROR "package.${STEP}: ${exe} did not print OK:\n${step_output}")
  endif()
endfunction()

# Configures test/package/<dir> in WORK_DIR/build with this tree's tools,
# builds it and runs its program.
function(cmake_consumer dir)
  set(build "${WORK_DIR}/build")
  set(tools -G "${GENERATOR}" "-DCMAKE_C_COMPILER=${C_COMPILER}" "-DCMAKE_CXX_COMPILER=${CXX_COMPILER}")
  if(MAKE_PROGRAM)
    list(APPEND tools "-DCMAKE_MAKE_PROGRAM=${MAKE_PROGRAM}")
  endif()
  step("configure ${dir}" "${CMAKE_COMMAND}" -S "${consumers}/${dir}" -B "${build}" ${tools} ${ARGN})
  step("build ${dir}" "${CMAKE_COMMAND}" --build "${build}" --config Debug --parallel 2)  # the test's PROCESSORS
  set(exe "${build}/consumer")
  if(NOT EXISTS "${exe}" AND EXISTS "${build}/Debug/consumer")  # a multi-configuration generator
    set(exe "${build}/Debug/consumer")
  endif()
  run_consumer("${exe}")
endfunction()

if(STEP STREQUAL "install")
  # A fresh prefix, so a file that is no longer installed cannot linger.
  file(REMOVE_RECURSE "${PREFIX}" "${WORK_DIR}")
  file(MAKE_DIRECTORY "${WORK_DIR}")
  set(config "")
  if(CONFIG)
    set(config --config "${CONFIG}")
  endif()
  step("cmake --install" "${CMAKE_COMMAND}" --install "${BUILD_DIR}" --prefix "${PREFIX}" ${config})

  # The package files, and public headers only: nothing of lwIP, of the
  # stack's lwIP port (lwip_port/) or of the libraries' src/ directories.
  foreach(f ${INCLUDEDIR}/lwsp/lwsp.h ${INCLUDEDIR}/lwsp/stack.hpp ${INCLUDEDIR}/lwsp/memlink.hpp
            ${CMAKEDIR}/lwspConfig.cmake ${CMAKEDIR}/lwspConfigVersion.cmake ${CMAKEDIR}/lwspTargets.cmake
            ${PKGCONFIGDIR}/lwsp.pc)
    if(NOT EXISTS "${PREFIX}/${f}")
      message(FATAL_ERROR "package.install: ${f} was not installed")
    endif()
  endforeach()
  file(GLOB_RECURSE headers RELATIVE "${PREFIX}/${INCLUDEDIR}" "${PREFIX}/${INCLUDEDIR}/*")
  # Public: what the libraries' include/ directories hold (stack/include,
  # spi_shim/include, ports/<port>/include).
  set(public "")
  file(GLOB public_dirs LIST_DIRECTORIES true "${SOURCE_DIR}/*/include" "${SOURCE_DIR}/ports/*/include")
  foreach(dir IN LISTS public_dirs)
    file(GLOB_RECURSE some RELATIVE "${dir}" "${dir}/*.h" "${dir}/*.hpp")
    list(APPEND public ${some})
  endforeach()
  foreach(h IN LISTS headers)
    if(NOT h IN_LIST public)
      message(FATAL_ERROR "package.install: ${INCLUDEDIR}/${h} is not a public header of lwsp")
    endif()
  endforeach()
  list(LENGTH headers count)
  message(STATUS "package.install: ${count} public headers, nothing else")

  # Every installed header, in one translation unit, with nothing but the
  # prefix's include directory: no lwIP header is needed.
  set(tu "${WORK_DIR}/all_headers.cpp")
  file(WRITE "${tu}" "// every header lwsp installs\n")
  foreach(h IN LISTS headers)
    file(APPEND "${tu}" "#include \"${h}\"\n")
  endforeach()
  file(APPEND "${tu}" "int main() { return 0; }\n")
  step("compile every installed header" "${CXX_COMPILER}" -std=c++17 -Wall -Wextra -Wpedantic -Werror
       "-I${PREFIX}/${INCLUDEDIR}" -fsyntax-only "${tu}")

elseif(STEP STREQUAL "find_package")
  file(REMOVE_RECURSE "${WORK_DIR}")
  set(no_registry -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF -DCMAKE_FIND_USE_SYSTEM_PACKAGE_REGISTRY=OFF)
  cmake_consumer(find_package "-DCMAKE_PREFIX_PATH=${PREFIX}" -DCMAKE_BUILD_TYPE=Debug ${no_registry})
  # The package must be the one just installed.
  file(STRINGS "${WORK_DIR}/build/CMakeCache.txt" found REGEX "^lwsp_DIR:")
  if(NOT found STREQUAL "lwsp_DIR:PATH=${PREFIX}/${CMAKEDIR}")
    message(FATAL_ERROR "package.find_package: lwsp found elsewhere: ${found}")
  endif()
  # The same against the build tree's export (lwsp_DIR=<build>).
  set(WORK_DIR "${WORK_DIR}/build-tree")
  cmake_consumer(find_package "-Dlwsp_DIR=${BUILD_DIR}" -DCMAKE_BUILD_TYPE=Debug ${no_registry})

elseif(STEP STREQUAL "pkg_config")
  file(REMOVE_RECURSE "${WORK_DIR}")
  file(MAKE_DIRECTORY "${WORK_DIR}")
  # Only the prefix's lwsp.pc: no other installation may answer.
  set(ENV{PKG_CONFIG_LIBDIR} "${PREFIX}/${PKGCONFIGDIR}")
  unset(ENV{PKG_CONFIG_PATH})
  step("pkg-config --cflags --libs lwsp" "${PKG_CONFIG}" --cflags --libs lwsp)
  string(STRIP "${step_output}" flags)
  message(STATUS "package.pkg_config: ${flags}")
  separate_arguments(flags UNIX_COMMAND "${flags}")
  # What a Makefile writes: c++ main.cpp $(pkg-config --cflags --libs lwsp)
  step("compile and link" "${CXX_COMPILER}" -Wall -Wextra -Wpedantic -Werror "${consumers}/main.cpp" ${flags}
       -o "${WORK_DIR}/consumer")
  run_consumer("${WORK_DIR}/consumer")

elseif(STEP STREQUAL "add_subdirectory")
  # WORK_DIR stays between runs: only the first compiles lwIP.
  cmake_consumer(add_subdirectory "-DLWSP_SOURCE_DIR=${SOURCE_DIR}" "-DLWSP_LWIP_DIR=${LWIP_DIR}"
                 "-DLWSP_SANITIZE=${SANITIZE}" -DCMAKE_BUILD_TYPE=Debug)

else()
  message(FATAL_ERROR "run.cmake: unknown STEP ${STEP}")
endif()
