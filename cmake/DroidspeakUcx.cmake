# SPDX-FileCopyrightText: 2026 The droidspeak authors
# SPDX-License-Identifier: Apache-2.0
# droidspeak::ucx: the UCX transport (include/droidspeak/transfer/ucx_*.hpp). Header-only like
# the core, but those headers include <ucp/api/ucp.h>, so the target exists only when UCX is
# found (cmake/DroidspeakFindUcx.cmake: pkg-config, else its headers and libraries). It is
# installed and exported in its own export set, which the package loads only for
# find_package(droidspeak COMPONENTS ucx).
# The rest of transfer/ (cache store, wire format) needs no UCX and is part of the core.
option(DROIDSPEAK_ENABLE_UCX "Build droidspeak::ucx when UCX is found" ON)
if(NOT DROIDSPEAK_ENABLE_UCX)
  message(STATUS "droidspeak: DROIDSPEAK_ENABLE_UCX is OFF; droidspeak::ucx not built")
  return()
endif()
include("${CMAKE_CURRENT_LIST_DIR}/DroidspeakFindUcx.cmake")
if(TARGET DroidspeakUCX::UCX)
  add_library(droidspeak_ucx INTERFACE)
  add_library(droidspeak::ucx ALIAS droidspeak_ucx)
  set_target_properties(droidspeak_ucx PROPERTIES EXPORT_NAME ucx)
  target_link_libraries(droidspeak_ucx INTERFACE droidspeak DroidspeakUCX::UCX)
  message(STATUS "droidspeak: UCX found; droidspeak::ucx built")
else()
  message(STATUS "droidspeak: UCX not found (libucx-dev); droidspeak::ucx not built")
endif()
