# lwsp_library(<target> [PUBLIC_HEADERS <dir>])
#
# Makes <target> one of lwsp's libraries: what a consumer links, named
# lwsp::<target> in the build tree (an ALIAS), in a project that adds lwsp
# with add_subdirectory() and in the installed package (cmake/lwspInstall.cmake
# installs and exports every library registered here, in this order, each
# after the libraries it links).  Call it right after add_library().
#
#   - the archive is liblwsp_<target>.a: a prefix may hold other stacks;
#   - lwsp's warnings apply to the target's own sources as private compile
#     options.  Not by linking lwsp_warnings: a static library's private
#     links become $<LINK_ONLY:...> entries of its exported link interface,
#     and lwsp_warnings is no part of the package;
#   - LWSP_SANITIZE_LINK_FLAGS (a sanitized build) become INTERFACE link
#     options: a program linking instrumented archives needs the runtime;
#   - PUBLIC_HEADERS <dir>: the directory holding the target's public
#     headers (<dir>/lwsp/*.h, *.hpp): its PUBLIC include directory in the
#     build tree, installed to <prefix>/include.  Private headers stay in the
#     target's src/ (white-box tests reach the stack's through lwsp_whitebox).
function(lwsp_library target)
  cmake_parse_arguments(PARSE_ARGV 1 arg "" "PUBLIC_HEADERS" "")
  if(arg_UNPARSED_ARGUMENTS)
    message(FATAL_ERROR "lwsp_library(${target}): unknown arguments ${arg_UNPARSED_ARGUMENTS}")
  endif()
  add_library(lwsp::${target} ALIAS ${target})
  set_target_properties(${target} PROPERTIES OUTPUT_NAME lwsp_${target} EXPORT_NAME ${target})
  target_compile_options(${target} PRIVATE $<TARGET_PROPERTY:lwsp_warnings,INTERFACE_COMPILE_OPTIONS>)
  if(LWSP_SANITIZE_LINK_FLAGS)
    target_link_options(${target} INTERFACE ${LWSP_SANITIZE_LINK_FLAGS})
  endif()
  if(arg_PUBLIC_HEADERS)
    get_filename_component(dir "${arg_PUBLIC_HEADERS}" ABSOLUTE)
    target_include_directories(${target} PUBLIC "$<BUILD_INTERFACE:${dir}>")
    set_property(GLOBAL APPEND PROPERTY LWSP_PUBLIC_HEADER_DIRS "${dir}")
  endif()
  set_property(GLOBAL APPEND PROPERTY LWSP_LIBRARIES ${target})
endfunction()
