// SPDX-FileCopyrightText: 2026 The droidspeak authors
// SPDX-License-Identifier: Apache-2.0
//! @file A minimal SVG writer: shapes and text appended to a document, escaped, written as one
//! standalone file any browser (or rsvg-convert) displays. No dependency beyond the standard
//! library.
#pragma once

#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

#include "droidspeak/io/output_file.hpp"

namespace droidspeak_cli::svg {

//! `text` with the five XML special characters escaped; bytes outside printable ASCII,
//! other than tab and newline, become '?' (they may not be valid UTF-8).
inline std::string escape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&apos;";
        break;
      default: {
        const auto u = static_cast<unsigned char>(c);
        out += (u >= 0x20 && u < 0x7F) || c == '\t' || c == '\n' ? c : '?';
      }
    }
  }
  return out;
}

//! A number as SVG attributes want it: fixed, at most two decimals, no trailing zeros.
inline std::string num(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f", v);
  std::string s = buf;
  while (s.back() == '0') s.pop_back();
  if (s.back() == '.') s.pop_back();
  return s == "-0" ? "0" : s;
}

//! Text placement relative to its anchor point.
enum class Anchor { kStart, kMiddle, kEnd };

//! Text style: size in px, anchor, bold, fill colour, rotation in degrees about the anchor.
struct TextStyle {
  double size = 12;
  Anchor anchor = Anchor::kStart;
  bool bold = false;
  std::string fill = "#222";
  double rotate = 0;
};

//! One SVG document of `width` x `height` px (origin top left, y down), white background.
class Document {
 public:
  Document(double width, double height) : width_(width), height_(height) {}

  //! A rectangle; `title` (when non-empty) becomes a hover tooltip.
  void rect(double x, double y, double w, double h, std::string_view fill,
            std::string_view stroke = "none", double stroke_width = 1,
            std::string_view title = {}) {
    body_ += "<rect x=\"" + num(x) + "\" y=\"" + num(y) + "\" width=\"" + num(w) + "\" height=\"" +
             num(h) + "\" fill=\"" + escape(fill) + "\" stroke=\"" + escape(stroke) +
             "\" stroke-width=\"" + num(stroke_width) + "\"";
    close_with_title(title);
  }
  //! A straight line; `dash` is an SVG stroke-dasharray such as "4 3", empty for solid.
  void line(double x1, double y1, double x2, double y2, std::string_view stroke, double width = 1,
            std::string_view dash = {}) {
    body_ += "<line x1=\"" + num(x1) + "\" y1=\"" + num(y1) + "\" x2=\"" + num(x2) + "\" y2=\"" +
             num(y2) + "\" stroke=\"" + escape(stroke) + "\" stroke-width=\"" + num(width) + "\"";
    if (!dash.empty()) body_ += " stroke-dasharray=\"" + escape(dash) + "\"";
    body_ += "/>\n";
  }
  //! A circle.
  void circle(double cx, double cy, double r, std::string_view fill,
              std::string_view stroke = "none", double stroke_width = 1,
              std::string_view title = {}) {
    body_ += "<circle cx=\"" + num(cx) + "\" cy=\"" + num(cy) + "\" r=\"" + num(r) + "\" fill=\"" +
             escape(fill) + "\" stroke=\"" + escape(stroke) + "\" stroke-width=\"" +
             num(stroke_width) + "\"";
    close_with_title(title);
  }
  //! A closed polygon (`closed`) or an open polyline through points [x0, y0, x1, y1, ...].
  void poly(const std::vector<double>& xy, std::string_view fill, std::string_view stroke,
            double width = 1, bool closed = true, std::string_view title = {}) {
    body_ += closed ? "<polygon points=\"" : "<polyline points=\"";
    for (std::size_t i = 0; i + 1 < xy.size(); i += 2) {
      body_ += (i == 0 ? "" : " ") + num(xy[i]) + "," + num(xy[i + 1]);
    }
    body_ += "\" fill=\"" + escape(fill) + "\" stroke=\"" + escape(stroke) + "\" stroke-width=\"" +
             num(width) + "\" stroke-linejoin=\"round\"";
    close_with_title(title);
  }
  //! Text at (x, y) (the baseline).
  void text(double x, double y, std::string_view content, const TextStyle& style = {}) {
    static constexpr const char* kAnchors[] = {"start", "middle", "end"};
    body_ += "<text x=\"" + num(x) + "\" y=\"" + num(y) + "\" font-size=\"" + num(style.size) +
             "\" text-anchor=\"" + kAnchors[static_cast<int>(style.anchor)] + "\" fill=\"" +
             escape(style.fill) + "\"";
    if (style.bold) body_ += " font-weight=\"bold\"";
    if (style.rotate != 0) {
      body_ += " transform=\"rotate(" + num(style.rotate) + " " + num(x) + " " + num(y) + ")\"";
    }
    body_ += ">" + escape(content) + "</text>\n";
  }
  //! Opens a group with an id (for readers and tests); close it with end_group().
  void begin_group(std::string_view id) { body_ += "<g id=\"" + escape(id) + "\">\n"; }
  void end_group() { body_ += "</g>\n"; }

  double width() const { return width_; }
  double height() const { return height_; }

  //! The whole document.
  std::string str() const {
    return "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<svg xmlns=\"http://www.w3.org/2000/svg\" "
           "width=\"" +
           num(width_) + "\" height=\"" + num(height_) + "\" viewBox=\"0 0 " + num(width_) + " " +
           num(height_) +
           "\" font-family=\"DejaVu Sans, Helvetica, Arial, sans-serif\">\n<rect width=\"100%\" "
           "height=\"100%\" "
           "fill=\"white\"/>\n" +
           body_ + "</svg>\n";
  }
  //! Writes str() to `path` atomically (a temporary file, then a rename); an empty string on
  //! success, else a message naming the file.
  std::string save(const std::string& path) const {
    const droidspeak::Status s = droidspeak::io::write_file_atomically(path, str());
    return s ? std::string() : s.message();
  }

 private:
  void close_with_title(std::string_view title) {
    if (title.empty()) {
      body_ += "/>\n";
    } else {
      body_ += "><title>" + escape(title) + "</title></" + element_name() + ">\n";
    }
  }
  // The name of the element whose start tag is the last one in body_.
  std::string element_name() const {
    const std::size_t open = body_.rfind('<');
    const std::size_t end = body_.find(' ', open);
    return body_.substr(open + 1, end - open - 1);
  }

  double width_, height_;
  std::string body_;
};

}  // namespace droidspeak_cli::svg
