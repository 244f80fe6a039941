# SPDX-FileCopyrightText: 2026 The droidspeak authors
# SPDX-License-Identifier: Apache-2.0
# droidspeak::reference: the CPU Llama-family engine (include/droidspeak/reference/).
# Header-only, but it needs droidspeak::io (its weights carry io::HfConfig), a CBLAS
# (Debian: libopenblas-dev, whose cblas.h lives in a multiarch include folder) and threads.
# The target exists only when all of them are found.
find_package(Threads QUIET)

# Prefer OpenBLAS: it ships cblas_* in the same library as the BLAS.
find_path(DROIDSPEAK_CBLAS_INCLUDE_DIR cblas.h
  PATH_SUFFIXES openblas openblas-pthread x86_64-linux-gnu aarch64-linux-gnu
                x86_64-linux-gnu/openblas-pthread aarch64-linux-gnu/openblas-pthread)
find_library(DROIDSPEAK_CBLAS_LIBRARY NAMES openblas cblas blas
  PATH_SUFFIXES openblas-pthread)

if(TARGET droidspeak_io AND Threads_FOUND AND DROIDSPEAK_CBLAS_INCLUDE_DIR
   AND DROIDSPEAK_CBLAS_LIBRARY)
  add_library(droidspeak_reference INTERFACE)
  add_library(droidspeak::reference ALIAS droidspeak_reference)
  set_target_properties(droidspeak_reference PROPERTIES EXPORT_NAME reference)
  target_include_directories(droidspeak_reference SYSTEM INTERFACE
    "${DROIDSPEAK_CBLAS_INCLUDE_DIR}")
  target_link_libraries(droidspeak_reference INTERFACE
    droidspeak droidspeak_io "${DROIDSPEAK_CBLAS_LIBRARY}" Threads::Threads)
  message(STATUS "droidspeak: reference engine with CBLAS ${DROIDSPEAK_CBLAS_LIBRARY}")
else()
  set(_ds_has_io NO)
  if(TARGET droidspeak_io)
    set(_ds_has_io YES)
  endif()
  message(STATUS "droidspeak: droidspeak::reference not built (needs droidspeak::io, threads "
                 "and a CBLAS; found io=${_ds_has_io} "
                 "cblas.h=${DROIDSPEAK_CBLAS_INCLUDE_DIR} lib=${DROIDSPEAK_CBLAS_LIBRARY})")
endif()
