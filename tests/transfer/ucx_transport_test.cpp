// SPDX-FileCopyrightText: 2026 The droidspeak authors
// SPDX-License-Identifier: Apache-2.0
// The UCX transport on loopback: a sender thread (or a forked sender process) and a receiver
// in this process, each with its own UCX context and worker.
#include "droidspeak/transfer/ucx_transport.hpp"

#include <doctest/doctest.h>

#include <poll.h>      // poll: bounded wait for the child's port
#include <signal.h>    // kill
#include <sys/wait.h>  // waitpid
#include <unistd.h>    // fork, pipe, _exit

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

using namespace droidspeak;
using namespace droidspeak::transfer;
using droidspeak::layout::LayerSet;
using droidspeak::prefill::TransferTag;

// Checks that a Status is ok and prints its message when it is not.
#define CHECK_OK(expr)                                  \
  do {                                                  \
    const ::droidspeak::Status check_ok_status_ = (expr); \
    CHECK_MESSAGE(check_ok_status_.is_ok(), check_ok_status_.to_string()); \
  } while (false)

namespace {
constexpr std::uint64_t kContext = 0xC0417E27;
constexpr std::uint64_t kSender = 0x5E4D;

//! The bytes of one chunk: a pattern that differs per layer, kind and position.
std::vector<std::byte> chunk_bytes(std::int64_t layer, Payload kind, std::size_t n) {
  std::vector<std::byte> v(n);
  const std::size_t salt = static_cast<std::size_t>(layer) * 7 + (kind == Payload::kE ? 3 : 5);
  for (std::size_t i = 0; i < n; ++i) v[i] = static_cast<std::byte>((i * 131 + salt + (i >> 12)) & 0xFF);
  return v;
}
//! Chunk sizes span eager and rendezvous sizes; no two are equal.
std::size_t chunk_size(std::int64_t layer, Payload kind) {
  return kind == Payload::kE ? 1000 + static_cast<std::size_t>(layer) : (std::size_t{1} << 20) + 17 * static_cast<std::size_t>(layer);
}

void fill(CacheStore& store, const Needs& needs, std::uint64_t context = kContext, std::uint64_t model = kSender,
          std::size_t (*size)(std::int64_t, Payload) = chunk_size) {
  for (Payload kind : {Payload::kE, Payload::kKv}) {
    const LayerSet& s = kind == Payload::kE ? needs.e_layers : needs.kv_layers;
    for (std::int64_t i = 0; i < s.count(); ++i) {
      const std::int64_t l = s.nth(i);
      REQUIRE(store.put({context, model, CacheOrigin::kFullPrefill}, l, kind, chunk_bytes(l, kind, size(l, kind))).is_ok());
    }
  }
}

//! A sender served by its own thread until destruction.
struct ServingSender {
  explicit ServingSender(CacheStore& store, SenderOptions options = {}) {
    auto s = UcxSender::listen(store, std::move(options));
    REQUIRE_MESSAGE(s.is_ok(), s.status().to_string());
    sender = std::move(*s);
    thread = std::thread([this] { result = sender->serve(stop); });
  }
  ~ServingSender() { finish(); }
  void finish() {
    stop = true;
    if (thread.joinable()) thread.join();
  }
  std::unique_ptr<UcxSender> sender;
  std::atomic<bool> stop{false};
  std::thread thread;
  Status result;
};

std::unique_ptr<UcxReceiver> connect(std::uint16_t port, std::chrono::milliseconds timeout = std::chrono::milliseconds(10000)) {
  auto r = UcxReceiver::connect("127.0.0.1", port, ReceiverOptions{timeout, ""});
  REQUIRE_MESSAGE(r.is_ok(), r.status().to_string());
  return std::move(*r);
}

//! Fetches one chunk and checks its bytes against what the sender stored.
Status fetch_and_check(UcxReceiver& r, std::int64_t layer, Payload kind) {
  std::vector<std::byte> dst(chunk_size(layer, kind));
  Status s = r.transmit(TransferTag{kind, layer}, {}, dst);
  if (s.is_ok()) CHECK(dst == chunk_bytes(layer, kind, dst.size()));
  return s;
}

//! The fault tests' start: KV layers 0..2 stored and served under `options`, and a receiver
//! (answer timeout `timeout`) that has requested them and fetched layer 0 intact.
struct FaultSession {
  explicit FaultSession(SenderOptions options,
                        std::chrono::milliseconds timeout = std::chrono::milliseconds(10000)) {
    fill(store, needs);
    serving.emplace(store, std::move(options));
    r = connect(serving->sender->port(), timeout);
    REQUIRE(r->request(kContext, kSender, needs).is_ok());
    CHECK_OK(fetch_and_check(*r, 0, Payload::kKv));
  }
  CacheStore store{64 << 20};
  const Needs needs{{}, LayerSet::range(0, 3)};
  std::optional<ServingSender> serving;  // constructed once the store is filled
  std::unique_ptr<UcxReceiver> r;
};
}  // namespace

