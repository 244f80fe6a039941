# SPDX-FileCopyrightText: 2026 The droidspeak authors
# SPDX-License-Identifier: Apache-2.0
# What every consumer project shares, included once droidspeak is available in it.

# droidspeak_consumer_check_subproject(): droidspeak as a subproject (add_subdirectory or
# FetchContent) builds no tests, benchmarks or examples and installs nothing unless asked to.
function(droidspeak_consumer_check_subproject)
  foreach(_option DROIDSPEAK_BUILD_TESTS DROIDSPEAK_BUILD_BENCHMARKS DROIDSPEAK_BUILD_EXAMPLES
                  DROIDSPEAK_INSTALL)
    if(${_option})
      message(FATAL_ERROR "${_option} defaults to ON in a consumer project")
    endif()
  endforeach()
  if(TARGET droidspeak_test_main OR TARGET droidspeak_hygiene_odr)
    message(FATAL_ERROR "droidspeak defined its test targets inside a consumer project")
  endif()
endfunction()

# droidspeak_consumer_add_executable(): the consumer program (../main.cpp) linked to
# droidspeak::droidspeak under strict flags. droidspeak's include directory is SYSTEM for a
# subproject and for a package alike, so its headers never break a consumer's warning policy.
function(droidspeak_consumer_add_executable)
  add_executable(droidspeak_consumer "${CMAKE_CURRENT_FUNCTION_LIST_DIR}/main.cpp")
  target_link_libraries(droidspeak_consumer PRIVATE droidspeak::droidspeak)
  target_compile_options(droidspeak_consumer PRIVATE -Wall -Wextra -Wpedantic -Werror
    -Wconversion -Wsign-conversion -Wshadow
    # GCC 12 flags std::string concatenation at -O2 (PR105651, a libstdc++ false positive).
    $<$<AND:$<CXX_COMPILER_ID:GNU>,$<VERSION_LESS:$<CXX_COMPILER_VERSION>,13>>:-Wno-restrict>)
endfunction()

# droidspeak_consumer_check_dir(): when DROIDSPEAK_EXPECT_DIR is set, the package found
# (droidspeak_DIR) must lie under it, so that a stray system install cannot pass for the one
# under test.
function(droidspeak_consumer_check_dir)
  if(NOT DEFINED DROIDSPEAK_EXPECT_DIR)
    return()
  endif()
  file(REAL_PATH "${DROIDSPEAK_EXPECT_DIR}" _expect_dir)
  file(REAL_PATH "${droidspeak_DIR}" _found_dir)
  string(FIND "${_found_dir}/" "${_expect_dir}/" _at)
  if(NOT _at EQUAL 0)
    message(FATAL_ERROR "found droidspeak in ${droidspeak_DIR}, expected it under ${DROIDSPEAK_EXPECT_DIR}")
  endif()
endfunction()
