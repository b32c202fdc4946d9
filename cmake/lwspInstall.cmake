# lwsp's installed package (LWSP_INSTALL, on when lwsp is the top-level
# project): every library registered with lwsp_library(), its public
# headers, a CMake package and a pkg-config file.
#
#   <prefix>/include/lwsp/              public headers only
#   <libdir>/liblwsp_<library>.a        lwip_core, stack, spi_shim, the ports
#   <libdir>/cmake/lwsp/                lwspConfig.cmake, lwspConfigVersion.cmake,
#                                       lwspTargets*.cmake (targets lwsp::<library>)
#   <libdir>/pkgconfig/lwsp.pc
#   <datadir>/doc/lwsp/                 lwsp's licence and lwIP's
#
# Not installed: lwIP's headers and the stack's port headers for it
# (stack/lwip_port), the libraries' private headers (*/src), lwsp_whitebox,
# tests, examples, benchmarks.  The same targets are also exported into the
# build tree (<build>/lwspTargets.cmake, <build>/lwspConfig.cmake), so
# find_package(lwsp) works with lwsp_DIR=<build> as well.
# test/package builds and runs consumers of all this (CTest label package).
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

get_property(lwsp_libraries GLOBAL PROPERTY LWSP_LIBRARIES)
get_property(lwsp_header_dirs GLOBAL PROPERTY LWSP_PUBLIC_HEADER_DIRS)
set(LWSP_INSTALL_CMAKEDIR "${CMAKE_INSTALL_LIBDIR}/cmake/lwsp" CACHE STRING
    "Where lwsp's CMake package files are installed (relative to the prefix)")
set(LWSP_INSTALL_PKGCONFIGDIR "${CMAKE_INSTALL_LIBDIR}/pkgconfig" CACHE STRING
    "Where lwsp.pc is installed (relative to the prefix)")
mark_as_advanced(LWSP_INSTALL_CMAKEDIR LWSP_INSTALL_PKGCONFIGDIR)

# The libraries are static: each one's exported link interface keeps its
# private links as $<LINK_ONLY:...> — stack -> lwip_core -> stack (the
# cycle, which CMake repeats on a consumer's link line as it does here),
# Threads::Threads — and the sanitizer link flags of a sanitized build.
install(TARGETS ${lwsp_libraries} EXPORT lwspTargets
        ARCHIVE DESTINATION "${CMAKE_INSTALL_LIBDIR}"
        LIBRARY DESTINATION "${CMAKE_INSTALL_LIBDIR}"
        RUNTIME DESTINATION "${CMAKE_INSTALL_BINDIR}"
        INCLUDES DESTINATION "${CMAKE_INSTALL_INCLUDEDIR}")
foreach(dir IN LISTS lwsp_header_dirs)
  install(DIRECTORY "${dir}/" DESTINATION "${CMAKE_INSTALL_INCLUDEDIR}"
          FILES_MATCHING PATTERN "*.h" PATTERN "*.hpp")
endforeach()
install(EXPORT lwspTargets NAMESPACE lwsp:: DESTINATION "${LWSP_INSTALL_CMAKEDIR}")
export(EXPORT lwspTargets NAMESPACE lwsp:: FILE "${PROJECT_BINARY_DIR}/lwspTargets.cmake")

# One lwspConfig.cmake serves the prefix and the build tree: it finds the
# dependencies and includes lwspTargets.cmake from its own directory.
# Boost is no dependency of the package: only linux_tap's and udp_tunnel's
# sources use Boost.Asio, which is header-only (ports/linux_tap/CMakeLists.txt).
configure_package_config_file("${CMAKE_CURRENT_LIST_DIR}/lwspConfig.cmake.in" "${PROJECT_BINARY_DIR}/lwspConfig.cmake"
  INSTALL_DESTINATION "${LWSP_INSTALL_CMAKEDIR}"
  NO_SET_AND_CHECK_MACRO)
# 0.x: a new minor version may change the API, so 0.1 accepts only 0.1.*.
write_basic_package_version_file("${PROJECT_BINARY_DIR}/lwspConfigVersion.cmake"
  COMPATIBILITY SameMinorVersion)
install(FILES "${PROJECT_BINARY_DIR}/lwspConfig.cmake" "${PROJECT_BINARY_DIR}/lwspConfigVersion.cmake"
        DESTINATION "${LWSP_INSTALL_CMAKEDIR}")

# lwsp.pc.  Relocatable when the directories are relative: the prefix is
# found from ${pcfiledir}, so `cmake --install <build> --prefix <any>` gives
# a working file.  Libs in static link order: every library before the ones
# it links (the reverse of lwsp_library()'s order), and the stack/lwip_core
# cycle as a linker group — pkg-config drops all but the last of repeated
# -l flags, so repeating the two, as CMake does, would not survive it.
if(IS_ABSOLUTE "${LWSP_INSTALL_PKGCONFIGDIR}")
  set(lwsp_pc_prefix "${CMAKE_INSTALL_PREFIX}")
else()
  file(RELATIVE_PATH lwsp_pc_up "/p/${LWSP_INSTALL_PKGCONFIGDIR}" "/p")  # ../..
  string(REGEX REPLACE "/$" "" lwsp_pc_up "${lwsp_pc_up}")
  set(lwsp_pc_prefix "\${pcfiledir}/${lwsp_pc_up}")
endif()
foreach(kind LIBDIR INCLUDEDIR)
  if(IS_ABSOLUTE "${CMAKE_INSTALL_${kind}}")
    set(lwsp_pc_${kind} "${CMAKE_INSTALL_${kind}}")
  else()
    set(lwsp_pc_${kind} "\${prefix}/${CMAKE_INSTALL_${kind}}")
  endif()
endforeach()
set(lwsp_pc_libs "")
foreach(lib IN LISTS lwsp_libraries)
  if(NOT lib STREQUAL "stack" AND NOT lib STREQUAL "lwip_core")
    list(PREPEND lwsp_pc_libs "-llwsp_${lib}")
  endif()
endforeach()
if(APPLE)  # ld64 searches all archives until nothing is left; it has no groups
  list(APPEND lwsp_pc_libs -llwsp_stack -llwsp_lwip_core)
else()
  list(APPEND lwsp_pc_libs -Wl,--start-group -llwsp_stack -llwsp_lwip_core -Wl,--end-group)
endif()
if(CMAKE_USE_PTHREADS_INIT)
  list(APPEND lwsp_pc_libs -pthread)
elseif(CMAKE_THREAD_LIBS_INIT)
  list(APPEND lwsp_pc_libs ${CMAKE_THREAD_LIBS_INIT})
endif()
list(APPEND lwsp_pc_libs ${LWSP_SANITIZE_LINK_FLAGS})
list(JOIN lwsp_pc_libs " " lwsp_pc_libs)
configure_file("${CMAKE_CURRENT_LIST_DIR}/lwsp.pc.in" "${PROJECT_BINARY_DIR}/lwsp.pc" @ONLY)
install(FILES "${PROJECT_BINARY_DIR}/lwsp.pc" DESTINATION "${LWSP_INSTALL_PKGCONFIGDIR}")

# Licences: lwsp's, and lwIP's, whose objects liblwsp_lwip_core.a carries
# (lwIP's BSD licence asks that binary redistributions reproduce it).
install(FILES "${PROJECT_SOURCE_DIR}/LICENSE" DESTINATION "${CMAKE_INSTALL_DOCDIR}")
install(FILES "${LWSP_LWIP_DIR}/COPYING" DESTINATION "${CMAKE_INSTALL_DOCDIR}" RENAME LICENSE.lwip)
