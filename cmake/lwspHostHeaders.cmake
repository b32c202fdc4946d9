# Header-only dependencies for every target, the cross builds included.
#
# Catch2 v2 and Boost.Asio are header-only, and Debian installs them once,
# for the build machine, under /usr/include.  A native build finds them with
# find_package as usual.  A cross build for Windows (mingw-w64) cannot put
# /usr/include itself on its include path — glibc's headers there would
# shadow the Windows SDK's — so it gets a directory in the build tree that
# holds only a link to each library's own directory (catch2/, boost/), and an
# imported target of the same name as find_package's.
#
#   lwsp_find_catch2()          Catch2::Catch2 and catch_discover_tests
#   lwsp_catch_tests(target …)  catch_discover_tests, where a test that runs
#                               no test case fails
#   lwsp_find_boost_headers()   Boost::boost (headers only)

# <target>: an imported header-only target whose include directory holds
# only a link to /usr/include/<subdir>.
function(_lwsp_host_header_target subdir target)
  if(TARGET ${target})
    return()
  endif()
  set(host "/usr/include/${subdir}")
  if(NOT EXISTS "${host}")
    message(FATAL_ERROR "${host} is missing (scripts/setup installs it)")
  endif()
  set(dir "${CMAKE_BINARY_DIR}/host_headers/${subdir}")
  file(MAKE_DIRECTORY "${dir}")
  if(NOT EXISTS "${dir}/${subdir}")
    file(CREATE_LINK "${host}" "${dir}/${subdir}" SYMBOLIC)
  endif()
  add_library(${target} INTERFACE IMPORTED GLOBAL)
  set_target_properties(${target} PROPERTIES INTERFACE_INCLUDE_DIRECTORIES "${dir}"
                        INTERFACE_SYSTEM_INCLUDE_DIRECTORIES "${dir}")
endfunction()

macro(lwsp_find_catch2)
  if(CMAKE_CROSSCOMPILING AND WIN32)
    _lwsp_host_header_target(catch2 Catch2::Catch2)
    find_file(LWSP_CATCH_CMAKE Catch.cmake PATHS /usr/lib/cmake/Catch2 /usr/share/cmake/Catch2
              NO_DEFAULT_PATH NO_CMAKE_FIND_ROOT_PATH)
    if(NOT LWSP_CATCH_CMAKE)
      message(FATAL_ERROR "Catch2's Catch.cmake not found (apt-get install catch2)")
    endif()
    include("${LWSP_CATCH_CMAKE}")
  else()
    find_package(Catch2 2 REQUIRED)
    include(Catch)
  endif()
endmacro()

# catch_discover_tests with the same arguments, every test run with
# `-w NoTests`: a test whose name Catch matches to no test case fails
# instead of passing with nothing run.  (CTest cuts a discovered name at
# each ';', so a TEST_CASE named with one became tests that ran nothing.)
function(lwsp_catch_tests target)
  catch_discover_tests(${target} EXTRA_ARGS -w NoTests ${ARGN})
endfunction()

macro(lwsp_find_boost_headers)
  if(CMAKE_CROSSCOMPILING AND WIN32)
    _lwsp_host_header_target(boost Boost::boost)
  else()
    find_package(Boost 1.66 REQUIRED)
  endif()
endmacro()
