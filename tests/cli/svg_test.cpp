// SPDX-FileCopyrightText: 2026 The droidspeak authors
// SPDX-License-Identifier: Apache-2.0
//! @file The droidspeak tool's SVG writer and pictures (examples/cli/svg.hpp, charts.hpp):
//! escaping, well-formed output (checked by a small tag-balancing reader), and the elements
//! each picture must hold.
#include "../../examples/cli/svg.hpp"

#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "../../examples/cli/charts.hpp"

using namespace droidspeak_cli;

namespace {

// Well-formedness of the subset of XML the writer emits: one prolog, balanced start and end
// tags, quoted attributes, no raw '<' or '&' outside tags and entities. Returns "" or the problem.
std::string xml_problem(const std::string& doc) {
  std::vector<std::string> open;
  std::size_t i = 0;
  if (doc.rfind("<?xml", 0) == 0) i = doc.find("?>") + 2;
  int roots = 0;
  while (i < doc.size()) {
    if (doc[i] == '&') {
      const std::size_t semi = doc.find(';', i);
      const std::string ent = doc.substr(i, semi - i + 1);
      if (ent != "&amp;" && ent != "&lt;" && ent != "&gt;" && ent != "&quot;" && ent != "&apos;")
        return "bad entity " + ent;
      i = semi + 1;
      continue;
    }
    if (doc[i] != '<') {
      if (doc[i] == '>') return "raw '>' in text";
      ++i;
      continue;
    }
    const std::size_t end = doc.find('>', i);
    if (end == std::string::npos) return "unterminated tag";
    std::string tag = doc.substr(i + 1, end - i - 1);
    i = end + 1;
    if (tag.find('<') != std::string::npos) return "'<' inside a tag";
    std::size_t quotes = 0;
    for (char c : tag) quotes += c == '"';
    if (quotes % 2 != 0) return "unbalanced quotes in <" + tag + ">";
    if (tag[0] == '/') {
      if (open.empty() || open.back() != tag.substr(1))
        return "mismatched </" + tag.substr(1) + ">";
      open.pop_back();
      continue;
    }
    const bool self_closing = tag.back() == '/';
    const std::string name = tag.substr(0, tag.find_first_of(" /"));
    if (open.empty()) ++roots;
    if (!self_closing) open.push_back(name);
  }
  if (!open.empty()) return "unclosed <" + open.back() + ">";
  if (roots != 1) return "expected one root element, got " + std::to_string(roots);
  return "";
}

std::size_t count(const std::string& s, const std::string& what) {
  std::size_t n = 0;
  for (std::size_t p = s.find(what); p != std::string::npos; p = s.find(what, p + 1)) ++n;
  return n;
}

}  // namespace

TEST_CASE("escape and number formatting") {
  CHECK(svg::escape("a<b & \"c\" 'd'>") == "a&lt;b &amp; &quot;c&quot; &apos;d&apos;&gt;");
  CHECK(svg::escape(std::string("x\x01y\xff")) == "x?y?");
  CHECK(svg::num(1.0) == "1");
  CHECK(svg::num(2.505) == "2.5");  // two decimals, trailing zeros dropped
  CHECK(svg::num(-0.001) == "0");
}

TEST_CASE("a document with hostile text is well-formed") {
  svg::Document d(100, 50);
  d.begin_group("g<1>");
  d.rect(0, 0, 10, 10, "red", "none", 1, "tip </title> & <script>");
  d.circle(5, 5, 2, "blue", "none", 1, "c");
  d.poly({0, 0, 1, 1, 2, 0}, "none", "#000", 1, false, "p \"q\"");
  d.text(1, 1, "a <b> & c", {.rotate = -90});
  d.line(0, 0, 1, 1, "#000", 1, "2 2");
  d.end_group();
  const std::string s = d.str();
  CHECK(xml_problem(s) == "");
  CHECK(count(s, "<title>") == 3);
  CHECK(s.find("<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"100\" height=\"50\"") !=
        std::string::npos);
}

TEST_CASE("the heat map holds every cell, both axes and the legend") {
  charts::HeatMapData h{.title = "grid & more",
                        .measure = "loss drop",
                        .num_layers = 6,
                        .granularity = 2,
                        .cells = {},
                        .full_reuse_drop = 0.2,
                        .threshold = 0.05,
                        .has_selected = true,
                        .selected = {2, 3, 0.03},
                        .percent = true};
  for (std::int64_t s = 0; s < 6; s += 2) {
    for (std::int64_t e = s + 1; e < 6; e += 2)
      h.cells.push_back({s, e, 0.01 * static_cast<double>(s + e)});
  }
  const std::string s = charts::heat_map(h).str();
  CHECK(xml_problem(s) == "");
  for (const char* id :
       {"id=\"cells\"", "id=\"axes\"", "id=\"legend\"", "first recomputed layer (start)",
        "last recomputed layer (end)", "selected plan", "grid &amp; more"}) {
    CHECK_MESSAGE(s.find(id) != std::string::npos, id);
  }
  CHECK(count(s, "<title>recompute ") == h.cells.size());
}

