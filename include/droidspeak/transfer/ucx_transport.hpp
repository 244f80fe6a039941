// SPDX-FileCopyrightText: 2026 The droidspeak authors
// SPDX-License-Identifier: Apache-2.0
//! @file The UCX transport (needs droidspeak::ucx: this header includes <ucp/api/ucp.h>). A
//! sender serves its CacheStore to receivers over UCX; a receiver asks for one context's chunks
//! and fetches them one by one as a prefill::Transport.
//!
//! Protocol, per request:
//! - the receiver sends a wire::Request as an active message (the request id in the AM header,
//!   the frame as its data), with a reply endpoint;
//! - the sender looks the chunks up in its store. On a miss (or a malformed request) it sends one
//!   wire::ErrorMessage on the request's error tag. On a hit it sends, for each chunk in order
//!   (E of each needed layer, then KV layer by layer), a wire::ChunkHeader on the chunk's header
//!   tag and the chunk's bytes on its data tags, one per piece (PieceSplit: up to 8 pieces of at
//!   least 1 MiB), straight from the stored buffer, which it has registered with ucp_mem_map
//!   (UCX uses rendezvous for large pieces: the bytes move into the receiver's destination
//!   buffer with no intermediate copy). The receiver posts every piece's receive at once and a
//!   ChecksumWorker sums one piece's checksum lanes while UCX moves the next.
//! - tags name (request, kind, layer, piece), so the receiver takes chunks in whatever order its
//!   schedule wants and UCX matches them.
//! Every wait is bounded by a timeout and returns a Status; a peer that fails (killed,
//! disconnected) is noticed through UCX's peer error handling or the timeout, whichever is first.
//! Neither side lets an exception escape (bad_alloc and the like become Status::internal).
//! Servers bind to 127.0.0.1 by default.
#pragma once

#include "droidspeak/core/config.hpp"
#include "droidspeak/core/status.hpp"
#include "droidspeak/prefill/transport.hpp"  // prefill::Transport, TransferTag, TransferLog
#include "droidspeak/transfer/cache_store.hpp"
#include "droidspeak/transfer/checksum.hpp"
#include "droidspeak/transfer/checksum_worker.hpp"
#include "droidspeak/transfer/chunk_pieces.hpp"
#include "droidspeak/transfer/wire.hpp"

#include <ucp/api/ucp.h>

#include <arpa/inet.h>   // inet_pton, htons, ntohs
#include <netinet/in.h>  // sockaddr_in
#include <sys/socket.h>  // sockaddr_storage

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <exception>
#include <functional>
#include <list>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

namespace droidspeak { inline namespace DROIDSPEAK_ABI { namespace transfer {

//! Fault injection on the sender, for the tests of the receiver's fallbacks. Empty by default.
struct SenderFaults {
  //! A chunk for which this returns true is never sent (the receiver times out on it).
  std::function<bool(const ChunkKey&)> withhold;
  //! A chunk for which this returns true is sent with one byte flipped (its header keeps the
  //! true checksum, so the receiver's check fails).
  std::function<bool(const ChunkKey&)> corrupt;
};

struct SenderOptions {
  std::string address = "127.0.0.1";  //!< IPv4 address to listen on; loopback unless asked
  std::uint16_t port = 0;             //!< 0: any free port (read it back with port())
  //! A send that has not completed after this long (the receiver never asked for the chunk:
  //! it gave up on the request) is cancelled; the connection stays.
  std::chrono::milliseconds send_timeout{60000};
  std::string transports;             //!< UCX_TLS for this context ("" = UCX's own choice)
  bool verify_checksums = true;       //!< recompute each chunk's checksum before sending it
  SenderFaults faults;
};

struct ReceiverOptions {
  //! Bound on every wait: connecting, sending the request, each chunk's header and bytes.
  std::chrono::milliseconds timeout{10000};
  std::string transports;  //!< UCX_TLS for this context ("" = UCX's own choice)
};

//! What a sender has done so far.
struct SenderStats {
  std::int64_t connections = 0;
  std::int64_t requests = 0;
  std::int64_t malformed_requests = 0;
  std::int64_t misses = 0;
  std::int64_t chunks_sent = 0;    //!< chunks whose last piece was sent
  std::int64_t bytes_sent = 0;
  std::int64_t send_failures = 0;  //!< sends that failed, were cancelled or timed out
  std::int64_t peers_failed = 0;   //!< receivers disconnected by an error
};

namespace ucx_detail {

//! Runs `f` (returning Status); with exceptions enabled, anything it throws becomes
//! Status::internal naming `where`. Every public entry point and UCX callback goes through it.
template <class F>
Status guarded(const char* where, F&& f) noexcept {
#if defined(__cpp_exceptions)
  try {
    return f();
  } catch (const std::exception& e) {
    return Status::internal(std::string(where) + ": " + e.what());
  } catch (...) {
    return Status::internal(std::string(where) + ": unknown exception");
  }
#else
  (void)where;
  return f();
#endif
}

inline Status ucs_error(const std::string& what, ucs_status_t s) {
  return Status::io_error(what + ": " + ucs_status_string(s));
}

//! The error of a request that UCX ended without our asking. UCX ends a matched transfer as
//! cancelled, reset, timed out or unreachable only when what is under it broke off (the peer
//! died or the link failed), and the peer error handler may not have run yet: say so, rather
//! than leave "Request canceled" looking like our own doing.
inline Status request_error(const std::string& what, ucs_status_t s) {
  if (s == UCS_ERR_CANCELED || s == UCS_ERR_CONNECTION_RESET || s == UCS_ERR_ENDPOINT_TIMEOUT ||
      s == UCS_ERR_UNREACHABLE) {
    return ucs_error(what + " broke off (the peer or the link failed)", s);
  }
  return ucs_error(what, s);
}

// Tags: [type:4][request id:43][kind:1][piece:8][layer:8]. Request ids wrap at 2^43; a
// chunk's data travels as PieceSplit's pieces, its header and the error message as piece 0.
enum class TagType : std::uint64_t { kHeader = 1, kData = 2, kError = 3 };
inline constexpr std::uint64_t kRequestIdMask = (std::uint64_t{1} << 43) - 1;
inline constexpr ucp_tag_t kFullMask = ~ucp_tag_t{0};
static_assert(layout::kMaxLayers <= 256 && kMaxPieces <= 256, "the tag has 8 bits for the layer and the piece");
constexpr ucp_tag_t make_tag(TagType type, std::uint64_t request_id, Payload kind = Payload::kE,
                             std::int64_t layer = 0, std::size_t piece = 0) {
  return (static_cast<std::uint64_t>(type) << 60) | ((request_id & kRequestIdMask) << 17) |
         (static_cast<std::uint64_t>(kind) << 16) | ((static_cast<std::uint64_t>(piece) & 0xFFu) << 8) |
         (static_cast<std::uint64_t>(layer) & 0xFFu);
}
inline constexpr unsigned kRequestAmId = 17;

using Clock = std::chrono::steady_clock;

//! A UCP context and one worker (single-threaded: one thread drives it at a time).
class Worker {
 public:
  static Result<std::unique_ptr<Worker>> create(const std::string& transports) {
    auto w = std::make_unique<Worker>();
    ucp_config_t* config = nullptr;
    ucs_status_t s = ucp_config_read(nullptr, nullptr, &config);
    if (s != UCS_OK) return ucs_error("ucx: reading the configuration", s);
    if (!transports.empty()) s = ucp_config_modify(config, "TLS", transports.c_str());
    if (s != UCS_OK) {
      ucp_config_release(config);
      return ucs_error("ucx: setting transports '" + transports + "'", s);
    }
    ucp_params_t params{};
    params.field_mask = UCP_PARAM_FIELD_FEATURES;
    params.features = UCP_FEATURE_TAG | UCP_FEATURE_AM;
    s = ucp_init(&params, config, &w->context_);
    ucp_config_release(config);
    if (s != UCS_OK) return ucs_error("ucx: ucp_init", s);
    ucp_worker_params_t wp{};
    wp.field_mask = UCP_WORKER_PARAM_FIELD_THREAD_MODE;
    wp.thread_mode = UCS_THREAD_MODE_SINGLE;
    s = ucp_worker_create(w->context_, &wp, &w->worker_);
    if (s != UCS_OK) return ucs_error("ucx: ucp_worker_create", s);
    return w;
  }
  Worker() = default;
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;
  ~Worker() {
    if (worker_ != nullptr) ucp_worker_destroy(worker_);
    if (context_ != nullptr) ucp_cleanup(context_);
  }
  ucp_context_h context() const { return context_; }
  ucp_worker_h get() const { return worker_; }
  //! One round of progress; yields the CPU when nothing happened.
  void progress() const {
    if (ucp_worker_progress(worker_) == 0) std::this_thread::yield();
  }