TEST_CASE("E and KV chunks cross UCX on loopback in the schedule's order with bytes and checksums intact") {
  CacheStore store(64 << 20);
  const plan::ReusePlan plan = *plan::ReusePlan::create(8, {{0, 1}, {5, 5}});
  const Needs needs = Needs::of(plan);  // E[5]; KV of 2, 3, 4, 6, 7
  fill(store, needs);
  ServingSender serving(store);
  REQUIRE(serving.sender->port() != 0);
  auto r = connect(serving.sender->port());

  REQUIRE(r->request(kContext, kSender, needs).is_ok());
  CHECK_OK(fetch_and_check(*r, 5, Payload::kE));
  for (std::int64_t l : {2, 3, 4, 6, 7}) CHECK_OK(fetch_and_check(*r, l, Payload::kKv));
  const std::vector<TransferTag> sent = r->log().tags();
  REQUIRE(sent.size() == 6);
  CHECK(sent[0] == TransferTag{Payload::kE, 5});
  CHECK(sent[5] == TransferTag{Payload::kKv, 7});

  // A src of the destination's size is accepted (never read); any other size is refused.
  REQUIRE(r->request(kContext, kSender, {{}, LayerSet::range(2, 3)}).is_ok());
  std::vector<std::byte> dst(chunk_size(2, Payload::kKv));
  std::vector<std::byte> wrong_src(3);
  CHECK(r->transmit({Payload::kKv, 2}, wrong_src, dst).code() == StatusCode::kErrorInvalidArgument);
  const std::vector<std::byte> same_size_src(dst.size());
  CHECK_OK(r->transmit({Payload::kKv, 2}, same_size_src, dst));
  CHECK(dst == chunk_bytes(2, Payload::kKv, dst.size()));
  // A chunk outside the request, or a destination of the wrong size, is refused.
  CHECK(r->transmit({Payload::kKv, 3}, {}, dst).code() == StatusCode::kErrorInvalidArgument);
  REQUIRE(r->request(kContext, kSender, {{}, LayerSet::range(3, 4)}).is_ok());
  std::vector<std::byte> short_dst(10);
  CHECK(r->transmit({Payload::kKv, 3}, {}, short_dst).code() == StatusCode::kErrorInvalidArgument);

  // Into a registered region: the same bytes.
  std::vector<std::byte> region(3 * chunk_size(7, Payload::kKv));
  REQUIRE(r->register_memory(region).is_ok());
  CHECK(r->register_memory(std::span<std::byte>(region).subspan(8, 8)).code() == StatusCode::kErrorInvalidArgument);
  REQUIRE(r->request(kContext, kSender, {{}, LayerSet::range(6, 8)}).is_ok());
  const std::span<std::byte> into = std::span<std::byte>(region).subspan(5, chunk_size(7, Payload::kKv));
  CHECK_OK(r->transmit({Payload::kKv, 7}, {}, into));
  CHECK(std::vector<std::byte>(into.begin(), into.end()) == chunk_bytes(7, Payload::kKv, into.size()));
  CHECK_OK(r->unregister_memory(region));
  CHECK(r->unregister_memory(region).code() == StatusCode::kErrorInvalidArgument);

  r.reset();
  serving.finish();
  REQUIRE(serving.result.is_ok());
  CHECK(serving.sender->stats().chunks_sent >= 8);
  CHECK(serving.sender->stats().misses == 0);
}

