// SPDX-FileCopyrightText: 2026 The droidspeak authors
// SPDX-License-Identifier: Apache-2.0
//! @file One step of a spin-wait that keeps the processor: the x86 `pause` hint (the sibling
//! hyper-thread runs meanwhile, and the loop's exit is not mispredicted), a yield elsewhere.
#pragma once

#include "droidspeak/core/config.hpp"

#include <thread>

namespace droidspeak { inline namespace DROIDSPEAK_ABI {

//! A pause for a spin-wait of microseconds. Unlike std::this_thread::yield() it does not hand
//! the core to another runnable thread, which on a loaded core keeps it for a whole time slice
//! (milliseconds).
inline void cpu_relax() noexcept {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#else
  std::this_thread::yield();
#endif
}

}}  // namespace droidspeak::DROIDSPEAK_ABI
