# SPDX-FileCopyrightText: 2026 The droidspeak authors
# SPDX-License-Identifier: Apache-2.0
# Warnings are errors in our own code (never in a consumer's: these flags are PRIVATE).
function(droidspeak_target_warnings target)
  target_compile_options(${target} PRIVATE
    $<$<COMPILE_LANGUAGE:CXX>:-Wall -Wextra -Wpedantic -Werror>
    # GCC 12 reports std::string concatenation as overlapping memcpy at -O2 (GCC PR105651,
    # fixed in 13): a false positive inside libstdc++, not in our code.
    $<$<AND:$<COMPILE_LANGUAGE:CXX>,$<CXX_COMPILER_ID:GNU>,$<VERSION_LESS:$<CXX_COMPILER_VERSION>,13>>:-Wno-restrict>
    $<$<COMPILE_LANGUAGE:CUDA>:-Werror=all-warnings -Xcompiler=-Wall,-Wextra,-Werror>
    # The same GCC 12 false positive, in nvcc's host compilation (host compiler = CXX's).
    $<$<AND:$<COMPILE_LANGUAGE:CUDA>,$<CXX_COMPILER_ID:GNU>,$<VERSION_LESS:$<CXX_COMPILER_VERSION>,13>>:-Xcompiler=-Wno-restrict>)
endfunction()

# AddressSanitizer + UndefinedBehaviorSanitizer (DROIDSPEAK_SANITIZE) or ThreadSanitizer
# (DROIDSPEAK_SANITIZE_THREAD) for host test binaries.
function(droidspeak_target_sanitize target)
  if(DROIDSPEAK_SANITIZE)
    target_compile_options(${target} PRIVATE
      $<$<COMPILE_LANGUAGE:CXX>:-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer>)
    target_link_options(${target} PRIVATE -fsanitize=address,undefined)
  elseif(DROIDSPEAK_SANITIZE_THREAD)
    target_compile_options(${target} PRIVATE
      $<$<COMPILE_LANGUAGE:CXX>:-fsanitize=thread -fno-omit-frame-pointer>)
    target_link_options(${target} PRIVATE -fsanitize=thread)
  endif()
endfunction()