TEST_CASE("a miss reaches the receiver as 'full prefill: <reason>' and the sender keeps serving") {
  CacheStore store(64 << 20);
  const Needs needs{LayerSet::range(1, 2), LayerSet::range(0, 2)};
  fill(store, needs);
  ServingSender serving(store);
  auto r = connect(serving.sender->port());

  REQUIRE(r->request(kContext + 1, kSender, needs).is_ok());
  Status s = fetch_and_check(*r, 1, Payload::kE);
  CHECK(s.code() == StatusCode::kErrorIo);
  CHECK(s.message().rfind("full prefill: absent", 0) == 0);
  REQUIRE(r->sender_error().has_value());
  CHECK(r->sender_error()->miss == MissReason::kAbsent);
  CHECK(fetch_and_check(*r, 0, Payload::kKv).message() == s.message());  // the request stays failed

  REQUIRE(r->request(kContext, 0xBAD, needs).is_ok());
  s = fetch_and_check(*r, 0, Payload::kKv);
  CHECK(s.message().rfind("full prefill: fingerprint mismatch", 0) == 0);

  REQUIRE(r->request(kContext, kSender, needs).is_ok());
  CHECK_OK(fetch_and_check(*r, 1, Payload::kE));
  CHECK_OK(fetch_and_check(*r, 1, Payload::kKv));
}

TEST_CASE("chunks of several pieces arrive bit for bit whatever their length modulo 64") {
  // 5 MiB + 45 travels as six pieces, 12 MiB as eight, the 1 MiB + 17 of fill() as two.
  const Needs needs{{}, LayerSet::range(0, 3)};
  CacheStore store(64 << 20);
  auto size = [](std::int64_t layer, Payload) -> std::size_t {
    return layer == 0 ? (std::size_t{5} << 20) + 45 : layer == 1 ? std::size_t{12} << 20 : (std::size_t{1} << 20) + 17;
  };
  for (std::int64_t l = 0; l < 3; ++l) {
    REQUIRE(store.put({kContext, kSender, CacheOrigin::kFullPrefill}, l, Payload::kKv,
                      chunk_bytes(l, Payload::kKv, size(l, Payload::kKv))).is_ok());
  }
  ServingSender serving(store);
  auto r = connect(serving.sender->port());
  for (int round = 0; round < 2; ++round) {  // the second round reuses the receiver's worker
    REQUIRE(r->request(kContext, kSender, needs).is_ok());
    for (std::int64_t l = 0; l < 3; ++l) {
      std::vector<std::byte> dst(size(l, Payload::kKv));
      CHECK_OK(r->transmit({Payload::kKv, l}, {}, dst));
      CHECK_MESSAGE(dst == chunk_bytes(l, Payload::kKv, dst.size()), "layer " << l << " round " << round);
    }
  }
}

TEST_CASE("a chunk corrupted on the way fails its checksum while the others arrive intact") {
  SenderOptions o;
  o.faults.corrupt = [](const ChunkKey& k) { return k.kind == Payload::kKv && k.layer == 1; };
  FaultSession t(std::move(o));
  std::vector<std::byte> dst(chunk_size(1, Payload::kKv));
  const Status s = t.r->transmit({Payload::kKv, 1}, {}, dst);
  CHECK(s.code() == StatusCode::kErrorIo);
  CHECK(s.message().find("checksum mismatch") != std::string::npos);
  CHECK_OK(fetch_and_check(*t.r, 2, Payload::kKv));
}

TEST_CASE("a chunk that never arrives times out with a Status and later chunks still arrive") {
  SenderOptions o;
  o.faults.withhold = [](const ChunkKey& k) { return k.layer == 1; };
  FaultSession t(std::move(o), std::chrono::milliseconds(300));
  const Status s = fetch_and_check(*t.r, 1, Payload::kKv);
  CHECK(s.code() == StatusCode::kErrorIo);
  CHECK(s.message().find("timed out") != std::string::npos);
  CHECK_OK(fetch_and_check(*t.r, 2, Payload::kKv));
}

TEST_CASE("a request the receiver abandons has its sends cancelled and the connection stays") {
  SenderOptions o;
  o.send_timeout = std::chrono::milliseconds(100);
  FaultSession t(std::move(o));  // layers 1 and 2 are never asked for
  std::this_thread::sleep_for(std::chrono::milliseconds(1000));  // ten send timeouts
  REQUIRE(t.r->request(kContext, kSender, t.needs).is_ok());
  CHECK_OK(fetch_and_check(*t.r, 2, Payload::kKv));
  t.r.reset();
  t.serving->finish();
  CHECK(t.serving->sender->stats().send_failures >= 2);  // the abandoned sends of layers 1 and 2
  CHECK(t.serving->sender->stats().connections == 1);
}

