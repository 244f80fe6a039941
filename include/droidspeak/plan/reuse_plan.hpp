// SPDX-FileCopyrightText: 2026 The droidspeak authors
// SPDX-License-Identifier: Apache-2.0
//! @file `ReusePlan`: which layers the receiver recomputes (sorted, disjoint, inclusive layer
//! intervals); every other layer reuses the sender's KV as it is.
#pragma once

#include "droidspeak/core/config.hpp"
#include "droidspeak/core/status.hpp"
#include "droidspeak/layout/layer_set.hpp"

#include <charconv>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace droidspeak { inline namespace DROIDSPEAK_ABI { namespace plan {

//! Layers [first, last], both inclusive.
struct LayerInterval {
  std::int64_t first = 0;
  std::int64_t last = 0;

  constexpr std::int64_t size() const { return last - first + 1; }
  friend constexpr bool operator==(const LayerInterval&, const LayerInterval&) = default;
};

//! A reuse plan for a model of `num_layers` layers: zero, one or several intervals to
//! recompute. Intervals are sorted and disjoint; two adjacent intervals ([2, 3] and [4, 5])
//! are a different plan from their union ([2, 5]): the second one starts again from the
//! sender's hidden state at layer 4.
class ReusePlan {
 public:
  ReusePlan() = default;

  //! Validates and builds: 1 <= num_layers <= kMaxLayers; each interval has
  //! 0 <= first <= last < num_layers; intervals sorted by `first` and not overlapping.
  static Result<ReusePlan> create(std::int64_t num_layers, std::vector<LayerInterval> intervals) {
    if (num_layers < 1 || num_layers > layout::kMaxLayers) {
      return Status::invalid_argument("reuse plan: num_layers " + std::to_string(num_layers) +
                                      " outside [1, " + std::to_string(layout::kMaxLayers) + "]");
    }
    for (std::size_t i = 0; i < intervals.size(); ++i) {
      const LayerInterval& v = intervals[i];
      if (v.first < 0 || v.last < v.first || v.last >= num_layers) {
        return Status::out_of_range("reuse plan: interval [" + std::to_string(v.first) + ", " +
                                    std::to_string(v.last) + "] is not inside layers [0, " +
                                    std::to_string(num_layers - 1) + "]");
      }
      if (i > 0 && v.first <= intervals[i - 1].last) {
        return Status::invalid_argument(
            "reuse plan: intervals must be sorted and disjoint, but [" +
            std::to_string(intervals[i - 1].first) + ", " + std::to_string(intervals[i - 1].last) +
            "] is followed by [" + std::to_string(v.first) + ", " + std::to_string(v.last) + "]");
      }
    }
    ReusePlan p;
    p.num_layers_ = num_layers;
    p.intervals_ = std::move(intervals);
    return p;
  }

  //! Reuse every layer (recompute nothing).
  static ReusePlan full_reuse(std::int64_t num_layers) { return *create(num_layers, {}); }
  //! Recompute every layer: the receiver's own full prefill.
  static ReusePlan full_recompute(std::int64_t num_layers) {
    return *create(num_layers, {{0, num_layers - 1}});
  }

  //! Parses "" / "none" (full reuse), "all" (full recompute) or a list like "0-3,7,9-10"
  //! (inclusive ranges), then validates as create().
  static Result<ReusePlan> parse(std::string_view text, std::int64_t num_layers) {
    if (text.empty() || text == "none") return create(num_layers, {});
    if (text == "all") return create(num_layers, {{0, num_layers - 1}});
    std::vector<LayerInterval> out;
    while (!text.empty()) {
      const std::size_t comma = text.find(',');
      const std::string_view item = text.substr(0, comma);
      text = comma == std::string_view::npos ? std::string_view{} : text.substr(comma + 1);
      const std::size_t dash = item.find('-');
      LayerInterval v;
      const bool ok = parse_int(item.substr(0, dash), v.first) &&
                      (dash == std::string_view::npos ? (v.last = v.first, true)
                                                      : parse_int(item.substr(dash + 1), v.last));
      if (!ok) {
        return Status::invalid_argument("reuse plan: cannot read interval '" + std::string(item) +
                                        "' (expected N or N-M)");
      }
      out.push_back(v);
    }
    return create(num_layers, std::move(out));
  }

  std::int64_t num_layers() const { return num_layers_; }
  const std::vector<LayerInterval>& intervals() const { return intervals_; }
  std::int64_t num_intervals() const { return static_cast<std::int64_t>(intervals_.size()); }

  //! Layers the receiver recomputes.
  layout::LayerSet recomputed() const {
    layout::LayerSet s;
    for (const LayerInterval& v : intervals_) s = s | layout::LayerSet::range(v.first, v.last + 1);
    return s;
  }
  //! Layers whose KV the receiver adopts from the sender: the only KV ever transferred.
  layout::LayerSet reused() const { return layout::LayerSet::all(num_layers_).minus(recomputed()); }
  //! Layers whose entering hidden state E the sender must provide: the first layer of each
  //! interval except layer 0, which starts from the receiver's own embeddings.
  layout::LayerSet entry_layers() const {
    layout::LayerSet s;
    for (const LayerInterval& v : intervals_) {
      if (v.first > 0) s.insert(v.first);
    }
    return s;
  }
  std::int64_t num_recomputed() const {
    std::int64_t n = 0;
    for (const LayerInterval& v : intervals_) n += v.size();
    return n;
  }

  //! "0-3,7" in parse()'s syntax; "none" for full reuse.
  std::string to_string() const {
    if (intervals_.empty()) return "none";
    std::string out;
    for (const LayerInterval& v : intervals_) {
      if (!out.empty()) out += ",";
      out += std::to_string(v.first);
      if (v.last != v.first) out += "-" + std::to_string(v.last);
    }
    return out;
  }

  friend bool operator==(const ReusePlan&, const ReusePlan&) = default;

 private:
  static bool parse_int(std::string_view s, std::int64_t& v) {
    if (s.empty()) return false;
    const auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    return ec == std::errc{} && p == s.data() + s.size();
  }

  std::int64_t num_layers_ = 0;
  std::vector<LayerInterval> intervals_;
};

}}}  // namespace droidspeak::DROIDSPEAK_ABI::plan
