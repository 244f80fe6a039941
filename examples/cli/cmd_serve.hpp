// SPDX-FileCopyrightText: 2026 The droidspeak authors
// SPDX-License-Identifier: Apache-2.0
//! @file `droidspeak serve`: the sender as its own process. It loads the sender checkpoint,
//! prefills the contexts it is given (a samples file and/or a context file) capturing E and
//! KV at every layer, keeps them in a transfer::CacheStore keyed by (context hash, model
//! fingerprint, layer, kind), and serves them over UCX (transfer::UcxSender) until a signal,
//! a request count or an idle timeout ends it. A receiver asks by context hash and plan; what
//! the store lacks is a miss, answered with its reason. Needs droidspeak::ucx.
#pragma once

#include <signal.h>  // sigaction, raise: clean shutdown, the kill fault

#include <atomic>
#include <chrono>
#include <cstdio>
#include <string>
#include <unordered_set>
#include <vector>

#include "common.hpp"
#include "remote.hpp"
#include "droidspeak/prefill/sender_caches.hpp"
#include "droidspeak/profile/samples_file.hpp"
#include "droidspeak/reference/compatibility.hpp"  // compatibility_record: the model's fingerprint
#include "droidspeak/transfer/ucx_transport.hpp"

namespace droidspeak_cli {

struct ServeCommand {
  fs::path sender;             //!< checkpoint directory
  fs::path samples;            //!< JSON lines: every sample's context is prefilled (optional)
  fs::path context;            //!< one more context, text or (ids) token ids (optional)
  bool ids = false;
  std::string listen = "127.0.0.1:0";
  fs::path port_file;          //!< written (atomically) with the port once listening
  std::int64_t max_requests = 0;  //!< stop after answering this many requests; 0: no limit
  double idle_timeout = 0.0;      //!< stop after this many seconds without a request; 0: never
  double send_timeout = 10.0;     //!< a send not taken within this many seconds is cancelled
  std::int64_t budget_mb = 4096;  //!< the store's byte budget
  std::string transports{};       //!< UCX_TLS ("" = UCX's choice)
  //! For tests of the receiver's fallbacks: "" (none), "corrupt" (one byte of every chunk
  //! flipped, the header's checksum kept), "withhold" (no chunk sent), "kill-after:N"
  //! (SIGKILL to itself when a chunk is due after N were sent).
  std::string fault{};
};

namespace detail {
inline volatile sig_atomic_t serve_stop_signal = 0;
extern "C" inline void serve_on_signal(int sig) { serve_stop_signal = sig; }

inline Status parse_fault(const std::string& text, ds::transfer::SenderFaults& faults) {
  if (text.empty()) return Status::ok();
  if (text == "corrupt") {
    faults.corrupt = [](const ds::transfer::ChunkKey&) { return true; };
    return Status::ok();
  }
  if (text == "withhold") {
    faults.withhold = [](const ds::transfer::ChunkKey&) { return true; };
    return Status::ok();
  }
  if (text.rfind("kill-after:", 0) == 0) {
    const std::optional<std::int64_t> n = parse_int(text.substr(11));
    if (n && *n >= 0) {
      // The callback is asked once per chunk about to be sent: a counter of them.
      faults.withhold = [left = *n](const ds::transfer::ChunkKey&) mutable {
        if (left-- == 0) raise(SIGKILL);
        return false;
      };
      return Status::ok();
    }
  }
  return Status::invalid_argument("--fault must be corrupt, withhold or kill-after:N, got '" + text + "'");
}
}  // namespace detail

//! Prefills the contexts, serves them, and returns once a stop condition holds and the last
//! sends are done (bounded by the send timeout). Prints where it listens, and at the end what
//! it served and why it stopped.
inline Status run_serve(const ServeCommand& cmd) {
  ds::transfer::SenderOptions options;
  Result<Endpoint> at = parse_endpoint(cmd.listen, "--listen", true);
  if (!at) return at.status();
  options.address = at->host;
  options.port = at->port;
  options.transports = cmd.transports;
  options.send_timeout = std::chrono::milliseconds(static_cast<std::int64_t>(1e3 * cmd.send_timeout));
  DROIDSPEAK_TRY(detail::parse_fault(cmd.fault, options.faults));
  if (cmd.samples.empty() && cmd.context.empty()) {
    return Status::invalid_argument("give the contexts to serve: --samples FILE and/or --context FILE");
  }

  // The sender model and the contexts.
  Result<ds::reference::ModelWeights> weights = load_checkpoint(cmd.sender, "sender");
  if (!weights) return weights.status();
  Result<ds::plan::CompatibilityRecord> record = ds::reference::compatibility_record(*weights);
  if (!record) return record.status();
  const std::uint64_t fingerprint = model_fingerprint(*record);
  Result<ds::reference::Engine> engine = ds::reference::Engine::create(*weights);
  if (!engine) return engine.status();
  const std::int64_t vocab = engine->vocab_size();
  std::vector<std::vector<std::int32_t>> contexts;
  if (!cmd.samples.empty()) {
    std::error_code ec;
    if (!fs::is_regular_file(cmd.samples, ec)) return Status::io_error(cmd.samples.string() + ": no such samples file");
    Result<std::vector<ds::profile::Sample>> samples =
        ds::profile::read_samples(cmd.samples, vocab, weights->config.max_position_embeddings);
    if (!samples) return samples.status();
    for (const ds::profile::Sample& s : *samples) contexts.push_back(s.context);
  }
  if (!cmd.context.empty()) {
    Result<std::vector<std::int32_t>> c = load_tokens(cmd.context, vocab, cmd.ids);
    if (!c) return c.status();
    if (c->empty()) return Status::invalid_argument(cmd.context.string() + ": empty context");
    contexts.push_back(std::move(c).value());
  }

  // Prefill each distinct context once, E and KV of every layer, into the store.
  ds::transfer::CacheStore store(cmd.budget_mb << 20);
  const ds::layout::ModelGeometry g = engine->geometry();
  const ds::plan::ReusePlan any_plan = ds::plan::ReusePlan::full_reuse(g.num_layers);  // kAll covers every plan
  std::unordered_set<std::uint64_t> seen;
  const auto t0 = std::chrono::steady_clock::now();
  for (const std::vector<std::int32_t>& c : contexts) {
    const std::uint64_t hash = ds::transfer::context_hash(c);
    if (!seen.insert(hash).second) continue;
    Result<ds::prefill::SenderCacheBuffers> buffers =
        ds::prefill::SenderCacheBuffers::prefill(*engine, any_plan, c, {.layers = ds::prefill::SenderLayers::kAll});
    if (!buffers) return buffers.status();
    DROIDSPEAK_TRY(store_context(store, *buffers, g, hash, fingerprint));
  }
  const double prefill_seconds = seconds_since(t0);

  Result<std::unique_ptr<ds::transfer::UcxSender>> sender = ds::transfer::UcxSender::listen(store, options);
  if (!sender) return sender.status();
  ds::transfer::UcxSender& s = **sender;
  const Endpoint bound{at->host, s.port()};
  if (!cmd.port_file.empty()) {
    const std::vector<ds::io::OutputFile> port = {{cmd.port_file, std::to_string(bound.port) + "\n"}};
    DROIDSPEAK_TRY(ds::io::write_files_atomically(port));
  }
  std::printf("droidspeak serve: model %s (%s), %zu context(s) prefilled in %.2f s, %.1f MB in the store\n",
              ds::transfer::detail::hex64(fingerprint).c_str(), cmd.sender.c_str(), seen.size(), prefill_seconds,
              static_cast<double>(store.used_bytes()) / (1 << 20));
  std::printf("listening on %s%s\n", bound.to_string().c_str(),
              cmd.fault.empty() ? "" : (" (fault injected: " + cmd.fault + ")").c_str());
  std::fflush(stdout);

  // Serve until a signal, --max-requests or --idle-timeout; then let the last sends finish.
  struct sigaction act {};
  act.sa_handler = detail::serve_on_signal;
  sigemptyset(&act.sa_mask);
  sigaction(SIGINT, &act, nullptr);
  sigaction(SIGTERM, &act, nullptr);
  using Clock = std::chrono::steady_clock;
  const auto idle = std::chrono::duration<double>(cmd.idle_timeout);
  auto last_activity = Clock::now();
  std::int64_t requests_seen = 0;
  std::string why;
  while (why.empty()) {
    DROIDSPEAK_TRY(s.progress_for(std::chrono::milliseconds(10)));
    if (s.stats().requests != requests_seen) {
      requests_seen = s.stats().requests;
      last_activity = Clock::now();
    }
    if (detail::serve_stop_signal != 0) {
      why = std::string("signal ") + (detail::serve_stop_signal == SIGINT ? "SIGINT" : "SIGTERM");
    } else if (cmd.max_requests > 0 && requests_seen >= cmd.max_requests) {
      why = "answered " + std::to_string(requests_seen) + " requests (--max-requests)";
    } else if (cmd.idle_timeout > 0 && Clock::now() - last_activity > idle) {
      why = "no request for " + std::to_string(static_cast<long long>(cmd.idle_timeout)) + " s (--idle-timeout)";
    }
  }
  // Drain: what was posted is sent (or cancelled by the send timeout) and the receivers hang
  // up; bounded by the send timeout and a second.
  const auto drain_until = Clock::now() + options.send_timeout + std::chrono::seconds(1);
  while ((s.sends_in_flight() != 0 || s.num_peers() != 0) && Clock::now() < drain_until) {
    DROIDSPEAK_TRY(s.progress_for(std::chrono::milliseconds(10)));
  }
  const ds::transfer::SenderStats& st = s.stats();
  std::printf(
      "stopping: %s\nserved %lld requests (%lld misses, %lld malformed) from %lld connections: %lld chunks, "
      "%.1f MB; %lld sends failed or cancelled\n",
      why.c_str(), static_cast<long long>(st.requests), static_cast<long long>(st.misses),
      static_cast<long long>(st.malformed_requests), static_cast<long long>(st.connections),
      static_cast<long long>(st.chunks_sent), static_cast<double>(st.bytes_sent) / (1 << 20),
      static_cast<long long>(st.send_failures));
  return Status::ok();
}

}  // namespace droidspeak_cli