 private:
  ucp_context_h context_ = nullptr;
  ucp_worker_h worker_ = nullptr;
};

//! Cancels an outstanding request and frees it once UCX has let go of its buffer (bounded: a
//! request still busy after `grace` is freed anyway, and UCX releases it when it completes).
inline void cancel_and_free(const Worker& w, void* req, std::chrono::milliseconds grace = std::chrono::milliseconds(1000)) {
  if (req == nullptr || UCS_PTR_IS_ERR(req)) return;
  ucp_request_cancel(w.get(), req);
  const auto deadline = Clock::now() + grace;
  while (ucp_request_check_status(req) == UCS_INPROGRESS && Clock::now() < deadline) w.progress();
  ucp_request_free(req);
}

//! Waits for `req` (as returned by a *_nbx call) to complete, at most until `deadline`, giving up
//! early when `peer_failed` becomes true. With `info`, `req` is a tag receive and its length is
//! reported there. The request is freed (cancelled first if it did not complete) in every case.
inline Status wait(const Worker& w, void* req, Clock::time_point deadline, const std::atomic<bool>& peer_failed,
                   const std::string& what, ucp_tag_recv_info_t* info = nullptr) {
  if (req == nullptr) return Status::ok();  // completed immediately
  if (UCS_PTR_IS_ERR(req)) return ucs_error(what, UCS_PTR_STATUS(req));
  for (;;) {
    const ucs_status_t s = info != nullptr ? ucp_tag_recv_request_test(req, info) : ucp_request_check_status(req);
    if (s != UCS_INPROGRESS) {
      ucp_request_free(req);
      return s == UCS_OK ? Status::ok() : request_error(what, s);
    }
    if (peer_failed.load()) {
      cancel_and_free(w, req);
      return Status::io_error(what + ": the peer failed (disconnected or died)");
    }
    if (Clock::now() >= deadline) {
      cancel_and_free(w, req);
      return Status::io_error(what + ": timed out");
    }
    w.progress();
  }
}

inline Result<sockaddr_in> ipv4(const std::string& address, std::uint16_t port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  if (inet_pton(AF_INET, address.c_str(), &a.sin_addr) != 1) {
    return Status::invalid_argument("ucx: '" + address + "' is not an IPv4 address");
  }
  return a;
}

}  // namespace ucx_detail

//! The sender: listens for receivers and serves chunks from a CacheStore. Driven by one thread
//! through progress_for() or serve(); the store may be filled from other threads meanwhile.
class UcxSender {
 public:
  //! Starts listening on options.address:options.port. `store` must outlive the sender.
  static Result<std::unique_ptr<UcxSender>> listen(CacheStore& store, SenderOptions options = {}) {
    std::unique_ptr<UcxSender> out;
    Status s = ucx_detail::guarded("ucx sender: listen", [&]() -> Status {
      auto sender = std::unique_ptr<UcxSender>(new UcxSender(store, std::move(options)));
      DROIDSPEAK_TRY(sender->start());
      out = std::move(sender);
      return Status::ok();
    });
    if (!s.is_ok()) return s;
    return out;
  }

  UcxSender(const UcxSender&) = delete;
  UcxSender& operator=(const UcxSender&) = delete;
  //! Cancels what is in flight, closes every connection (bounded) and stops listening.
  ~UcxSender() { (void)ucx_detail::guarded("ucx sender: shutdown", [this] { return shutdown(); }); }

  //! The port the sender listens on (the one the system chose when options.port was 0).
  std::uint16_t port() const { return port_; }

  //! Runs the sender for `duration`: accepts receivers, answers requests, completes sends.
  //! Failures of one receiver are counted in stats(), not returned: the sender stays up.
  Status progress_for(std::chrono::milliseconds duration) {
    return ucx_detail::guarded("ucx sender", [&]() -> Status {
      const auto until = ucx_detail::Clock::now() + duration;
      do {
        DROIDSPEAK_TRY(step());
      } while (ucx_detail::Clock::now() < until);
      return Status::ok();
    });
  }

