# SPDX-FileCopyrightText: 2026 The droidspeak authors
# SPDX-License-Identifier: Apache-2.0
# Fails unless README contains, verbatim, the lines of SOURCE between
# `// example-begin TAG` and `// example-end TAG` (their common indentation removed), so the
# README's code cannot drift from code that is built and run.
# Usage: cmake -DSOURCE=file -DTAG=name -DREADME=README.md -P CheckReadmeSnippet.cmake
# (Whole-text string operations only: list-based line loops would split at semicolons.)
file(READ "${SOURCE}" _text)
if(NOT _text MATCHES "\n([ ]*)// example-begin ${TAG}\n")
  message(FATAL_ERROR "${SOURCE}: no example '${TAG}'")
endif()
set(_indent "${CMAKE_MATCH_1}")
set(_begin_marker "${_indent}// example-begin ${TAG}\n")
set(_end_marker "${_indent}// example-end ${TAG}")
string(FIND "${_text}" "${_begin_marker}" _begin)
string(FIND "${_text}" "${_end_marker}" _end)
if(_end LESS _begin)
  message(FATAL_ERROR "${SOURCE}: example '${TAG}' has no end marker")
endif()
string(LENGTH "${_begin_marker}" _skip)
math(EXPR _from "${_begin} + ${_skip}")
math(EXPR _length "${_end} - ${_from}")
string(SUBSTRING "${_text}" ${_from} ${_length} _body)
set(_body "\n${_body}")
string(REPLACE "\n${_indent}" "\n" _body "${_body}")
string(SUBSTRING "${_body}" 1 -1 _snippet)
file(READ "${README}" _readme)
string(FIND "${_readme}" "${_snippet}" _found)
if(_found EQUAL -1)
  message(FATAL_ERROR "${README} does not hold example '${TAG}' of ${SOURCE} as it is:\n${_snippet}")
endif()
message(STATUS "${README} holds example '${TAG}' of ${SOURCE}")
