// SPDX-FileCopyrightText: 2026 The droidspeak authors
// SPDX-License-Identifier: Apache-2.0
//! @file Answer scoring against hand-computed cases: tokenisation, normalisation, partial
//! overlap, empty answers, repeated words, token-id answers.
#include "droidspeak/profile/answer_score.hpp"

#include <doctest/doctest.h>

#include <string>
#include <vector>

using namespace droidspeak;
using Words = std::vector<std::string>;

TEST_CASE("answer_words: punctuation separates, case folds, identifiers and UTF-8 stay whole") {
  CHECK(profile::answer_words("int f(char *s, size_t n);") == Words{"int", "f", "char", "s", "size_t", "n"});
  CHECK(profile::answer_words("Genesis 1:1") == Words{"genesis", "1", "1"});
  CHECK(profile::answer_words("  In the   BEGINNING\tGod\n") == Words{"in", "the", "beginning", "god"});
  CHECK(profile::answer_words("char*s") == Words{"char", "s"});           // not glued into "chars"
  CHECK(profile::answer_words("Gr\xc3\xbc\xc3\x9f" "e!") == Words{"gr\xc3\xbc\xc3\x9f" "e"});  // non-ASCII kept
  CHECK(profile::answer_words("a an the") == Words{"a", "an", "the"});    // no article removal
  CHECK(profile::answer_words("").empty());
  CHECK(profile::answer_words(" ;(),. ").empty());
}

TEST_CASE("normalize_answer: words joined by one space") {
  CHECK(profile::normalize_answer("  Void   FOO( int ) ;") == "void foo int");
  CHECK(profile::normalize_answer("x-y") == "x y");
  CHECK(profile::normalize_answer("...") == "");
}

TEST_CASE("score_text_answer: exact after normalisation, F1 from the shared words") {
  // Identical up to case, spacing and punctuation.
  profile::AnswerScore s = profile::score_text_answer("Int  foo(void);", "int foo ( void )");
  CHECK(s.exact == 1.0);
  CHECK(s.f1 == 1.0);
  // Partial overlap: prediction {int, foo, char} vs reference {int, foo, void}: common 2,
  // P = 2/3, R = 2/3, F1 = 2/3.
  s = profile::score_text_answer("int foo(char)", "int foo(void)");
  CHECK(s.exact == 0.0);
  CHECK(s.f1 == doctest::Approx(2.0 / 3.0));
  // Different lengths: prediction {the, lord} vs reference {the, lord, is, my, shepherd}:
  // common 2, P = 1, R = 2/5, F1 = 2 * 0.4 / 1.4 = 4/7.
  s = profile::score_text_answer("The LORD", "The LORD is my shepherd");
  CHECK(s.f1 == doctest::Approx(4.0 / 7.0));
  // Same words, other order: F1 1, not exact.
  s = profile::score_text_answer("b a", "a b");
  CHECK(s.f1 == 1.0);
  CHECK(s.exact == 0.0);
  // Nothing shared.
  s = profile::score_text_answer("x", "y z");
  CHECK(s.f1 == 0.0);
  CHECK(s.exact == 0.0);
}

TEST_CASE("score_text_answer: repeated words count as often as both have them") {
  // prediction {a, a, a} vs reference {a, b}: common min(3, 1) = 1, P = 1/3, R = 1/2,
  // F1 = 2 * (1/6) / (5/6) = 2/5.
  profile::AnswerScore s = profile::score_text_answer("a a a", "a b");
  CHECK(s.f1 == doctest::Approx(0.4));
  // prediction {a, a, b} vs reference {a, a, c}: common 2, P = R = 2/3.
  s = profile::score_text_answer("a a b", "a a c");
  CHECK(s.f1 == doctest::Approx(2.0 / 3.0));
}

TEST_CASE("score_text_answer: empty prediction or reference") {
  CHECK(profile::score_text_answer("", "int x").f1 == 0.0);
  CHECK(profile::score_text_answer("", "int x").exact == 0.0);
  CHECK(profile::score_text_answer("int x", "").f1 == 0.0);
  CHECK(profile::score_text_answer("int x", ";").exact == 0.0);
  // Both without words: a match (SQuAD's rule).
  CHECK(profile::score_text_answer("", "").f1 == 1.0);
  CHECK(profile::score_text_answer("  ", ";").exact == 1.0);
}

TEST_CASE("score_token_answer: ids are words, exact is sequence equality") {
  const std::vector<std::int32_t> ref{5, 6, 7, 7};
  profile::AnswerScore s = profile::score_token_answer(std::vector<std::int32_t>{5, 6, 7, 7}, ref);
  CHECK(s.f1 == 1.0);
  CHECK(s.exact == 1.0);
  // {7, 7, 7, 9} vs {5, 6, 7, 7}: common 2, P = R = 1/2.
  s = profile::score_token_answer(std::vector<std::int32_t>{7, 9, 7, 7}, ref);
  CHECK(s.f1 == doctest::Approx(0.5));
  CHECK(s.exact == 0.0);
  s = profile::score_token_answer(std::vector<std::int32_t>{7, 7, 6, 5}, ref);
  CHECK(s.f1 == 1.0);
  CHECK(s.exact == 0.0);
  CHECK(profile::score_token_answer({}, ref).f1 == 0.0);
  CHECK(profile::score_token_answer({}, {}).exact == 1.0);
}