  //! Runs the sender until `stop` is true (checked about every millisecond).
  Status serve(const std::atomic<bool>& stop) {
    while (!stop.load()) DROIDSPEAK_TRY(progress_for(std::chrono::milliseconds(1)));
    return Status::ok();
  }

  //! Counters so far. Read them on the thread that drives the sender, or after serve() returned.
  const SenderStats& stats() const { return stats_; }
  //! Sends posted and not yet completed, cancelled or timed out (same thread as stats()).
  std::size_t sends_in_flight() const { return sends_.size(); }
  //! Receivers connected (or still closing). Same thread as stats().
  std::size_t num_peers() const { return peers_.size(); }

 private:
  struct Peer {
    ucp_ep_h ep = nullptr;
    bool failed = false;
    void* close_request = nullptr;
    bool closing = false;
    std::int64_t in_flight = 0;
  };
  struct SendOp {
    void* request = nullptr;
    Peer* peer = nullptr;
    bool is_data = false;
    bool last_piece = false;  // data: completing it counts the chunk as sent
    std::size_t offset = 0;   // data: the piece's place in *keep
    std::int64_t bytes = 0;
    std::shared_ptr<const std::vector<std::byte>> keep;  // the chunk (or a corrupted copy), alive until sent
    std::vector<std::byte> owned;                        // a header or error frame
    ucx_detail::Clock::time_point started;
  };
  struct Incoming {
    ucp_ep_h reply_ep = nullptr;
    std::uint64_t request_id = 0;
    bool id_ok = false;
    std::vector<std::byte> frame;
  };
  struct Registration {
    std::shared_ptr<const std::vector<std::byte>> keep;
    ucp_mem_h memh = nullptr;
  };

  UcxSender(CacheStore& store, SenderOptions options) : store_(store), options_(std::move(options)) {}

  Status start() {
    auto worker = ucx_detail::Worker::create(options_.transports);
    if (!worker) return worker.status().with_context("ucx sender");
    worker_ = std::move(*worker);

    ucp_am_handler_param_t am{};
    am.field_mask = UCP_AM_HANDLER_PARAM_FIELD_ID | UCP_AM_HANDLER_PARAM_FIELD_CB | UCP_AM_HANDLER_PARAM_FIELD_ARG |
                    UCP_AM_HANDLER_PARAM_FIELD_FLAGS;
    am.id = ucx_detail::kRequestAmId;
    am.flags = UCP_AM_FLAG_WHOLE_MSG;
    am.cb = &UcxSender::on_request;
    am.arg = this;
    ucs_status_t s = ucp_worker_set_am_recv_handler(worker_->get(), &am);
    if (s != UCS_OK) return ucx_detail::ucs_error("ucx sender: setting the request handler", s);

    auto addr = ucx_detail::ipv4(options_.address, options_.port);
    if (!addr) return addr.status();
    ucp_listener_params_t lp{};
    lp.field_mask = UCP_LISTENER_PARAM_FIELD_SOCK_ADDR | UCP_LISTENER_PARAM_FIELD_CONN_HANDLER;
    lp.sockaddr.addr = reinterpret_cast<const sockaddr*>(&*addr);
    lp.sockaddr.addrlen = sizeof(sockaddr_in);
    lp.conn_handler.cb = &UcxSender::on_connection;
    lp.conn_handler.arg = this;
    s = ucp_listener_create(worker_->get(), &lp, &listener_);
    if (s != UCS_OK) {
      return ucx_detail::ucs_error("ucx sender: listening on " + options_.address + ":" + std::to_string(options_.port), s);
    }
    ucp_listener_attr_t attr{};
    attr.field_mask = UCP_LISTENER_ATTR_FIELD_SOCKADDR;
    s = ucp_listener_query(listener_, &attr);
    if (s != UCS_OK) return ucx_detail::ucs_error("ucx sender: ucp_listener_query", s);
    port_ = ntohs(reinterpret_cast<const sockaddr_in*>(&attr.sockaddr)->sin_port);
    return Status::ok();
  }

  // ---- UCX callbacks: they only record what happened; step() acts on it ----------------
  static void on_connection(ucp_conn_request_h request, void* arg) noexcept {
    auto* self = static_cast<UcxSender*>(arg);
    const Status s = ucx_detail::guarded("ucx sender: connection", [&] {
      self->connection_requests_.push_back(request);
      return Status::ok();
    });
    if (!s.is_ok()) ucp_listener_reject(self->listener_, request);
  }

  static void on_peer_error(void* arg, ucp_ep_h, ucs_status_t) noexcept {
    static_cast<Peer*>(arg)->failed = true;
  }

  static ucs_status_t on_request(void* arg, const void* header, std::size_t header_length, void* data,
                                 std::size_t length, const ucp_am_recv_param_t* param) noexcept {
    auto* self = static_cast<UcxSender*>(arg);
    const Status s = ucx_detail::guarded("ucx sender: request", [&] {
      Incoming in;
      if ((param->recv_attr & UCP_AM_RECV_ATTR_FIELD_REPLY_EP) == 0) return Status::ok();  // nobody to answer
      in.reply_ep = param->reply_ep;
      in.id_ok = header_length == 8;
      if (in.id_ok) {
        const auto* h = static_cast<const unsigned char*>(header);
        for (int i = 0; i < 8; ++i) in.request_id |= static_cast<std::uint64_t>(h[i]) << (8 * i);
      }
      // A rendezvous AM (a frame far larger than any message) is not received: the empty frame
      // left here decodes as malformed, which is what the receiver is told.
      if ((param->recv_attr & UCP_AM_RECV_ATTR_FLAG_RNDV) == 0 && length <= wire::kMaxFrameBytes) {
        const auto* d = static_cast<const std::byte*>(data);
        in.frame.assign(d, d + length);
      }
      self->incoming_.push_back(std::move(in));
      return Status::ok();
    });
    return s.is_ok() ? UCS_OK : UCS_ERR_NO_MEMORY;
  }

  // ---- the event loop ------------------------------------------------------------------
  Status step() {
    worker_->progress();
    accept();
    std::vector<Incoming> incoming;
    incoming.swap(incoming_);
    for (Incoming& in : incoming) answer(in);
    complete_sends();
    close_failed_peers();
    sweep_registrations();
    return Status::ok();
  }

