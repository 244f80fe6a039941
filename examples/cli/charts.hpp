// SPDX-FileCopyrightText: 2026 The droidspeak authors
// SPDX-License-Identifier: Apache-2.0
//! @file The tool's pictures as SVG, from plain data: the profiling grid as a heat map, the
//! Pareto front of quality drop against layers recomputed, the timeline of one pipelined
//! partial prefill against a full prefill, and time to first token against load for several
//! serving strategies. Every picture has a title, labelled axes and a legend.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <iterator>  // std::size
#include <string>
#include <vector>

#include "svg.hpp"

namespace droidspeak_cli::charts {

//! One recompute interval [first, last] and its quality drop (a fraction: 0.05 is 5 %).
//! NaN: the profiler pruned the interval (it provably cannot be on the front), drawn greyed.
struct IntervalDrop {
  std::int64_t first = 0;
  std::int64_t last = 0;
  double drop = 0.0;
};

//! The profiling grid: every profiled interval, at `granularity`, of a `num_layers` model.
struct HeatMapData {
  std::string title;
  std::string measure;  //!< what the drop is, e.g. "loss drop"
  std::int64_t num_layers = 0;
  std::int64_t granularity = 1;
  std::vector<IntervalDrop> cells;
  double full_reuse_drop = 0.0;
  double threshold = 0.05;
  bool has_selected = false;  //!< the selected plan is one grid interval
  IntervalDrop selected;
  bool percent = true;  //!< drops are fractions shown as %; false: plain numbers (KL, nats)
};

//! A plan on the quality/cost plane.
struct PlanPoint {
  std::int64_t layers = 0;  //!< layers recomputed
  double drop = 0.0;
  std::string plan;  //!< ReusePlan::to_string()
};

//! Everything profiled, the Pareto front, the two extremes and the selection.
struct ParetoData {
  std::string title;
  std::string measure;
  std::int64_t num_layers = 0;
  std::vector<PlanPoint> points;
  std::vector<PlanPoint> front;
  PlanPoint full_reuse;
  PlanPoint full_recompute;
  PlanPoint selected;
  double threshold = 0.05;
  bool percent = true;  //!< as HeatMapData::percent
};

//! Lanes of the timeline, top to bottom.
enum class Lane { kTransferE, kTransferKv, kAdopt, kRecompute, kSuffix };
inline constexpr const char* kLaneNames[] = {"E transfer", "KV transfer", "KV adoption",
                                             "recompute", "suffix"};
inline constexpr const char* kLaneColours[] = {"#e6a23c", "#5b8ff9", "#9b7bd4", "#d9534f",
                                               "#3aa17e"};

//! One phase on the receiver's clock, in milliseconds since the partial prefill began.
struct Phase {
  Lane lane = Lane::kRecompute;
  double start_ms = 0.0;
  double end_ms = 0.0;
  std::string label;  //!< shown inside the bar when it fits, and as its tooltip
};

//! One partial prefill's phases and the full prefill it replaces.
struct TimelineData {
  std::string title;
  std::vector<Phase> phases;
  double partial_total_ms = 0.0;
  double full_prefill_ms = 0.0;
  std::string full_label;  //!< e.g. "full prefill: 12 layers x 576 tokens"
};

namespace detail {

inline std::string pct(double fraction, int decimals = 1, bool percent = true) {
  char buf[32];
  if (percent) {
    std::snprintf(buf, sizeof buf, "%.*f %%", decimals, 100.0 * fraction);
  } else {
    std::snprintf(buf, sizeof buf, "%.*f", decimals + 1, fraction);
  }
  return buf;
}

// Decimals that tell ticks `step` apart, as pct() prints them (pct adds one when !percent).
inline int tick_decimals(const std::vector<double>& ticks, bool percent) {
  const double step = ticks.size() >= 2 ? std::abs(ticks[1] - ticks[0]) : 1.0;
  const double shown = percent ? 100.0 * step : step;
  int d = 0;
  while (d < 6 &&
         std::abs(shown * std::pow(10.0, d) - std::round(shown * std::pow(10.0, d))) > 1e-6)
    ++d;
  return percent ? d : std::max(0, d - 1);
}

// About `count` round tick values covering [lo, hi].
inline std::vector<double> ticks(double lo, double hi, int count) {
  if (!(hi > lo)) return {lo};
  const double raw = (hi - lo) / count;
  const double mag = std::pow(10.0, std::floor(std::log10(raw)));
  double step = mag;
  for (double m : {1.0, 2.0, 2.5, 5.0, 10.0}) {
    if (m * mag >= raw) {
      step = m * mag;
      break;
    }
  }
  std::vector<double> out;
  for (double t = std::ceil(lo / step - 1e-9) * step; t <= hi + 1e-9 * step; t += step) {
    out.push_back(std::abs(t) < 1e-12 * step ? 0.0 : t);
  }
  return out;
}

// A perceptually ordered colour for t in [0, 1] (light yellow -> orange -> dark purple).
inline std::string ramp(double t) {
  static constexpr double kStops[][3] = {
      {255, 247, 188}, {254, 196, 79}, {236, 112, 20}, {180, 40, 60}, {84, 10, 90}};
  t = std::clamp(t, 0.0, 1.0) * 4.0;
  const int i = std::min(3, static_cast<int>(t));
  const double f = t - i;
  char buf[8];
  std::snprintf(buf, sizeof buf, "#%02x%02x%02x",
                static_cast<int>(kStops[i][0] + f * (kStops[i + 1][0] - kStops[i][0])),
                static_cast<int>(kStops[i][1] + f * (kStops[i + 1][1] - kStops[i][1])),
                static_cast<int>(kStops[i][2] + f * (kStops[i + 1][2] - kStops[i][2])));
  return buf;
}

inline void legend_box(svg::Document& d, double x, double y, double w, double h) {
  d.rect(x, y, w, h, "white", "#999", 1);
}

}  // namespace detail

//! The profiling grid: x = first recomputed layer, y = last recomputed layer, colour = drop
//! (square-root scale, so small drops near the threshold stay distinguishable), with the
//! value in each cell, the intervals within the threshold outlined and the selected one
//! drawn thick.
inline constexpr const char* kPrunedFill = "#e4e4e4";  //!< a pruned grid cell

inline svg::Document heat_map(const HeatMapData& data) {
  const std::int64_t g = std::max<std::int64_t>(1, data.granularity);
  std::vector<std::int64_t> starts, ends;
  for (std::int64_t s = 0; s < data.num_layers; s += g) starts.push_back(s);
  for (std::int64_t e = g - 1; e < data.num_layers - 1; e += g) ends.push_back(e);
  ends.push_back(data.num_layers - 1);
  const double cell = std::clamp(480.0 / static_cast<double>(starts.size()), 18.0, 48.0);
  const double left = 80, top = 60;
  const double plot_w = cell * static_cast<double>(starts.size());
  const double plot_h = cell * static_cast<double>(ends.size());
  const double legend_x = left + plot_w + 40;
  const double bar_h = std::min(plot_h, 240.0);  // the legend's colour bar
  svg::Document d(legend_x + 150, std::max(top + plot_h + 90, top + bar_h + 140));
  d.text(d.width() / 2, 28, data.title, {.size = 16, .anchor = svg::Anchor::kMiddle, .bold = true});

  double vmax = data.full_reuse_drop;
  bool any_pruned = false;
  for (const IntervalDrop& c : data.cells) {
    if (std::isnan(c.drop)) any_pruned = true;
    else vmax = std::max(vmax, c.drop);
  }
  if (!(vmax > 0)) vmax = 1e-6;
  auto colour = [&](double v) { return detail::ramp(std::sqrt(std::max(0.0, v) / vmax)); };
  auto col = [&](std::int64_t first) { return static_cast<double>(first / g); };
  auto row = [&](std::int64_t last) {
    return static_cast<double>(std::lower_bound(ends.begin(), ends.end(), last) - ends.begin());
  };

  d.begin_group("cells");
  for (const IntervalDrop& c : data.cells) {
    const double x = left + cell * col(c.first);
    const double y = top + plot_h - cell * (row(c.last) + 1);  // end layer grows upwards
    if (std::isnan(c.drop)) {
      const std::string tip = "recompute " + std::to_string(c.first) + "-" + std::to_string(c.last) +
                              ": pruned (provably not on the front; measured on some samples only)";
      d.rect(x, y, cell, cell, kPrunedFill, "white", 1, tip);
      if (cell >= 30) {
        d.text(x + cell / 2, y + cell / 2 + 4, "pruned",
               {.size = 8, .anchor = svg::Anchor::kMiddle, .fill = "#777"});
      }
      continue;
    }
    const std::string tip = "recompute " + std::to_string(c.first) + "-" + std::to_string(c.last) +
                            ": " + data.measure + " " + detail::pct(c.drop, 2, data.percent);
    d.rect(x, y, cell, cell, colour(c.drop), "white", 1, tip);
    if (c.drop <= data.threshold) d.rect(x + 2, y + 2, cell - 4, cell - 4, "none", "#1f77b4", 1.5);
    if (cell >= 30) {
      const double t = std::sqrt(std::max(0.0, c.drop) / vmax);
      d.text(x + cell / 2, y + cell / 2 + 4,
             detail::pct(c.drop, std::abs(c.drop) < 0.1 ? 1 : 0, data.percent),
             {.size = 9, .anchor = svg::Anchor::kMiddle, .fill = t > 0.55 ? "white" : "#222"});
    }
  }
  if (data.has_selected) {
    const double x = left + cell * col(data.selected.first);
    const double y = top + plot_h - cell * (row(data.selected.last) + 1);
    d.rect(x + 1, y + 1, cell - 2, cell - 2, "none", "#00a000", 3.5);
  }
  d.end_group();

  // Axes: ticks at every start (x) and end (y) layer.
  d.begin_group("axes");
  d.line(left, top + plot_h, left + plot_w, top + plot_h, "#333");
  d.line(left, top, left, top + plot_h, "#333");
  const std::size_t every = starts.size() > 24 ? (starts.size() + 23) / 24 : 1;
  for (std::size_t i = 0; i < starts.size(); i += every) {
    const double x = left + cell * (static_cast<double>(i) + 0.5);
    d.line(x, top + plot_h, x, top + plot_h + 4, "#333");
    d.text(x, top + plot_h + 17, std::to_string(starts[i]),
           {.size = 11, .anchor = svg::Anchor::kMiddle});
  }
  for (std::size_t i = 0; i < ends.size(); i += every) {
    const double y = top + plot_h - cell * (static_cast<double>(i) + 0.5);
    d.line(left - 4, y, left, y, "#333");
    d.text(left - 8, y + 4, std::to_string(ends[i]), {.size = 11, .anchor = svg::Anchor::kEnd});
  }
  d.text(left + plot_w / 2, top + plot_h + 40, "first recomputed layer (start)",
         {.size = 13, .anchor = svg::Anchor::kMiddle});
  d.text(left - 45, top + plot_h / 2, "last recomputed layer (end)",
         {.size = 13, .anchor = svg::Anchor::kMiddle, .rotate = -90});
  d.text(left, top + plot_h + 62,
         "full reuse (no layer recomputed): " + data.measure + " " +
             detail::pct(data.full_reuse_drop, 2, data.percent),
         {.size = 11});
  d.end_group();

  // Legend: the colour scale, the threshold outline and the selection.
  d.begin_group("legend");
  detail::legend_box(d, legend_x - 10, top - 10, 150, bar_h + (any_pruned ? 132 : 110));
  d.text(legend_x, top + 5, data.measure, {.size = 12, .bold = true});
  const int steps = 48;
  for (int i = 0; i < steps; ++i) {
    const double t = static_cast<double>(i) / steps;  // on the sqrt scale, bottom = 0
    d.rect(legend_x, top + 15 + bar_h - bar_h * (t + 1.0 / steps), 18, bar_h / steps + 0.5,
           detail::ramp(t + 0.5 / steps));
  }
  const std::vector<double> legend_ticks = detail::ticks(0, vmax, 5);
  const int legend_decimals = detail::tick_decimals(legend_ticks, data.percent);
  for (double v : legend_ticks) {
    const double y = top + 15 + bar_h - bar_h * std::sqrt(v / vmax);
    d.line(legend_x + 18, y, legend_x + 23, y, "#333");
    d.text(legend_x + 27, y + 4, detail::pct(v, legend_decimals, data.percent), {.size = 10});
  }
  const double ly = top + 15 + bar_h + 20;
  d.rect(legend_x, ly, 14, 14, "none", "#1f77b4", 1.5);
  d.text(legend_x + 20, ly + 11, "drop <= " + detail::pct(data.threshold, 1, data.percent),
         {.size = 10});
  d.rect(legend_x, ly + 22, 14, 14, "none", "#00a000", 3);
  d.text(legend_x + 20, ly + 33, "selected plan", {.size = 10});
  if (any_pruned) {
    d.rect(legend_x, ly + 44, 14, 14, kPrunedFill, "#999", 1);
    d.text(legend_x + 20, ly + 55, "pruned (not on front)", {.size = 10});
  }
  d.text(legend_x, ly + (any_pruned ? 78 : 56), "(sqrt colour scale)", {.size = 9, .fill = "#666"});
  d.end_group();
  return d;
}

//! Quality drop against layers recomputed: every profiled plan (grey), the Pareto front
//! (line), full reuse, full recompute, the selected plan and the threshold.
inline svg::Document pareto(const ParetoData& data) {
  const double left = 80, top = 60, plot_w = 520, plot_h = 340;
  svg::Document d(left + plot_w + 200, top + plot_h + 70);
  d.text(d.width() / 2, 28, data.title, {.size = 16, .anchor = svg::Anchor::kMiddle, .bold = true});
  double lo = 0, hi = std::max(data.threshold, data.full_reuse.drop);
  for (const PlanPoint& p : data.points) {
    lo = std::min(lo, p.drop);
    hi = std::max(hi, p.drop);
  }
  hi += 0.05 * (hi - lo);
  std::vector<double> yt = detail::ticks(lo, hi, 6);
  if (yt.size() >= 2 && yt.front() > lo) {  // extend the axis down to a round tick
    yt.insert(yt.begin(), yt.front() - (yt[1] - yt[0]));
  }
  lo = std::min(lo, yt.front());
  const double L = static_cast<double>(std::max<std::int64_t>(1, data.num_layers));
  auto X = [&](double layers) { return left + plot_w * layers / L; };
  auto Y = [&](double drop) { return top + plot_h - plot_h * (drop - lo) / (hi - lo); };

  d.begin_group("axes");
  for (double t : yt) {
    if (t > hi) continue;
    d.line(left, Y(t), left + plot_w, Y(t), t == 0 ? "#888" : "#e5e5e5");
    d.text(left - 8, Y(t) + 4,
           detail::pct(t, detail::tick_decimals(yt, data.percent), data.percent),
           {.size = 11, .anchor = svg::Anchor::kEnd});
  }
  const std::int64_t xstep = data.num_layers > 24 ? 4 : (data.num_layers > 12 ? 2 : 1);
  for (std::int64_t k = 0; k <= data.num_layers; k += xstep) {
    d.line(X(static_cast<double>(k)), top + plot_h, X(static_cast<double>(k)), top + plot_h + 4,
           "#333");
    d.text(X(static_cast<double>(k)), top + plot_h + 17, std::to_string(k),
           {.size = 11, .anchor = svg::Anchor::kMiddle});
  }
  d.line(left, top + plot_h, left + plot_w, top + plot_h, "#333");
  d.line(left, top, left, top + plot_h, "#333");
  d.text(left + plot_w / 2, top + plot_h + 42, "layers recomputed by the receiver",
         {.size = 13, .anchor = svg::Anchor::kMiddle});
  d.text(left - 55, top + plot_h / 2, data.measure + " vs full prefill",
         {.size = 13, .anchor = svg::Anchor::kMiddle, .rotate = -90});
  d.end_group();

  d.begin_group("threshold");
  d.line(left, Y(data.threshold), left + plot_w, Y(data.threshold), "#1f77b4", 1.2, "6 4");
  d.end_group();
  d.begin_group("points");
  for (const PlanPoint& p : data.points) {
    d.circle(X(static_cast<double>(p.layers)), Y(p.drop), 3, "#bbb", "none", 1,
             p.plan + ": " + detail::pct(p.drop, 2, data.percent));
  }
  d.end_group();
  d.begin_group("front");
  std::vector<double> xy;
  for (const PlanPoint& p : data.front) {
    xy.push_back(X(static_cast<double>(p.layers)));
    xy.push_back(Y(p.drop));
  }
  if (xy.size() >= 4) d.poly(xy, "none", "#333", 1.8, false);
  for (const PlanPoint& p : data.front) {
    d.circle(X(static_cast<double>(p.layers)), Y(p.drop), 4.5, "#333", "white", 1,
             "front: " + p.plan + ": " + detail::pct(p.drop, 2, data.percent));
  }
  d.end_group();
  d.begin_group("marks");
  const double rx = X(0), ry = Y(data.full_reuse.drop);
  d.rect(rx - 6, ry - 6, 12, 12, "#d62728", "white", 1,
         "full reuse: " + detail::pct(data.full_reuse.drop, 2, data.percent));
  const double cx = X(L), cy = Y(data.full_recompute.drop);
  d.poly({cx, cy - 8, cx + 8, cy, cx, cy + 8, cx - 8, cy}, "#2ca02c", "white", 1, true,
         "full recompute");
  const double sx = X(static_cast<double>(data.selected.layers)), sy = Y(data.selected.drop);
  d.circle(
      sx, sy, 10, "none", "#ff7f0e", 3,
      "selected: " + data.selected.plan + ": " + detail::pct(data.selected.drop, 2, data.percent));
  d.text(sx + 13, sy - 10, "selected " + data.selected.plan,
         {.size = 11, .bold = true, .fill = "#c05a00"});
  d.end_group();

  d.begin_group("legend");
  const double lx = left + plot_w + 20, ly = top;
  detail::legend_box(d, lx - 8, ly - 8, 180, 142);
  d.circle(lx + 6, ly + 8, 3, "#bbb");
  d.text(lx + 20, ly + 12, "profiled interval", {.size = 11});
  d.line(lx - 2, ly + 30, lx + 14, ly + 30, "#333", 1.8);
  d.circle(lx + 6, ly + 30, 4.5, "#333", "white");
  d.text(lx + 20, ly + 34, "Pareto front", {.size = 11});
  d.rect(lx, ly + 46, 12, 12, "#d62728");
  d.text(lx + 20, ly + 56, "full reuse", {.size = 11});
  d.poly({lx + 6, ly + 66, lx + 14, ly + 74, lx + 6, ly + 82, lx - 2, ly + 74}, "#2ca02c", "none");
  d.text(lx + 20, ly + 78, "full recompute", {.size = 11});
  d.circle(lx + 6, ly + 96, 7, "none", "#ff7f0e", 3);
  d.text(lx + 20, ly + 100, "selected plan", {.size = 11});
  d.line(lx - 2, ly + 118, lx + 14, ly + 118, "#1f77b4", 1.2, "6 4");
  d.text(lx + 20, ly + 122, "threshold " + detail::pct(data.threshold, 1, data.percent),
         {.size = 11});
  d.end_group();
  return d;
}

//! The phases of one partial prefill in lanes, and a bar for the receiver's full prefill
//! of the same input, on one time axis in milliseconds.
inline svg::Document timeline(const TimelineData& data) {
  const double left = 120, top = 60, plot_w = 600, lane_h = 34;
  constexpr int kLanes = 5;
  const double plot_h = lane_h * (kLanes + 1) + 14;
  svg::Document d(left + plot_w + 90, top + plot_h + 110);
  d.text(d.width() / 2, 28, data.title, {.size = 16, .anchor = svg::Anchor::kMiddle, .bold = true});
  double tmax = std::max(data.partial_total_ms, data.full_prefill_ms);
  for (const Phase& p : data.phases) tmax = std::max(tmax, p.end_ms);
  if (!(tmax > 0)) tmax = 1;
  const std::vector<double> xt = detail::ticks(0, tmax * 1.02, 8);
  const double span = std::max(tmax * 1.02, xt.back());
  auto X = [&](double ms) { return left + plot_w * ms / span; };

  d.begin_group("axes");
  for (double t : xt) {
    d.line(X(t), top, X(t), top + plot_h, "#eee");
    d.line(X(t), top + plot_h, X(t), top + plot_h + 4, "#333");
    char buf[32];
    std::snprintf(buf, sizeof buf, span < 5 ? "%.2f" : (span < 50 ? "%.1f" : "%.0f"), t);
    d.text(X(t), top + plot_h + 17, buf, {.size = 11, .anchor = svg::Anchor::kMiddle});
  }
  d.line(left, top + plot_h, left + plot_w, top + plot_h, "#333");
  d.line(left, top, left, top + plot_h, "#333");
  d.text(left + plot_w / 2, top + plot_h + 40, "time since the receiver's prefill began (ms)",
         {.size = 13, .anchor = svg::Anchor::kMiddle});
  for (int i = 0; i < kLanes; ++i) {
    d.text(left - 10, top + lane_h * (i + 0.5) + 4, kLaneNames[i],
           {.size = 12, .anchor = svg::Anchor::kEnd});
  }
  const double full_y = top + lane_h * kLanes + 14;
  d.line(left, full_y - 7, left + plot_w, full_y - 7, "#999", 1, "3 3");
  d.text(left - 10, full_y + lane_h / 2 + 4, "full prefill",
         {.size = 12, .anchor = svg::Anchor::kEnd, .bold = true});
  d.end_group();

  d.begin_group("phases");
  for (const Phase& p : data.phases) {
    const int lane = static_cast<int>(p.lane);
    const double x0 = X(p.start_ms), w = std::max(1.0, X(p.end_ms) - x0);
    const double y = top + lane_h * lane + 5;
    char dur[48];
    std::snprintf(dur, sizeof dur, " (%.2f-%.2f ms)", p.start_ms, p.end_ms);
    d.rect(x0, y, w, lane_h - 10, kLaneColours[lane], "white", 0.5, p.label + dur);
    if (w > 7.0 * static_cast<double>(p.label.size()) && !p.label.empty()) {
      d.text(x0 + w / 2, y + lane_h / 2, p.label,
             {.size = 10, .anchor = svg::Anchor::kMiddle, .fill = "white"});
    }
  }
  if (data.partial_total_ms > 0) {
    d.line(X(data.partial_total_ms), top, X(data.partial_total_ms), top + lane_h * kLanes,
           "#d62728", 1.5, "5 3");
    char buf[64];
    std::snprintf(buf, sizeof buf, "partial prefill done: %.1f ms", data.partial_total_ms);
    d.text(X(data.partial_total_ms) + 4, top - 6, buf, {.size = 11, .fill = "#d62728"});
  }
  d.end_group();
  d.begin_group("full");
  d.rect(X(0), full_y + 5, X(data.full_prefill_ms) - X(0), lane_h - 10, "#555", "none", 1,
         data.full_label);
  char fl[96];
  std::snprintf(fl, sizeof fl, "%.1f ms", data.full_prefill_ms);
  d.text(X(data.full_prefill_ms) + 5, full_y + lane_h / 2 + 4, fl, {.size = 11});
  d.end_group();

  d.begin_group("legend");
  const double ly = top + plot_h + 58;
  double lx = left;
  for (int i = 0; i < kLanes; ++i) {
    d.rect(lx, ly, 14, 14, kLaneColours[i]);
    d.text(lx + 19, ly + 11, kLaneNames[i], {.size = 11});
    lx += 30 + 7.0 * static_cast<double>(std::string(kLaneNames[i]).size());
  }
  d.rect(lx, ly, 14, 14, "#555");
  d.text(lx + 19, ly + 11, "receiver's full prefill", {.size = 11});
  d.end_group();
  return d;
}


//! One strategy's latency at each load of a replay, in LoadData's unit.
struct LoadSeries {
  std::string name;          //!< e.g. "full prefill"
  std::vector<double> load;  //!< arrival rate / full-prefill capacity, one per point
  std::vector<double> p50;   //!< [load.size()]
  std::vector<double> p99;   //!< [load.size()]
};

//! Time to first token against load, one colour per strategy.
struct LoadData {
  std::string title;
  std::string subtitle;                             //!< e.g. the link, the request count and the load average
  std::string y_label = "time to first token (ms)";  //!< says the unit of the latencies
  std::string unit = " ms";                         //!< appended to a latency in tooltips
  std::vector<LoadSeries> series;
};

inline constexpr const char* kSeriesColours[] = {"#555555", "#d62728", "#1f77b4", "#2ca02c",
                                                 "#9467bd", "#ff7f0e"};

//! Time to first token (y, in data.unit) against the arrival rate as a fraction of the
//! full-prefill capacity (x): per strategy, p50 as a solid line with dots and p99 dashed with
//! open dots.
inline svg::Document load_curves(const LoadData& data) {
  const double left = 80, top = 72, plot_w = 520, plot_h = 320;
  svg::Document d(left + plot_w + 200, top + plot_h + 70);
  d.text(d.width() / 2, 28, data.title, {.size = 16, .anchor = svg::Anchor::kMiddle, .bold = true});
  d.text(d.width() / 2, 48, data.subtitle, {.size = 11, .anchor = svg::Anchor::kMiddle, .fill = "#555"});
  double xmax = 1.0, ymax = 0.0;
  for (const LoadSeries& s : data.series) {
    for (double v : s.load) xmax = std::max(xmax, v);
    for (double v : s.p50) ymax = std::max(ymax, v);
    for (double v : s.p99) ymax = std::max(ymax, v);
  }
  if (!(ymax > 0)) ymax = 1;
  const std::vector<double> yt = detail::ticks(0, ymax * 1.05, 6);
  const double yspan = std::max(ymax * 1.05, yt.back());
  const std::vector<double> xt = detail::ticks(0, xmax, 5);
  auto X = [&](double v) { return left + plot_w * v / xmax; };
  auto Y = [&](double v) { return top + plot_h - plot_h * v / yspan; };

  d.begin_group("axes");
  for (double t : yt) {
    d.line(left, Y(t), left + plot_w, Y(t), t == 0 ? "#888" : "#e5e5e5");
    char buf[32];
    std::snprintf(buf, sizeof buf, yspan < 5 ? "%.2f" : (yspan < 50 ? "%.1f" : "%.0f"), t);
    d.text(left - 8, Y(t) + 4, buf, {.size = 11, .anchor = svg::Anchor::kEnd});
  }
  for (double t : xt) {
    d.line(X(t), top + plot_h, X(t), top + plot_h + 4, "#333");
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.2g", t);
    d.text(X(t), top + plot_h + 17, buf, {.size = 11, .anchor = svg::Anchor::kMiddle});
  }
  d.line(left, top + plot_h, left + plot_w, top + plot_h, "#333");
  d.line(left, top, left, top + plot_h, "#333");
  d.text(left + plot_w / 2, top + plot_h + 42, "arrival rate / full-prefill capacity",
         {.size = 13, .anchor = svg::Anchor::kMiddle});
  d.text(left - 55, top + plot_h / 2, data.y_label,
         {.size = 13, .anchor = svg::Anchor::kMiddle, .rotate = -90});
  d.end_group();

  d.begin_group("lines");
  for (std::size_t i = 0; i < data.series.size(); ++i) {
    const LoadSeries& s = data.series[i];
    const char* colour = kSeriesColours[i % std::size(kSeriesColours)];
    for (int pass = 0; pass < 2; ++pass) {  // p50, then p99
      const std::vector<double>& ys = pass == 0 ? s.p50 : s.p99;
      std::vector<double> xy;
      for (std::size_t k = 0; k < s.load.size() && k < ys.size(); ++k) {
        xy.push_back(X(s.load[k]));
        xy.push_back(Y(ys[k]));
      }
      if (pass == 0 && xy.size() >= 4) d.poly(xy, "none", colour, 2.0, false);
      for (std::size_t k = 2; pass == 1 && k + 1 < xy.size(); k += 2) {  // p99: dashed segments
        d.line(xy[k - 2], xy[k - 1], xy[k], xy[k + 1], colour, 1.4, "5 3");
      }
      for (std::size_t k = 0; k < s.load.size() && k < ys.size(); ++k) {
        char tip[128];
        std::snprintf(tip, sizeof tip, "%s, load %.2f: p%s %.2f%s", s.name.c_str(), s.load[k],
                      pass == 0 ? "50" : "99", ys[k], data.unit.c_str());
        d.circle(X(s.load[k]), Y(ys[k]), pass == 0 ? 3.5 : 3, pass == 0 ? colour : "white", colour,
                 1.2, tip);
      }
    }
  }
  d.end_group();

  d.begin_group("legend");
  const double lx = left + plot_w + 20, ly = top;
  detail::legend_box(d, lx - 8, ly - 8, 180, 22.0 * static_cast<double>(data.series.size()) + 58);
  for (std::size_t i = 0; i < data.series.size(); ++i) {
    const char* colour = kSeriesColours[i % std::size(kSeriesColours)];
    const double y = ly + 8 + 22.0 * static_cast<double>(i);
    d.line(lx - 2, y, lx + 18, y, colour, 2.0);
    d.circle(lx + 8, y, 3.5, colour, colour);
    d.text(lx + 26, y + 4, data.series[i].name, {.size = 11});
  }
  const double y = ly + 8 + 22.0 * static_cast<double>(data.series.size()) + 8;
  d.line(lx - 2, y, lx + 18, y, "#333", 2.0);
  d.text(lx + 26, y + 4, "p50", {.size = 11});
  d.line(lx - 2, y + 20, lx + 18, y + 20, "#333", 1.4, "5 3");
  d.circle(lx + 8, y + 20, 3, "white", "#333", 1.2);
  d.text(lx + 26, y + 24, "p99", {.size = 11});
  d.end_group();
  return d;
}

}  // namespace droidspeak_cli::charts
