# SPDX-FileCopyrightText: 2026 The droidspeak authors
# SPDX-License-Identifier: Apache-2.0
# Textual rules on the public headers under INCLUDE_DIR (cmake -P, run by a hygiene test).
#   CHECK=style     every header opens with the two SPDX lines and a `//! @file` line, has
#                   `#pragma once` before its first #include, and (for .hpp) includes no
#                   CUDA header: only .cuh headers may need nvcc;
#   CHECK=umbrella  droidspeak/droidspeak.hpp includes every header of its modules (but
#                   those under detail/, and the run-artefact files that include an io/
#                   header: they need nlohmann_json, which the umbrella does not);
#   CHECK=layers    no header includes one of a module above its own (see _layer_forbids):
#                   io/ holds model files and sits below plan/ and profile/, plan/ decides
#                   without knowing the executor or the profiler, and so on.
cmake_policy(SET CMP0057 NEW)  # if(... IN_LIST ...) in script mode
if(NOT DEFINED INCLUDE_DIR OR NOT DEFINED CHECK)
  message(FATAL_ERROR "header_rules.cmake: set INCLUDE_DIR and CHECK")
endif()
set(_umbrella_modules core layout plan prefill profile serving)  # keep in step with droidspeak/droidspeak.hpp
# The modules each module's headers must not include (the layering of DESIGN.md). plan/ and
# profile/ may include io/ (their file formats read JSON through io/detail), never the reverse.
# serving/ (many requests over one link) runs prefill/ with plan/'s decisions; it is a run-time
# module beside the offline profile/, and neither needs the other.
set(_layer_forbids_core layout plan prefill profile serving io reference)
set(_layer_forbids_layout plan prefill profile serving io reference)
set(_layer_forbids_io plan prefill profile serving reference)
set(_layer_forbids_plan prefill profile serving reference)
set(_layer_forbids_prefill profile serving io reference)
set(_layer_forbids_profile serving reference)
set(_layer_forbids_serving profile io reference)
set(_cuda_header_regex "#[ \t]*include[ \t]*[<\"](cuda[a-zA-Z_0-9]*\\.h|cub/|thrust/|cuda/|cooperative_groups|mma\\.h|nvtx)")
set(_problems "")

if(CHECK STREQUAL "style")
  file(GLOB_RECURSE _headers RELATIVE "${INCLUDE_DIR}" "${INCLUDE_DIR}/droidspeak/*.hpp"
       "${INCLUDE_DIR}/droidspeak/*.cuh")
  list(SORT _headers)
  foreach(_h IN LISTS _headers)
    file(READ "${INCLUDE_DIR}/${_h}" _text)
    if(NOT _text MATCHES "^// SPDX-FileCopyrightText: [^\n]+\n// SPDX-License-Identifier: [^\n]+\n//! @file [^\n]+")
      string(APPEND _problems "  ${_h}: must open with '// SPDX-FileCopyrightText: ...', "
                              "'// SPDX-License-Identifier: ...', '//! @file <purpose>'\n")
    endif()
    string(FIND "${_text}" "\n#pragma once\n" _pragma)
    string(FIND "${_text}" "\n#include" _include)
    if(_pragma EQUAL -1)
      string(APPEND _problems "  ${_h}: has no '#pragma once' line\n")
    elseif(NOT _include EQUAL -1 AND _include LESS _pragma)
      string(APPEND _problems "  ${_h}: '#pragma once' must come before the first #include\n")
    endif()
    if(_h MATCHES "\\.hpp$" AND _text MATCHES "${_cuda_header_regex}")
      string(APPEND _problems "  ${_h}: includes a CUDA header (${CMAKE_MATCH_0}); only .cuh "
                              "headers may (host headers compile without CUDA)\n")
    endif()
  endforeach()
  list(LENGTH _headers _count)
  set(_what "${_count} headers follow the file-opening rules")
elseif(CHECK STREQUAL "umbrella")
  set(_umbrella "droidspeak/droidspeak.hpp")
  file(READ "${INCLUDE_DIR}/${_umbrella}" _text)
  set(_count 0)
  foreach(_module IN LISTS _umbrella_modules)
    file(GLOB_RECURSE _headers RELATIVE "${INCLUDE_DIR}" "${INCLUDE_DIR}/droidspeak/${_module}/*.hpp")
    list(SORT _headers)
    list(FILTER _headers EXCLUDE REGEX "/detail/")  # internals come with their users
    foreach(_h IN LISTS _headers)
      file(READ "${INCLUDE_DIR}/${_h}" _header_text)
      if(_header_text MATCHES "#include \"droidspeak/io/")
        continue()  # a file format on JSON: needs droidspeak::io, documented in the umbrella
      endif()
      string(FIND "${_text}" "#include \"${_h}\"" _at)
      if(_at EQUAL -1)
        string(APPEND _problems "  ${_umbrella} does not include \"${_h}\"\n")
      endif()
      math(EXPR _count "${_count} + 1")
    endforeach()
  endforeach()
  set(_what "${_umbrella} includes all ${_count} headers of ${_umbrella_modules}")
elseif(CHECK STREQUAL "layers")
  set(_count 0)
  foreach(_module core layout io plan prefill profile serving)
    file(GLOB_RECURSE _headers RELATIVE "${INCLUDE_DIR}" "${INCLUDE_DIR}/droidspeak/${_module}/*.hpp")
    list(SORT _headers)
    foreach(_h IN LISTS _headers)
      file(STRINGS "${INCLUDE_DIR}/${_h}" _includes REGEX "^[ \t]*#[ \t]*include[ \t]*[<\"]droidspeak/")
      foreach(_line IN LISTS _includes)
        if(_line MATCHES "droidspeak/([a-z_]+)/" AND CMAKE_MATCH_1 IN_LIST _layer_forbids_${_module})
          string(APPEND _problems "  ${_h}: includes ${CMAKE_MATCH_1}/ ('${_line}'); ${_module}/ sits below "
                                  "${CMAKE_MATCH_1}/ and must not need it\n")
        endif()
      endforeach()
      math(EXPR _count "${_count} + 1")
    endforeach()
  endforeach()
  set(_what "${_count} headers of core, layout, io, plan, prefill, profile and serving respect the layering")
else()
  message(FATAL_ERROR "header_rules.cmake: CHECK must be style, umbrella or layers, not '${CHECK}'")
endif()

if(_problems)
  message(FATAL_ERROR "header rules (${CHECK}) broken:\n${_problems}")
endif()
message(STATUS "${_what}")