  void accept() {
    std::vector<ucp_conn_request_h> requests;
    requests.swap(connection_requests_);
    for (ucp_conn_request_h request : requests) {
      auto peer = std::make_unique<Peer>();
      ucp_ep_params_t ep{};
      ep.field_mask = UCP_EP_PARAM_FIELD_CONN_REQUEST | UCP_EP_PARAM_FIELD_ERR_HANDLING_MODE |
                      UCP_EP_PARAM_FIELD_ERR_HANDLER;
      ep.conn_request = request;
      ep.err_mode = UCP_ERR_HANDLING_MODE_PEER;
      ep.err_handler.cb = &UcxSender::on_peer_error;
      ep.err_handler.arg = peer.get();
      if (ucp_ep_create(worker_->get(), &ep, &peer->ep) != UCS_OK) {
        ++stats_.peers_failed;
        continue;
      }
      ++stats_.connections;
      peers_by_ep_[peer->ep] = peer.get();
      peers_.push_back(std::move(peer));
    }
  }

  Peer* peer_of(ucp_ep_h ep) {
    auto it = peers_by_ep_.find(ep);
    return it == peers_by_ep_.end() ? nullptr : it->second;
  }

  void answer(const Incoming& in) {
    ++stats_.requests;
    Peer* peer = peer_of(in.reply_ep);
    if (peer == nullptr || peer->failed) return;  // unknown or failing receiver: nobody to answer
    auto decoded = wire::decode(in.frame);
    const wire::Request* q = decoded ? std::get_if<wire::Request>(&*decoded) : nullptr;
    if (!in.id_ok || q == nullptr || q->request_id != in.request_id) {
      ++stats_.malformed_requests;
      std::string why = !in.id_ok ? "the request id header is not 8 bytes"
                        : !decoded ? decoded.status().message()
                        : q == nullptr ? "not a request frame"
                                       : "the frame's request id differs from the header's";
      send_error(*peer, in.request_id, wire::ErrorKind::kMalformed, MissReason::kAbsent, "malformed request: " + why);
      return;
    }
    const Lookup found = store_.lookup(q->context_hash, q->fingerprint, q->needs, options_.verify_checksums);
    if (!found.hit) {
      ++stats_.misses;
      send_error(*peer, q->request_id, wire::ErrorKind::kMiss, found.reason, found.message);
      return;
    }
    for (const StoredChunk& c : found.chunks) send_chunk(*peer, q->request_id, c);
  }

  void send_error(Peer& peer, std::uint64_t request_id, wire::ErrorKind kind, MissReason miss, std::string text) {
    SendOp op;
    op.owned = wire::encode(wire::ErrorMessage{request_id, kind, miss, std::move(text)});
    post(peer, std::move(op), ucx_detail::make_tag(ucx_detail::TagType::kError, request_id), nullptr);
  }

  void send_chunk(Peer& peer, std::uint64_t request_id, const StoredChunk& c) {
    if (options_.faults.withhold && options_.faults.withhold(c.key)) return;
    auto header = wire::encode(wire::ChunkHeader{request_id, c.key, c.view().size(), c.checksum});
    if (!header) {
      ++stats_.send_failures;
      return;
    }
    SendOp h;
    h.owned = std::move(*header);
    post(peer, std::move(h), ucx_detail::make_tag(ucx_detail::TagType::kHeader, request_id, c.key.kind, c.key.layer), nullptr);

    std::shared_ptr<const std::vector<std::byte>> bytes = c.bytes;
    ucp_mem_h memh = nullptr;
    if (options_.faults.corrupt && options_.faults.corrupt(c.key)) {
      auto copy = std::make_shared<std::vector<std::byte>>(c.view().begin(), c.view().end());
      if (!copy->empty()) (*copy)[copy->size() / 2] ^= std::byte{0x5A};
      bytes = std::move(copy);
    } else {
      memh = registration(c.bytes);
    }
    // One send per piece, all posted now: the receiver checks a piece while the next one moves.
    const PieceSplit split(c.view().size());
    for (std::size_t i = 0; i < split.count; ++i) {
      SendOp d;
      d.is_data = true;
      d.last_piece = i + 1 == split.count;
      d.offset = i * split.piece_bytes;
      d.bytes = static_cast<std::int64_t>(split.piece(c.view(), i).size());
      d.keep = bytes;
      post(peer, std::move(d), ucx_detail::make_tag(ucx_detail::TagType::kData, request_id, c.key.kind, c.key.layer, i),
           memh);
    }
  }

  //! The registration of a stored chunk's buffer, made once and kept while the chunk is alive;
  //! null (UCX registers on its own) for an empty chunk or when registration fails.
  ucp_mem_h registration(const std::shared_ptr<const std::vector<std::byte>>& bytes) {
    if (!bytes || bytes->empty()) return nullptr;
    auto it = registrations_.find(bytes.get());
    if (it != registrations_.end()) return it->second.memh;
    ucp_mem_map_params_t mp{};
    mp.field_mask = UCP_MEM_MAP_PARAM_FIELD_ADDRESS | UCP_MEM_MAP_PARAM_FIELD_LENGTH;
    mp.address = const_cast<std::byte*>(bytes->data());  // UCX's API is not const-correct; it only reads
    mp.length = bytes->size();
    ucp_mem_h memh = nullptr;
    if (ucp_mem_map(worker_->context(), &mp, &memh) != UCS_OK) return nullptr;
    registrations_.emplace(bytes.get(), Registration{bytes, memh});
    return memh;
  }

  //! Unregisters buffers that only the registration still holds (the store dropped them and no
  //! send uses them), so registrations stay within the store's budget.
  void sweep_registrations() {
    for (auto it = registrations_.begin(); it != registrations_.end();) {
      if (it->second.keep.use_count() == 1) {
        ucp_mem_unmap(worker_->context(), it->second.memh);
        it = registrations_.erase(it);
      } else {
        ++it;
      }
    }
  }

