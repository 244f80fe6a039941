// SPDX-FileCopyrightText: 2026 The droidspeak authors
// SPDX-License-Identifier: Apache-2.0
//! @file A receiver that sends a `droidspeak serve` process a malformed request (40 bytes
//! that are no wire frame) and prints the sender's answer, for serve_test.sh: exit 0 when the
//! sender answered "malformed request", 1 otherwise (no answer, a crash, another error).
//! Usage: malformed_request_client HOST PORT
#include "droidspeak/transfer/ucx_transport.hpp"

#include <chrono>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

int main(int argc, char** argv) {
  using namespace droidspeak;
  if (argc != 3) {
    std::fprintf(stderr, "usage: malformed_request_client HOST PORT\n");
    return 2;
  }
  auto r = transfer::UcxReceiver::connect(argv[1], static_cast<std::uint16_t>(std::atoi(argv[2])),
                                          {std::chrono::milliseconds(5000), ""});
  if (!r) {
    std::printf("connect: %s\n", r.status().message().c_str());
    return 1;
  }
  const transfer::Needs needs{{}, layout::LayerSet::range(0, 1)};
  const std::vector<std::byte> garbage(40, std::byte{0x41});
  Status s = (*r)->request_raw(garbage, needs);
  if (s.is_ok()) {
    std::vector<std::byte> dst(64);
    s = (*r)->transmit({prefill::Payload::kKv, 0}, {}, dst);
  }
  std::printf("the sender answered: %s\n", s.is_ok() ? "a chunk" : s.message().c_str());
  return !s.is_ok() && s.message().find("malformed request") != std::string::npos ? 0 : 1;
}
