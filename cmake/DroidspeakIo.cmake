# SPDX-FileCopyrightText: 2026 The droidspeak authors
# SPDX-License-Identifier: Apache-2.0
# droidspeak::io: safetensors and HF config.json (include/droidspeak/io/). Header-only like
# the core, but it needs nlohmann_json, so the target exists only when that is found.
find_package(nlohmann_json 3 QUIET)
if(nlohmann_json_FOUND)
  add_library(droidspeak_io INTERFACE)
  add_library(droidspeak::io ALIAS droidspeak_io)
  set_target_properties(droidspeak_io PROPERTIES EXPORT_NAME io)
  target_link_libraries(droidspeak_io INTERFACE droidspeak nlohmann_json::nlohmann_json)
else()
  message(STATUS "droidspeak: nlohmann_json not found; droidspeak::io not built")
endif()