  void post(Peer& peer, SendOp op, ucp_tag_t tag, ucp_mem_h memh) {
    const std::span<const std::byte> bytes =
        op.keep ? std::span<const std::byte>(*op.keep).subspan(op.offset, static_cast<std::size_t>(op.bytes))
                : std::span<const std::byte>(op.owned);
    ucp_request_param_t p{};
    if (memh != nullptr) {
      p.op_attr_mask = UCP_OP_ATTR_FIELD_MEMH;
      p.memh = memh;
    }
    op.request = ucp_tag_send_nbx(peer.ep, bytes.data(), bytes.size(), tag, &p);
    op.peer = &peer;
    op.started = ucx_detail::Clock::now();
    if (UCS_PTR_IS_ERR(op.request)) {
      ++stats_.send_failures;
      peer.failed = true;
      return;
    }
    if (op.request == nullptr) {  // sent already (eager): the buffer is free again
      if (op.is_data) count_sent(op);
      return;
    }
    ++peer.in_flight;
    sends_.push_back(std::move(op));
  }

  void count_sent(const SendOp& op) {
    if (op.last_piece) ++stats_.chunks_sent;
    stats_.bytes_sent += op.bytes;
  }

  void complete_sends() {
    const auto now = ucx_detail::Clock::now();
    for (auto it = sends_.begin(); it != sends_.end();) {
      const ucs_status_t s = ucp_request_check_status(it->request);
      if (s == UCS_INPROGRESS) {
        if (now - it->started < options_.send_timeout && !it->peer->failed) {
          ++it;
          continue;
        }
        // Too slow (the receiver never asked for the chunk: it gave up on the request), or its
        // receiver failed: cancel the send. A slow send alone does not end the connection.
        ucx_detail::cancel_and_free(*worker_, it->request);
        ++stats_.send_failures;
      } else {
        ucp_request_free(it->request);
        if (s == UCS_OK && it->is_data) count_sent(*it);
        if (s != UCS_OK) {
          ++stats_.send_failures;
          it->peer->failed = true;
        }
      }
      --it->peer->in_flight;
      it = sends_.erase(it);
    }
  }

  void close_failed_peers() {
    for (auto it = peers_.begin(); it != peers_.end();) {
      Peer& p = **it;
      if (p.failed && !p.closing) {
        ++stats_.peers_failed;
        p.closing = true;
        ucp_request_param_t cp{};
        cp.op_attr_mask = UCP_OP_ATTR_FIELD_FLAGS;
        cp.flags = UCP_EP_CLOSE_FLAG_FORCE;
        p.close_request = ucp_ep_close_nbx(p.ep, &cp);
        if (UCS_PTR_IS_ERR(p.close_request)) p.close_request = nullptr;
      }
      const bool closed = p.closing && p.in_flight == 0 &&
                          (p.close_request == nullptr || ucp_request_check_status(p.close_request) != UCS_INPROGRESS);
      if (closed) {
        if (p.close_request != nullptr) ucp_request_free(p.close_request);
        peers_by_ep_.erase(p.ep);
        it = peers_.erase(it);
      } else {
        ++it;
      }
    }
  }

  Status shutdown() {
    if (!worker_) return Status::ok();
    for (SendOp& op : sends_) ucx_detail::cancel_and_free(*worker_, op.request);
    sends_.clear();
    for (auto& p : peers_) {
      p->in_flight = 0;
      p->failed = true;
    }
    const auto deadline = ucx_detail::Clock::now() + std::chrono::milliseconds(2000);
    while (!peers_.empty() && ucx_detail::Clock::now() < deadline) {
      close_failed_peers();
      worker_->progress();
    }
    for (auto& p : peers_) {
      if (p->close_request != nullptr) ucp_request_free(p->close_request);
    }
    peers_.clear();
    for (auto& [ptr, reg] : registrations_) ucp_mem_unmap(worker_->context(), reg.memh);
    registrations_.clear();
    if (listener_ != nullptr) {
      for (ucp_conn_request_h r : connection_requests_) ucp_listener_reject(listener_, r);
      ucp_listener_destroy(listener_);
    }
    connection_requests_.clear();
    listener_ = nullptr;
    worker_.reset();
    return Status::ok();
  }

  CacheStore& store_;
  SenderOptions options_;
  std::unique_ptr<ucx_detail::Worker> worker_;
  ucp_listener_h listener_ = nullptr;
  std::uint16_t port_ = 0;
  std::vector<ucp_conn_request_h> connection_requests_;
  std::vector<Incoming> incoming_;
  std::list<std::unique_ptr<Peer>> peers_;
  std::unordered_map<ucp_ep_h, Peer*> peers_by_ep_;
  std::list<SendOp> sends_;
  std::unordered_map<const std::vector<std::byte>*, Registration> registrations_;
  SenderStats stats_;
};

//! The receiver: one connection to a sender, one request at a time. Models prefill::Transport:
//! after request(), `transmit(tag, src, dst)` fetches the chunk `tag` names (E or KV of a layer
//! of the requested context) from the sender into `dst`. The sender's bytes are remote, so `src`
//! carries no data here: it must be empty or have dst's size (an executor may pass the span it
//! would have copied from); its contents are never read. transmit() returns once the bytes are
//! in `dst` and their checksum matches the sender's header; on any failure (a miss, a malformed
//! answer, a checksum mismatch, the sender's death, a timeout) `dst` must not be used and the
//! Status says why; the sender's own explanation of a miss starts with "full prefill: ".
//! Not thread-safe: one thread drives it (the Transport contract).
class UcxReceiver {
 public:
  //! Connects to the sender at host:port (IPv4). The connection completes in the background;
  //! a sender that is not there shows up as a failure of the first request.
  static Result<std::unique_ptr<UcxReceiver>> connect(const std::string& host, std::uint16_t port,
                                                      ReceiverOptions options = {}) {
    std::unique_ptr<UcxReceiver> out;
    Status s = ucx_detail::guarded("ucx receiver: connect", [&]() -> Status {
      auto r = std::unique_ptr<UcxReceiver>(new UcxReceiver(std::move(options)));
      DROIDSPEAK_TRY(r->start(host, port));
      out = std::move(r);
      return Status::ok();
    });
    if (!s.is_ok()) return s;
    return out;
  }

  UcxReceiver(const UcxReceiver&) = delete;
  UcxReceiver& operator=(const UcxReceiver&) = delete;
  ~UcxReceiver() { (void)ucx_detail::guarded("ucx receiver: close", [this] { return close(); }); }