TEST_CASE("the Pareto picture marks the extremes and the selection") {
  charts::ParetoData p{.title = "front",
                       .measure = "loss drop",
                       .num_layers = 4,
                       .points = {},
                       .front = {},
                       .full_reuse = {0, 0.3, "none"},
                       .full_recompute = {4, 0.0, "all"},
                       .selected = {2, 0.04, "1-2"},
                       .threshold = 0.05,
                       .percent = true};
  p.points = {{1, 0.2, "1"}, {2, 0.04, "1-2"}, {2, 0.1, "0-1"}, {3, -0.01, "0-2"}};
  p.front = {{0, 0.3, "none"}, {1, 0.2, "1"}, {2, 0.04, "1-2"}, {3, -0.01, "0-2"}};
  const std::string s = charts::pareto(p).str();
  CHECK(xml_problem(s) == "");
  for (const char* t : {"id=\"points\"", "id=\"front\"", "id=\"marks\"", "id=\"threshold\"",
                        "id=\"legend\"", "full reuse", "full recompute", "selected 1-2",
                        "Pareto front", "layers recomputed by the receiver"}) {
    CHECK_MESSAGE(s.find(t) != std::string::npos, t);
  }
  CHECK(count(s, "<polyline") == 1);
}

TEST_CASE("the timeline has a lane per phase and the full-prefill bar") {
  charts::TimelineData t{.title = "timeline",
                         .phases = {},
                         .partial_total_ms = 12,
                         .full_prefill_ms = 30,
                         .full_label = "full"};
  t.phases = {{charts::Lane::kTransferE, 0, 1, "E 3"},
              {charts::Lane::kTransferKv, 1, 2, "KV 0"},
              {charts::Lane::kAdopt, 2, 2.1, "0"},
              {charts::Lane::kRecompute, 1, 9, "layers 3-5"},
              {charts::Lane::kSuffix, 9, 12, "suffix"}};
  const std::string s = charts::timeline(t).str();
  CHECK(xml_problem(s) == "");
  for (const char* name : charts::kLaneNames)
    CHECK_MESSAGE(s.find(name) != std::string::npos, name);
  for (const char* t2 :
       {"id=\"phases\"", "id=\"full\"", "full prefill", "partial prefill done: 12.0 ms", "(ms)"}) {
    CHECK_MESSAGE(s.find(t2) != std::string::npos, t2);
  }
  CHECK(count(s, "<title>layers 3-5") == 1);
}

TEST_CASE("the load picture has a p50 line, p99 segments and dots per strategy, and the legend") {
  charts::LoadData l{.title = "load & latency", .subtitle = "8 Gbit/s", .series = {}};
  l.series = {{"full prefill", {0.2, 0.5, 0.9}, {10, 14, 40}, {12, 30, 90}},
              {"full reuse", {0.2, 0.5, 0.9}, {3, 3.5, 5}, {4, 6, 9}},
              {"selected plan", {0.2, 0.5, 0.9}, {5, 6, 9}, {6, 9, 20}},
              {"run-time policy", {0.2, 0.5, 0.9}, {9, 8, 9}, {12, 14, 21}}};
  const std::string s = charts::load_curves(l).str();
  CHECK(xml_problem(s) == "");
  for (const char* t : {"id=\"axes\"", "id=\"lines\"", "id=\"legend\"", "arrival rate / full-prefill capacity",
                        "time to first token (ms)", "full prefill", "run-time policy", "load &amp; latency", ">p99<"}) {
    CHECK_MESSAGE(s.find(t) != std::string::npos, t);
  }
  CHECK(count(s, "<polyline") == 4);                   // one p50 line per strategy
  CHECK(count(s, "stroke-dasharray=\"5 3\"") == 4 * 2 + 1);  // two p99 segments each, and the legend's
  CHECK(count(s, "<title>selected plan, load 0.90: p99 20.00 ms</title>") == 1);
  l.y_label = "time to first token / idle full prefill";
  l.unit = " x";
  const std::string r = charts::load_curves(l).str();
  CHECK(r.find("time to first token / idle full prefill") != std::string::npos);
  CHECK(count(r, "<title>selected plan, load 0.90: p99 20.00 x</title>") == 1);
}

TEST_CASE("KL drops are shown as plain numbers, not percentages") {
  charts::ParetoData p;
  p.num_layers = 2;
  p.measure = "KL (nats)";
  p.points = {{1, 0.4321, "1"}};
  p.front = p.points;
  p.threshold = 0.1;
  p.percent = false;
  const std::string s = charts::pareto(p).str();
  CHECK(s.find("threshold 0.10") != std::string::npos);
  CHECK(s.find("1: 0.432") != std::string::npos);
  CHECK(s.find("43.2 %") == std::string::npos);
}

TEST_CASE("tick labels have the decimals their step needs") {
  using charts::detail::tick_decimals;
  CHECK(tick_decimals({0.0, 0.005, 0.01}, true) == 1);  // 0.0 %, 0.5 %, 1.0 %
  CHECK(tick_decimals({0.0, 0.05, 0.1}, true) == 0);    // 0 %, 5 %, 10 %
  CHECK(tick_decimals({0.0, 0.02, 0.04}, false) == 1);  // 0.00, 0.02 (pct adds one)
  CHECK(tick_decimals({0.0, 0.25, 0.5}, false) == 1);   // 0.00, 0.25
  CHECK(tick_decimals({0.0, 1.0, 2.0}, false) == 0);    // 0.0, 1.0
}

TEST_CASE("empty pictures are still well-formed") {
  charts::HeatMapData h;
  h.num_layers = 1;
  CHECK(xml_problem(charts::heat_map(h).str()) == "");
  CHECK(xml_problem(charts::pareto(charts::ParetoData{}).str()) == "");
  CHECK(xml_problem(charts::timeline({}).str()) == "");
  CHECK(xml_problem(charts::load_curves({}).str()) == "");
}