TEST_CASE("a malformed request gets an error answer and the sender stays up") {
  CacheStore store(64 << 20);
  const Needs needs{{}, LayerSet::range(0, 1)};
  fill(store, needs);
  ServingSender serving(store);
  auto r = connect(serving.sender->port());
  std::vector<std::byte> garbage(40, std::byte{0x41});
  REQUIRE(r->request_raw(garbage, needs).is_ok());
  const Status s = fetch_and_check(*r, 0, Payload::kKv);
  CHECK(s.code() == StatusCode::kErrorIo);
  CHECK(s.message().find("malformed request") != std::string::npos);
  REQUIRE(r->sender_error().has_value());
  CHECK(r->sender_error()->kind == wire::ErrorKind::kMalformed);

  REQUIRE(r->request(kContext, kSender, needs).is_ok());
  CHECK_OK(fetch_and_check(*r, 0, Payload::kKv));
  r.reset();
  serving.finish();
  CHECK(serving.sender->stats().malformed_requests == 1);
}

TEST_CASE("a receiver with no sender at the address gets a Status and not a hang") {
  auto r = UcxReceiver::connect("127.0.0.1", 1, ReceiverOptions{std::chrono::milliseconds(2000), ""});
  if (!r) {
    CHECK(r.status().code() == StatusCode::kErrorIo);  // refused at once
    return;
  }
  const Status s = (*r)->request(kContext, kSender, {{}, LayerSet::range(0, 1)});
  Status t = s;
  if (s.is_ok()) {
    std::vector<std::byte> dst(chunk_size(0, Payload::kKv));
    t = (*r)->transmit({Payload::kKv, 0}, {}, dst);
  }
  CHECK_FALSE(t.is_ok());
  CHECK(UcxReceiver::connect("not-an-address", 5000).status().code() == StatusCode::kErrorInvalidArgument);
}

TEST_CASE("a sender killed mid-stream leaves the receiver with a Status within its timeout") {
  // The sender is a forked child (it creates its UCX context after the fork), so that it can
  // be killed with SIGKILL while the receiver waits.
  int fds[2];
  REQUIRE(pipe(fds) == 0);
  constexpr std::size_t kBig = 16u << 20;  // rendezvous-sized: the bytes move only when asked for
  const Needs needs{{}, LayerSet::range(0, 4)};
  const pid_t child = fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    close(fds[0]);
    CacheStore store(256 << 20);
    for (std::int64_t l = 0; l < 4; ++l) {
      if (!store.put({kContext, kSender, CacheOrigin::kFullPrefill}, l, Payload::kKv, chunk_bytes(l, Payload::kKv, kBig)).is_ok()) _exit(2);
    }
    auto s = UcxSender::listen(store);
    if (!s) _exit(3);
    const std::uint16_t port = (*s)->port();
    if (write(fds[1], &port, sizeof port) != static_cast<ssize_t>(sizeof port)) _exit(4);
    (void)(*s)->progress_for(std::chrono::seconds(30));  // bounded even if nobody kills it
    _exit(0);
  }
  close(fds[1]);
  pollfd pfd{fds[0], POLLIN, 0};
  REQUIRE(poll(&pfd, 1, 20000) == 1);
  std::uint16_t port = 0;
  REQUIRE(read(fds[0], &port, sizeof port) == static_cast<ssize_t>(sizeof port));
  close(fds[0]);

  auto r = connect(port, std::chrono::milliseconds(3000));
  REQUIRE(r->request(kContext, kSender, needs).is_ok());
  std::vector<std::byte> dst(kBig);
  REQUIRE(r->transmit({Payload::kKv, 0}, {}, dst).is_ok());
  CHECK(dst == chunk_bytes(0, Payload::kKv, kBig));

  REQUIRE(kill(child, SIGKILL) == 0);
  int status = 0;
  REQUIRE(waitpid(child, &status, 0) == child);
  CHECK(WIFSIGNALED(status));
  for (std::int64_t l = 1; l < 4; ++l) {
    const Status s = r->transmit({Payload::kKv, l}, {}, dst);
    if (l == 1) MESSAGE("after the kill: " << s.to_string());
    CHECK_FALSE(s.is_ok());
    CHECK(s.code() == StatusCode::kErrorIo);
    INFO(s.message());
    CHECK((s.message().find("failed") != std::string::npos || s.message().find("timed out") != std::string::npos ||
           s.message().find("ucx") != std::string::npos));
  }
}
