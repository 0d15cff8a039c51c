// Unicode helpers for the tokenizers: lenient UTF-8 decoding and the general
// category classes / White_Space property that the pre-tokenizer regexes of
// Hugging Face tokenizers use (\p{L}, \p{N}, \s, ...). The tables are
// generated from Python's unicodedata by scripts/gen_unicode_tables.py.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace wa::unicode {

// Major general-category class (first letter of the two-letter category).
enum class UCat : uint8_t { other = 0, letter = 1, mark = 2, number = 3, punct = 4, symbol = 5, separator = 6 };

constexpr uint32_t kReplacementChar = 0xFFFD;

struct Utf8Char {
  uint32_t cp = 0;    // the code point; kReplacementChar when !valid
  uint32_t len = 1;   // bytes consumed, >= 1
  bool valid = true;  // false for a byte that does not start a well-formed sequence
};

// Decodes the character starting at s[pos] (pos < s.size()). Ill-formed input
// (stray continuation bytes, truncated or overlong sequences, surrogates,
// > U+10FFFF) consumes exactly one byte and is reported as !valid, so callers
// can keep the original bytes and never lose or skip input.
Utf8Char decode_utf8(std::string_view s, size_t pos);

void append_utf8(std::string& out, uint32_t cp);

// Length of a well-formed sequence with this lead byte, 0 if not a lead byte.
int utf8_sequence_length(uint8_t lead);

// Length of the longest prefix of `s` that does not end inside a multi-byte
// sequence that could still be completed by more bytes. Used by streaming
// decoders to hold back a partial character.
size_t utf8_complete_prefix(std::string_view s);

UCat category(uint32_t cp);
bool is_whitespace(uint32_t cp);  // Unicode White_Space (regex \s)
inline bool is_letter(uint32_t cp) { return category(cp) == UCat::letter; }
inline bool is_number(uint32_t cp) { return category(cp) == UCat::number; }

// BERT normalization of one character (uncased WordPiece models): NFD,
// nonspacing marks removed, lowercased -- Hugging Face's BertNormalizer
// strip_accents + lowercase. Writes 0..3 code points to `out`, returns the count.
int bert_fold(uint32_t cp, uint32_t out[3]);

const char* unicode_version();

}  // namespace wa::unicode
