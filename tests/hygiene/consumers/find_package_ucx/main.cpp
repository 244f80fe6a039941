// SPDX-FileCopyrightText: 2026 The droidspeak authors
// SPDX-License-Identifier: Apache-2.0
//! @file The program of the find_package(droidspeak COMPONENTS ucx) consumer: a UCX sender
//! over an empty cache store listens on loopback (any free port) and shuts down, which needs
//! the UCX headers and libraries droidspeak::ucx carries. Exits non-zero on any error status.
#include <cstdio>
#include <droidspeak/transfer/cache_store.hpp>
#include <droidspeak/transfer/ucx_transport.hpp>

int main() {
  droidspeak::transfer::CacheStore store(1 << 20);
  auto sender = droidspeak::transfer::UcxSender::listen(store);  // 127.0.0.1, a free port
  if (!sender) {
    std::fprintf(stderr, "UcxSender::listen: %s\n", sender.status().message().c_str());
    return 1;
  }
  if ((*sender)->port() == 0) {
    std::fprintf(stderr, "the sender reports port 0\n");
    return 1;
  }
  std::printf("droidspeak::ucx consumer: a UCX sender listened on 127.0.0.1:%u\n",
              static_cast<unsigned>((*sender)->port()));
  return 0;
}
