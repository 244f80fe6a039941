// SPDX-FileCopyrightText: 2026 The droidspeak authors
// SPDX-License-Identifier: Apache-2.0
//! @file Scoring a generated answer against a reference answer, SQuAD / LongBench style:
//! token-level F1 over the multiset of words both share, and exact match of the normalised
//! strings. Pure functions on strings and token ids; no engine, no JSON.
#pragma once

#include "droidspeak/core/config.hpp"

#include <algorithm>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace droidspeak { inline namespace DROIDSPEAK_ABI { namespace profile {

//! The score of one generated answer: F1 in [0, 1] and exact match, 0 or 1.
struct AnswerScore {
  double f1 = 0.0;
  double exact = 0.0;
};

//! Whether byte `c` belongs to a word: ASCII letters and digits, '_' (so that C identifiers
//! such as `size_t` stay one word) and every byte >= 0x80 (UTF-8 letters of any script are
//! kept whole, never split or case-folded). Everything else (ASCII punctuation, whitespace,
//! control bytes) separates words.
constexpr bool is_answer_word_byte(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c >= 0x80;
}

//! The words of `text`: maximal runs of word bytes (is_answer_word_byte), ASCII letters
//! lower-cased, in order. Punctuation therefore acts as a separator, not as deletion:
//! "int f(char *s);" -> {"int", "f", "char", "s"} and "3:16" -> {"3", "16"} (deleting it would
//! glue "char*s" into "chars"). Unlike SQuAD no articles are dropped: answers here are code
//! and scripture, where "a" may be an identifier and "the" is part of the verse.
//! Empty or punctuation-only text has no words.
inline std::vector<std::string> answer_words(std::string_view text) {
  std::vector<std::string> words;
  std::string cur;
  for (char ch : text) {
    const auto c = static_cast<unsigned char>(ch);
    if (is_answer_word_byte(c)) {
      cur.push_back(c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : ch);
    } else if (!cur.empty()) {
      words.push_back(std::move(cur));
      cur.clear();
    }
  }
  if (!cur.empty()) words.push_back(std::move(cur));
  return words;
}

//! The normalised answer: its words (answer_words) joined by single spaces. Two answers match
//! exactly when their normalised forms are equal: "Genesis 1:1." and "genesis 1 1" do.
inline std::string normalize_answer(std::string_view text) {
  std::string out;
  for (const std::string& w : answer_words(text)) {
    if (!out.empty()) out.push_back(' ');
    out += w;
  }
  return out;
}

//! F1 of two bags of words: with `common` the size of their multiset intersection (a word
//! counts as often as it occurs in both, min of the two counts), precision = common /
//! |prediction|, recall = common / |reference|, F1 = 2 P R / (P + R), 0 when nothing is shared.
//! When either bag is empty F1 is 1 if both are and 0 otherwise (SQuAD's rule).
template <class Word>
double bag_f1(std::vector<Word> prediction, std::vector<Word> reference) {
  if (prediction.empty() || reference.empty()) return prediction.empty() && reference.empty() ? 1.0 : 0.0;
  std::sort(prediction.begin(), prediction.end());
  std::sort(reference.begin(), reference.end());
  std::size_t common = 0;
  for (std::size_t i = 0, j = 0; i < prediction.size() && j < reference.size();) {
    if (prediction[i] < reference[j]) {
      ++i;
    } else if (reference[j] < prediction[i]) {
      ++j;
    } else {
      ++common;
      ++i;
      ++j;
    }
  }
  if (common == 0) return 0.0;
  const double p = static_cast<double>(common) / static_cast<double>(prediction.size());
  const double r = static_cast<double>(common) / static_cast<double>(reference.size());
  return 2.0 * p * r / (p + r);
}

//! Scores a text answer: F1 over answer_words, exact over normalize_answer.
inline AnswerScore score_text_answer(std::string_view prediction, std::string_view reference) {
  const std::vector<std::string> p = answer_words(prediction), r = answer_words(reference);
  return {bag_f1(p, r), p == r ? 1.0 : 0.0};  // equal word lists <=> equal normalised strings
}

//! Scores an answer given as token ids, for models whose tokens this library cannot turn back
//! into text: every id is a word (no normalisation), F1 over the id multisets, exact when the
//! sequences are equal.
inline AnswerScore score_token_answer(std::span<const std::int32_t> prediction,
                                      std::span<const std::int32_t> reference) {
  std::vector<std::int32_t> p(prediction.begin(), prediction.end()), r(reference.begin(), reference.end());
  const bool exact = p == r;
  return {bag_f1(std::move(p), std::move(r)), exact ? 1.0 : 0.0};
}

}}}  // namespace droidspeak::DROIDSPEAK_ABI::profile
