# SPDX-FileCopyrightText: 2026 The droidspeak authors
# SPDX-License-Identifier: Apache-2.0
# Installs the build tree BUILD_DIR into a fresh PREFIX (cmake -P; the setup of the
# find_package consumer test) and checks that the package files are there.
foreach(_var BUILD_DIR PREFIX)
  if(NOT DEFINED ${_var})
    message(FATAL_ERROR "install_prefix.cmake: ${_var} is not set")
  endif()
endforeach()
file(REMOVE_RECURSE "${PREFIX}")
set(_config_args "")
if(CONFIG)
  set(_config_args --config "${CONFIG}")
endif()
execute_process(
  COMMAND "${CMAKE_COMMAND}" --install "${BUILD_DIR}" --prefix "${PREFIX}" ${_config_args}
  RESULT_VARIABLE _result)
if(NOT _result EQUAL 0)
  message(FATAL_ERROR "cmake --install ${BUILD_DIR} --prefix ${PREFIX} failed (exit ${_result})")
endif()
file(GLOB_RECURSE _configs "${PREFIX}/*/droidspeakConfig.cmake")
file(GLOB_RECURSE _versions "${PREFIX}/*/droidspeakConfigVersion.cmake")
foreach(_required "${PREFIX}/include/droidspeak/droidspeak.hpp"
                  "${PREFIX}/include/droidspeak/core/version.hpp")
  if(NOT EXISTS "${_required}")
    message(FATAL_ERROR "the install lacks ${_required}")
  endif()
endforeach()
if(NOT _configs OR NOT _versions)
  message(FATAL_ERROR "the install lacks droidspeakConfig.cmake or droidspeakConfigVersion.cmake")
endif()
message(STATUS "installed droidspeak into ${PREFIX}")