  //! Asks the sender for the chunks `needs` names, made by the model `fingerprint` for the
  //! context `context_hash`. Ends the previous request: of its chunks not fetched, the large
  //! (rendezvous) ones never move and the sender cancels them after its send_timeout; small
  //! (eager) ones that already arrived stay in UCX's unexpected queue until the connection
  //! closes. Returns once the sender has the request (bounded by the timeout); whether it can
  //! serve it shows in transmit().
  Status request(std::uint64_t context_hash, std::uint64_t fingerprint, const Needs& needs) {
    wire::Request q{next_request_id_++ & ucx_detail::kRequestIdMask, context_hash, fingerprint, needs};
    return send_request(q, wire::encode(q));
  }

  //! Sends `frame` as if it were a request frame, for tests of a sender facing malformed input;
  //! transmit() then reports the sender's answer. `needs` is what transmit() will accept.
  Status request_raw(std::span<const std::byte> frame, const Needs& needs) {
    wire::Request q{next_request_id_++ & ucx_detail::kRequestIdMask, 0, 0, needs};
    return send_request(q, std::vector<std::byte>(frame.begin(), frame.end()));
  }

  //! The Transport operation (see the class comment). `dst` `[bytes]`: the chunk's size, which
  //! must equal the sender's. Fails without waiting when `tag` is not part of the request.
  Status transmit(const prefill::TransferTag& tag, std::span<const std::byte> src, std::span<std::byte> dst) {
    return ucx_detail::guarded("ucx receiver: transmit", [&]() -> Status {
      if (!src.empty() && src.size() != dst.size()) {
        return Status::invalid_argument("ucx receiver: src has " + std::to_string(src.size()) + " bytes, dst " +
                                        std::to_string(dst.size()) + " (src must be empty or dst's size)");
      }
      if (!active_) return Status::invalid_argument("ucx receiver: transmit before request()");
      const auto& layers = tag.payload == Payload::kE ? current_.needs.e_layers : current_.needs.kv_layers;
      if (tag.layer < 0 || tag.layer >= layout::kMaxLayers || !layers.contains(tag.layer)) {
        return Status::invalid_argument("ucx receiver: " + std::string(tag.payload == Payload::kE ? "E" : "KV") +
                                        " of layer " + std::to_string(tag.layer) + " is not part of the request");
      }
      if (!failure_.is_ok()) return failure_;
      Status s = fetch(tag, dst);
      if (!s.is_ok()) {
        // A sender's error or a broken connection ends the request; a single late chunk does not.
        if (sender_error_ || peer_failed_.load()) failure_ = s;
        return s;
      }
      log_.record(tag, static_cast<std::int64_t>(dst.size()));
      return Status::ok();
    });
  }

  //! Registers `region` `[bytes]` (say, the engine's whole KV cache) with UCX once, so that
  //! transmit() into any part of it passes the registration along (ucp_mem_map) instead of UCX
  //! registering each destination on its own. The region must stay allocated until
  //! unregister_memory(region) or the receiver's destruction. Regions must not overlap.
  Status register_memory(std::span<std::byte> region) {
    return ucx_detail::guarded("ucx receiver: register_memory", [&]() -> Status {
      if (region.empty()) return Status::invalid_argument("ucx receiver: cannot register an empty region");
      for (const Region& r : regions_) {
        if (region.data() < r.begin + r.size && r.begin < region.data() + region.size()) {
          return Status::invalid_argument("ucx receiver: the region overlaps one already registered");
        }
      }
      ucp_mem_map_params_t mp{};
      mp.field_mask = UCP_MEM_MAP_PARAM_FIELD_ADDRESS | UCP_MEM_MAP_PARAM_FIELD_LENGTH;
      mp.address = region.data();
      mp.length = region.size();
      ucp_mem_h memh = nullptr;
      const ucs_status_t s = ucp_mem_map(worker_->context(), &mp, &memh);
      if (s != UCS_OK) return ucx_detail::ucs_error("ucx receiver: ucp_mem_map", s);
      regions_.push_back({region.data(), region.size(), memh});
      return Status::ok();
    });
  }

  //! Undoes register_memory(region) (the same span). Fails if it was not registered.
  Status unregister_memory(std::span<std::byte> region) {
    for (auto it = regions_.begin(); it != regions_.end(); ++it) {
      if (it->begin == region.data() && it->size == region.size()) {
        ucp_mem_unmap(worker_->context(), it->memh);
        regions_.erase(it);
        return Status::ok();
      }
    }
    return Status::invalid_argument("ucx receiver: unregister_memory of a region never registered");
  }

  //! The sender's error for the current request, once one arrived (a miss and its reason, or
  //! "malformed request").
  const std::optional<wire::ErrorMessage>& sender_error() const { return sender_error_; }
  const prefill::TransferLog& log() const { return log_; }

 private:
  explicit UcxReceiver(ReceiverOptions options) : options_(std::move(options)) {}

  static void on_peer_error(void* arg, ucp_ep_h, ucs_status_t) noexcept {
    static_cast<UcxReceiver*>(arg)->peer_failed_.store(true);
  }

  ucx_detail::Clock::time_point deadline() const { return ucx_detail::Clock::now() + options_.timeout; }

  Status start(const std::string& host, std::uint16_t port) {
    auto worker = ucx_detail::Worker::create(options_.transports);
    if (!worker) return worker.status().with_context("ucx receiver");
    worker_ = std::move(*worker);
    auto addr = ucx_detail::ipv4(host, port);
    if (!addr) return addr.status();
    ucp_ep_params_t ep{};
    ep.field_mask = UCP_EP_PARAM_FIELD_FLAGS | UCP_EP_PARAM_FIELD_SOCK_ADDR | UCP_EP_PARAM_FIELD_ERR_HANDLING_MODE |
                    UCP_EP_PARAM_FIELD_ERR_HANDLER;
    ep.flags = UCP_EP_PARAMS_FLAGS_CLIENT_SERVER;
    ep.sockaddr.addr = reinterpret_cast<const sockaddr*>(&*addr);
    ep.sockaddr.addrlen = sizeof(sockaddr_in);
    ep.err_mode = UCP_ERR_HANDLING_MODE_PEER;
    ep.err_handler.cb = &UcxReceiver::on_peer_error;
    ep.err_handler.arg = this;
    const ucs_status_t s = ucp_ep_create(worker_->get(), &ep, &ep_);
    if (s != UCS_OK) return ucx_detail::ucs_error("ucx receiver: connecting to " + host + ":" + std::to_string(port), s);
    return Status::ok();
  }

