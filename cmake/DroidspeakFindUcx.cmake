# SPDX-FileCopyrightText: 2026 The droidspeak authors
# SPDX-License-Identifier: Apache-2.0
# Finds UCX and defines the imported target DroidspeakUCX::UCX (headers, ucp, uct, ucs) when
# it is found: through pkg-config (`ucx`), else by its headers and libraries. Used twice, with
# the same outcome: by the build (cmake/DroidspeakUcx.cmake) and by the installed package
# (droidspeakConfig.cmake, for COMPONENTS ucx), so that droidspeak::ucx links the same name
# wherever it is imported. Safe to include more than once.
if(TARGET DroidspeakUCX::UCX)
  return()
endif()
find_package(PkgConfig QUIET)
if(PkgConfig_FOUND)
  pkg_check_modules(DROIDSPEAK_UCX QUIET IMPORTED_TARGET ucx)
endif()
if(TARGET PkgConfig::DROIDSPEAK_UCX)
  add_library(DroidspeakUCX::UCX INTERFACE IMPORTED)
  target_link_libraries(DroidspeakUCX::UCX INTERFACE PkgConfig::DROIDSPEAK_UCX)
else()
  find_path(DROIDSPEAK_UCX_INCLUDE_DIR ucp/api/ucp.h)
  find_library(DROIDSPEAK_UCP_LIBRARY ucp)
  find_library(DROIDSPEAK_UCT_LIBRARY uct)
  find_library(DROIDSPEAK_UCS_LIBRARY ucs)
  if(DROIDSPEAK_UCX_INCLUDE_DIR AND DROIDSPEAK_UCP_LIBRARY AND DROIDSPEAK_UCT_LIBRARY
     AND DROIDSPEAK_UCS_LIBRARY)
    add_library(DroidspeakUCX::UCX INTERFACE IMPORTED)
    target_include_directories(DroidspeakUCX::UCX INTERFACE "${DROIDSPEAK_UCX_INCLUDE_DIR}")
    target_link_libraries(DroidspeakUCX::UCX INTERFACE "${DROIDSPEAK_UCP_LIBRARY}"
                          "${DROIDSPEAK_UCT_LIBRARY}" "${DROIDSPEAK_UCS_LIBRARY}")
  endif()
endif()
