# SPDX-FileCopyrightText: 2026 The droidspeak authors
# SPDX-License-Identifier: Apache-2.0
# droidspeak::ucx: the UCX transport (include/droidspeak/transfer/ucx_*.hpp). Header-only like
# the core, but those headers include <ucp/api/ucp.h>, so the target exists only when UCX is
# found: through pkg-config (`ucx`), else by its headers and its ucp, uct and ucs libraries.
# The rest of transfer/ (cache store, wire format) needs no UCX and is part of the core.
option(DROIDSPEAK_ENABLE_UCX "Build droidspeak::ucx when UCX is found" ON)
if(NOT DROIDSPEAK_ENABLE_UCX)
  message(STATUS "droidspeak: DROIDSPEAK_ENABLE_UCX is OFF; droidspeak::ucx not built")
  return()
endif()
find_package(PkgConfig QUIET)
if(PkgConfig_FOUND)
  pkg_check_modules(DROIDSPEAK_UCX QUIET IMPORTED_TARGET ucx)
endif()
set(_ds_ucx_link "")
if(TARGET PkgConfig::DROIDSPEAK_UCX)
  set(_ds_ucx_link PkgConfig::DROIDSPEAK_UCX)
else()
  find_path(DROIDSPEAK_UCX_INCLUDE_DIR ucp/api/ucp.h)
  find_library(DROIDSPEAK_UCP_LIBRARY ucp)
  find_library(DROIDSPEAK_UCT_LIBRARY uct)
  find_library(DROIDSPEAK_UCS_LIBRARY ucs)
  if(DROIDSPEAK_UCX_INCLUDE_DIR AND DROIDSPEAK_UCP_LIBRARY AND DROIDSPEAK_UCT_LIBRARY
     AND DROIDSPEAK_UCS_LIBRARY)
    add_library(droidspeak_ucx_imported INTERFACE IMPORTED)
    target_include_directories(droidspeak_ucx_imported INTERFACE "${DROIDSPEAK_UCX_INCLUDE_DIR}")
    target_link_libraries(droidspeak_ucx_imported INTERFACE "${DROIDSPEAK_UCP_LIBRARY}"
                          "${DROIDSPEAK_UCT_LIBRARY}" "${DROIDSPEAK_UCS_LIBRARY}")
    set(_ds_ucx_link droidspeak_ucx_imported)
  endif()
endif()
if(_ds_ucx_link)
  add_library(droidspeak_ucx INTERFACE)
  add_library(droidspeak::ucx ALIAS droidspeak_ucx)
  set_target_properties(droidspeak_ucx PROPERTIES EXPORT_NAME ucx)
  target_link_libraries(droidspeak_ucx INTERFACE droidspeak ${_ds_ucx_link})
  message(STATUS "droidspeak: UCX found; droidspeak::ucx built")
else()
  message(STATUS "droidspeak: UCX not found (libucx-dev); droidspeak::ucx not built")
endif()