  Status send_request(const wire::Request& q, std::vector<std::byte> frame) {
    return ucx_detail::guarded("ucx receiver: request", [&]() -> Status {
      end_request();
      if (peer_failed_.load()) return Status::io_error("ucx receiver: the sender failed (disconnected or died)");
      current_ = q;
      active_ = true;
      failure_ = Status::ok();
      sender_error_.reset();
      std::byte id[8];
      for (int i = 0; i < 8; ++i) id[i] = static_cast<std::byte>(q.request_id >> (8 * i));
      ucp_request_param_t p{};
      p.op_attr_mask = UCP_OP_ATTR_FIELD_FLAGS;
      p.flags = UCP_AM_SEND_FLAG_REPLY;
      void* req = ucp_am_send_nbx(ep_, ucx_detail::kRequestAmId, id, sizeof id, frame.data(), frame.size(), &p);
      failure_ = ucx_detail::wait(*worker_, req, deadline(), peer_failed_, "ucx receiver: sending the request");
      if (!failure_.is_ok()) return failure_;
      // The sender's one error message, if it has one, lands here whenever it comes.
      error_frame_.assign(wire::kMaxFrameBytes, std::byte{0});
      ucp_request_param_t rp{};
      rp.op_attr_mask = UCP_OP_ATTR_FLAG_NO_IMM_CMPL;  // always a request: error_arrived() tests it
      error_request_ = ucp_tag_recv_nbx(worker_->get(), error_frame_.data(), error_frame_.size(),
                                        ucx_detail::make_tag(ucx_detail::TagType::kError, q.request_id),
                                        ucx_detail::kFullMask, &rp);
      if (UCS_PTR_IS_ERR(error_request_)) {
        failure_ = ucx_detail::ucs_error("ucx receiver: posting the error receive", UCS_PTR_STATUS(error_request_));
        error_request_ = nullptr;
      }
      return failure_;
    });
  }

  //! True once the sender's error message for the current request arrived (it is then decoded
  //! into sender_error_).
  bool error_arrived() {
    if (sender_error_) return true;
    if (error_request_ == nullptr) return false;
    ucp_tag_recv_info_t info{};
    const ucs_status_t s = ucp_tag_recv_request_test(error_request_, &info);
    if (s == UCS_INPROGRESS) return false;
    ucp_request_free(error_request_);
    error_request_ = nullptr;
    wire::ErrorMessage e{current_.request_id, wire::ErrorKind::kInternal, MissReason::kAbsent, ""};
    if (s != UCS_OK) {
      e.text = std::string("receiving the sender's error failed: ") + ucs_status_string(s);
    } else {
      auto m = wire::decode(std::span<const std::byte>(error_frame_.data(), info.length));
      const auto* got = m ? std::get_if<wire::ErrorMessage>(&*m) : nullptr;
      if (got != nullptr) {
        e = *got;
      } else {
        e.text = "the sender's error did not decode: " + (m ? std::string("not an error frame") : m.status().message());
      }
    }
    sender_error_ = std::move(e);
    return true;
  }

  Status sender_error_status() const {
    const wire::ErrorMessage& e = *sender_error_;
    if (e.kind == wire::ErrorKind::kMiss) return Status::io_error(e.text);  // "full prefill: <reason>: ..."
    return Status::io_error("full prefill: the sender refused the request: " + e.text);
  }

  //! Waits for a tag receive (posted with UCP_OP_ATTR_FLAG_NO_IMM_CMPL, so `req` is a request
  //! or an error), also giving up as soon as the sender's error arrives.
  Status wait_recv(void* req, ucp_tag_recv_info_t& info, const std::string& what) {
    if (req == nullptr) return Status::internal(what + ": UCX completed a receive without a request");
    if (UCS_PTR_IS_ERR(req)) return ucx_detail::ucs_error(what, UCS_PTR_STATUS(req));
    const auto until = deadline();
    for (;;) {
      const ucs_status_t s = ucp_tag_recv_request_test(req, &info);
      if (s != UCS_INPROGRESS) {
        ucp_request_free(req);
        return s == UCS_OK ? Status::ok() : ucx_detail::ucs_error(what, s);
      }
      if (Status stop = why_stop_waiting(what, until); !stop.is_ok()) {
        ucx_detail::cancel_and_free(*worker_, req);
        return stop;
      }
      worker_->progress();
    }
  }

  //! Why a wait for `what` must end now (the sender's error arrived, the sender failed, or
  //! `until` passed), or ok to go on waiting.
  Status why_stop_waiting(const std::string& what, ucx_detail::Clock::time_point until) {
    if (error_arrived()) return sender_error_status();
    if (peer_failed_.load()) return Status::io_error(what + ": the sender failed (disconnected or died)");
    if (ucx_detail::Clock::now() >= until) {
      return Status::io_error(what + ": timed out after " + std::to_string(options_.timeout.count()) + " ms");
    }
    return Status::ok();
  }

  Status fetch(const prefill::TransferTag& tag, std::span<std::byte> dst) {
    const ChunkKey key{current_.context_hash, current_.fingerprint, tag.layer, tag.payload};
    const std::string name = "ucx receiver: " + to_string(key);
    std::vector<std::byte> header(wire::kMaxFrameBytes);
    ucp_tag_recv_info_t info{};
    // NOTE: always a request (no immediate completion): UCX 1.13 left recv_info's length at 0
    // when a receive matched an already arrived message, so the length is read from the request.
    ucp_request_param_t hp{};
    hp.op_attr_mask = UCP_OP_ATTR_FLAG_NO_IMM_CMPL;
    void* req = ucp_tag_recv_nbx(worker_->get(), header.data(), header.size(),
                                 ucx_detail::make_tag(ucx_detail::TagType::kHeader, current_.request_id, tag.payload, tag.layer),
                                 ucx_detail::kFullMask, &hp);
    DROIDSPEAK_TRY(wait_recv(req, info, name + ": header"));
    auto m = wire::decode(std::span<const std::byte>(header.data(), info.length));
    if (!m) return m.status().with_context(name + ": header");
    const auto* h = std::get_if<wire::ChunkHeader>(&*m);
    if (h == nullptr || h->request_id != current_.request_id || !(h->key == key)) {
      return Status::io_error(name + ": the sender's header names another chunk");
    }
    if (h->byte_length != dst.size()) {
      return Status::invalid_argument(name + ": the sender has " + std::to_string(h->byte_length) +
                                      " bytes, the destination " + std::to_string(dst.size()));
    }
    return receive_pieces(key, name, dst, h->checksum);
  }

