# scanemu_target_defaults(<target>)
# Warnings, -Werror and sanitizers are applied per target, never globally, so
# imported third-party targets are compiled and linked as Debian ships them.
function(scanemu_target_defaults target)
  target_compile_options(${target} PRIVATE
    -Wall -Wextra -Wshadow -Wformat=2 -Wvla
    $<$<COMPILE_LANGUAGE:C>:-Wstrict-prototypes -Wmissing-prototypes>)
  target_compile_definitions(${target} PRIVATE _GNU_SOURCE)
  if(SCANEMU_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
  if(SCANEMU_SANITIZE)
    target_compile_options(${target} PRIVATE
      -fsanitize=${SCANEMU_SANITIZE} -fno-omit-frame-pointer
      -fno-sanitize-recover=all)
    # C++ calling COM objects implemented in C (the wias streams): those
    # carry no RTTI, so UBSan's vptr check would report every call.
    if(SCANEMU_SANITIZE MATCHES "undefined|vptr")
      target_compile_options(${target} PRIVATE $<$<COMPILE_LANGUAGE:CXX>:-fno-sanitize=vptr>)
    endif()
    target_link_options(${target} PRIVATE -fsanitize=${SCANEMU_SANITIZE})
  endif()
endfunction()

# scanemu_check_test(<name> SOURCES ... LIBS ... [TIMEOUT s])
# One Check executable per suite, registered with CTest. CK_FORK stays at
# Check's default (fork), so a crashing test is a failed test.
function(scanemu_check_test name)
  cmake_parse_arguments(ARG "" "TIMEOUT" "SOURCES;LIBS" ${ARGN})
  add_executable(${name} ${ARG_SOURCES})
  scanemu_target_defaults(${name})
  target_link_libraries(${name} PRIVATE ${ARG_LIBS} PkgConfig::CHECK)
  add_test(NAME ${name} COMMAND ${name})
  if(NOT ARG_TIMEOUT)
    set(ARG_TIMEOUT 300)
  endif()
  set_tests_properties(${name} PROPERTIES
    TIMEOUT ${ARG_TIMEOUT}
    ENVIRONMENT "CK_VERBOSITY=normal;SCANEMU_SOURCE_DIR=${PROJECT_SOURCE_DIR};SCANEMU_BINARY_DIR=${PROJECT_BINARY_DIR}")
endfunction()
