# SPDX-FileCopyrightText: 2026 The droidspeak authors
# SPDX-License-Identifier: Apache-2.0
# Runs COMMAND (a ;-list) and checks how it ended. With FAIL=1: a non-zero exit and exactly one
# non-empty line on stderr matching STDERR_REGEX (when given). Without: exit 0, and stdout
# matching STDOUT_REGEX (when given). ABSENT: a file removed before the command that must
# still not exist after it (an output a refused command must not leave behind).
#   cmake -DCOMMAND=a|b|c [-DFAIL=1] [-DSTDERR_REGEX=...] [-DSTDOUT_REGEX=...] [-DABSENT=file]
#         -P expect.cmake
string(REPLACE "|" ";" COMMAND "${COMMAND}")
if(DEFINED ABSENT)
  file(REMOVE "${ABSENT}")
endif()
execute_process(COMMAND ${COMMAND} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(FAIL)
  if(rc EQUAL 0)
    message(FATAL_ERROR "expected a non-zero exit, got 0\nstdout: ${out}\nstderr: ${err}")
  endif()
  if(NOT rc MATCHES "^[0-9]+$")
    message(FATAL_ERROR "expected an exit status, the command ended with: ${rc}\nstderr: ${err}")
  endif()
  string(REGEX MATCHALL "\n" newlines "${err}")
  list(LENGTH newlines lines)
  if(NOT lines EQUAL 1 OR NOT err MATCHES "^[^\n]+\n$")
    message(FATAL_ERROR "expected exactly one line on stderr, got ${lines}:\n${err}")
  endif()
  if(DEFINED STDERR_REGEX AND NOT err MATCHES "${STDERR_REGEX}")
    message(FATAL_ERROR "stderr does not match '${STDERR_REGEX}':\n${err}")
  endif()
  if(DEFINED ABSENT AND EXISTS "${ABSENT}")
    message(FATAL_ERROR "the refused command left ${ABSENT} behind")
  endif()
  message(STATUS "exit ${rc}: ${err}")
else()
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "expected exit 0, got ${rc}\nstdout: ${out}\nstderr: ${err}")
  endif()
  if(DEFINED STDOUT_REGEX AND NOT out MATCHES "${STDOUT_REGEX}")
    message(FATAL_ERROR "stdout does not match '${STDOUT_REGEX}':\n${out}")
  endif()
endif()
