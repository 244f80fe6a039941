# SPDX-FileCopyrightText: 2026 The droidspeak authors
# SPDX-License-Identifier: Apache-2.0
# cmake -DCLANGXX=... -DSOURCE_DIR=<tests/fuzz> -DBINARY_DIR=... -DINCLUDE_DIR=...
#       -DTARGET=<name> -DSECONDS=<n> -P run_fuzz.cmake
# Configures and builds the fuzz sub-project with clang (once per build tree), then runs
# TARGET for SECONDS seconds over a scratch copy of its committed seed corpus. Fails on any
# crash, leak, sanitizer report or timeout the fuzzer finds.
foreach(_v CLANGXX SOURCE_DIR BINARY_DIR INCLUDE_DIR TARGET SECONDS)
  if(NOT DEFINED ${_v})
    message(FATAL_ERROR "run_fuzz.cmake: -D${_v}=... is required")
  endif()
endforeach()

set(_build "${BINARY_DIR}/build")
execute_process(
  COMMAND "${CMAKE_COMMAND}" -S "${SOURCE_DIR}/project" -B "${_build}"
          "-DCMAKE_CXX_COMPILER=${CLANGXX}" -DCMAKE_BUILD_TYPE=RelWithDebInfo
          "-DDROIDSPEAK_INCLUDE_DIR=${INCLUDE_DIR}"
  RESULT_VARIABLE _rc)
if(NOT _rc EQUAL 0)
  message(FATAL_ERROR "configuring the fuzz project failed")
endif()
execute_process(COMMAND "${CMAKE_COMMAND}" --build "${_build}" --target ${TARGET}
                RESULT_VARIABLE _rc)
if(NOT _rc EQUAL 0)
  message(FATAL_ERROR "building ${TARGET} failed")
endif()

# libFuzzer adds what it finds to the first corpus directory: a scratch copy, never the
# committed seeds. Crash reproducers land in artifacts/.
set(_corpus "${BINARY_DIR}/corpus-${TARGET}")
set(_artifacts "${BINARY_DIR}/artifacts-${TARGET}/")
file(REMOVE_RECURSE "${_corpus}")
file(MAKE_DIRECTORY "${_corpus}" "${_artifacts}")
string(REPLACE "_fuzz" "" _name "${TARGET}")
# -max_len: the seeds include ~30 KB headers (a checkpoint's worth of tensors, a config with
# label maps), and mutations may grow them further.
set(_args -max_total_time=${SECONDS} -timeout=10 -rss_limit_mb=2048 -max_len=65536
          -print_final_stats=1 "-artifact_prefix=${_artifacts}")
if(EXISTS "${SOURCE_DIR}/${_name}.dict")
  list(APPEND _args "-dict=${SOURCE_DIR}/${_name}.dict")
endif()
execute_process(
  COMMAND "${_build}/${TARGET}" ${_args} "${_corpus}" "${SOURCE_DIR}/corpus/${_name}"
  RESULT_VARIABLE _rc)
if(NOT _rc EQUAL 0)
  message(FATAL_ERROR "${TARGET} found a failure (exit ${_rc}); reproducer in ${_artifacts}")
endif()
