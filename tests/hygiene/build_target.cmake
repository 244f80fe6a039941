# SPDX-FileCopyrightText: 2026 The droidspeak authors
# SPDX-License-Identifier: Apache-2.0
# Builds TARGETS of the build tree BUILD_DIR (cmake -P, run by a hygiene test).
#   EXPECT=success  the build must succeed;
#   EXPECT=failure  the build must fail and its output must match REGEX (so that a test
#                   that expects a compile error cannot pass because of another error).
# CONFIG selects the configuration of a multi-config generator; NATIVE_ARGS go to the
# native build tool (e.g. -k to keep going after the first error).
foreach(_var BUILD_DIR TARGETS EXPECT)
  if(NOT DEFINED ${_var})
    message(FATAL_ERROR "build_target.cmake: ${_var} is not set")
  endif()
endforeach()
set(_config_args "")
if(CONFIG)
  set(_config_args --config "${CONFIG}")
endif()
set(_native_args "")
if(NATIVE_ARGS)
  set(_native_args -- ${NATIVE_ARGS})
endif()
execute_process(
  COMMAND "${CMAKE_COMMAND}" --build "${BUILD_DIR}" --target ${TARGETS} ${_config_args} ${_native_args}
  RESULT_VARIABLE _result
  OUTPUT_VARIABLE _output
  ERROR_VARIABLE _output)
message("${_output}")
if(EXPECT STREQUAL "success")
  if(NOT _result EQUAL 0)
    message(FATAL_ERROR "building ${TARGETS} failed (exit ${_result}); see the output above")
  endif()
elseif(EXPECT STREQUAL "failure")
  if(_result EQUAL 0)
    message(FATAL_ERROR "building ${TARGETS} succeeded but must fail to compile")
  endif()
  if(NOT _output MATCHES "${REGEX}")
    message(FATAL_ERROR "building ${TARGETS} failed, but no diagnostic matches '${REGEX}': "
                        "it failed for another reason (see the output above)")
  endif()
  message(STATUS "building ${TARGETS} failed as expected (diagnostic matches '${REGEX}')")
else()
  message(FATAL_ERROR "build_target.cmake: EXPECT must be success or failure, not '${EXPECT}'")
endif()