  //! Receives the chunk's pieces into `dst` (all posted at once) and checks them: the worker
  //! sums one piece's checksum lanes while UCX moves the next. On every return the worker no
  //! longer reads `dst`.
  Status receive_pieces(const ChunkKey& key, const std::string& name, std::span<std::byte> dst, std::uint64_t expected) {
    const PieceSplit split(dst.size());
    ucp_mem_h memh = dst.empty() ? nullptr : registration_of(dst);
    std::vector<void*> reqs(split.count, nullptr);
    Status failed = Status::ok();
    for (std::size_t i = 0; i < split.count && failed.is_ok(); ++i) {
      const std::span<std::byte> piece = split.piece(dst, i);
      ucp_request_param_t dp{};
      dp.op_attr_mask = UCP_OP_ATTR_FLAG_NO_IMM_CMPL;  // always a request: its length is read from it
      if (memh != nullptr) {
        dp.op_attr_mask |= UCP_OP_ATTR_FIELD_MEMH;
        dp.memh = memh;
      }
      void* req = ucp_tag_recv_nbx(worker_->get(), piece.data(), piece.size(),
                                   ucx_detail::make_tag(ucx_detail::TagType::kData, current_.request_id, key.kind, key.layer, i),
                                   ucx_detail::kFullMask, &dp);
      if (req == nullptr || UCS_PTR_IS_ERR(req)) {
        failed = req == nullptr ? Status::internal(name + ": UCX completed a receive without a request")
                                : ucx_detail::ucs_error(name + ": posting piece " + std::to_string(i), UCS_PTR_STATUS(req));
      } else {
        reqs[i] = req;
      }
    }
    // A single piece is checked here; several go to the worker as they complete.
    const bool overlap = split.count > 1;
    std::size_t left = 0;
    for (void* r : reqs) left += r != nullptr ? 1 : 0;
    const auto until = deadline();
    while (failed.is_ok() && left > 0) {
      for (std::size_t i = 0; i < split.count && failed.is_ok(); ++i) {
        if (reqs[i] == nullptr) continue;
        ucp_tag_recv_info_t info{};
        const ucs_status_t st = ucp_tag_recv_request_test(reqs[i], &info);
        if (st == UCS_INPROGRESS) continue;
        ucp_request_free(reqs[i]);
        reqs[i] = nullptr;
        --left;
        const std::span<std::byte> piece = split.piece(dst, i);
        if (st != UCS_OK) {
          failed = ucx_detail::request_error(name + ": piece " + std::to_string(i), st);
        } else if (info.length != piece.size()) {
          failed = Status::io_error(name + ": piece " + std::to_string(i) + " has " + std::to_string(info.length) +
                                    " bytes, expected " + std::to_string(piece.size()));
        } else if (overlap) {
          checksum_worker().submit(piece, split.first_stripe(i));
        }
      }
      if (!failed.is_ok() || left == 0) break;
      failed = why_stop_waiting(name + ": bytes", until);
      if (failed.is_ok()) worker_->progress();
    }
    for (void*& r : reqs) {
      if (r != nullptr) ucx_detail::cancel_and_free(*worker_, r);
      r = nullptr;
    }
    const ChecksumLanes lanes = overlap ? checksum_worker().collect() : ChecksumLanes{};  // the worker is idle now
    if (!failed.is_ok()) return failed;
    const std::uint64_t got = overlap ? finish_checksum(lanes, dst) : chunk_checksum(dst);
    return check_checksum(key, expected, got, dst.size()).with_context("ucx receiver");
  }

  ChecksumWorker& checksum_worker() {
    if (!checksum_worker_) checksum_worker_ = std::make_unique<ChecksumWorker>();
    return *checksum_worker_;
  }

  void end_request() {
    if (error_request_ != nullptr) ucx_detail::cancel_and_free(*worker_, error_request_);
    error_request_ = nullptr;
    active_ = false;
  }

  Status close() {
    if (!worker_) return Status::ok();
    end_request();
    if (ep_ != nullptr) {
      ucp_request_param_t cp{};
      if (peer_failed_.load()) {
        cp.op_attr_mask = UCP_OP_ATTR_FIELD_FLAGS;
        cp.flags = UCP_EP_CLOSE_FLAG_FORCE;
      }
      void* req = ucp_ep_close_nbx(ep_, &cp);
      if (req != nullptr && !UCS_PTR_IS_ERR(req)) {
        const auto until = ucx_detail::Clock::now() + std::chrono::milliseconds(2000);
        while (ucp_request_check_status(req) == UCS_INPROGRESS && ucx_detail::Clock::now() < until) worker_->progress();
        ucp_request_free(req);
      }
      ep_ = nullptr;
    }
    for (const Region& r : regions_) ucp_mem_unmap(worker_->context(), r.memh);
    regions_.clear();
    worker_.reset();
    return Status::ok();
  }

  struct Region {
    std::byte* begin = nullptr;
    std::size_t size = 0;
    ucp_mem_h memh = nullptr;
  };

  //! The registration covering all of `dst`, or null.
  ucp_mem_h registration_of(std::span<std::byte> dst) const {
    for (const Region& r : regions_) {
      if (dst.data() >= r.begin && dst.data() + dst.size() <= r.begin + r.size) return r.memh;
    }
    return nullptr;
  }

  ReceiverOptions options_;
  std::unique_ptr<ucx_detail::Worker> worker_;
  std::vector<Region> regions_;
  ucp_ep_h ep_ = nullptr;
  std::atomic<bool> peer_failed_{false};
  std::uint64_t next_request_id_ = 1;
  wire::Request current_;
  bool active_ = false;
  Status failure_;
  std::optional<wire::ErrorMessage> sender_error_;
  std::vector<std::byte> error_frame_;
  void* error_request_ = nullptr;
  prefill::TransferLog log_;
  std::unique_ptr<ChecksumWorker> checksum_worker_;  // started by the first chunk of several pieces
};

static_assert(prefill::Transport<UcxReceiver>);

}}}  // namespace droidspeak::DROIDSPEAK_ABI::transfer
