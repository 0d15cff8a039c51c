// Pre-tokenizers of byte-level BPE models: the splitting regexes of Hugging
// Face tokenizers, written as hand-made matchers over code points (std::regex
// is slow and has no \p{L}). Each follows its regex's semantics exactly:
// alternatives are tried left to right, the first that matches wins, and
// quantifiers are greedy with the backtracking the regex would do.
#pragma once

#include <cstdint>
#include <cstddef>
#include <string_view>
#include <utility>
#include <vector>

#include "core/status.h"

namespace wa::detail {

enum class PreTokenizer : uint8_t {
  // 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
  gpt2,
  // (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
  llama3,
  // as llama3 with \p{N} (single digits)
  qwen2,
};

// Maps tokenizer.ggml.pre to a pre-tokenizer; unsupported for unknown names.
Result<PreTokenizer> pre_tokenizer_from_name(std::string_view name);

// Splits `text` into words, appended to `words` as [begin, end) byte ranges
// that cover the text in order. Ill-formed UTF-8 bytes are treated as
// punctuation-like characters (neither letter, number nor space) of one byte.
void pre_tokenize(PreTokenizer kind, std::string_view text, std::vector<std::pair<size_t, size_t>>& words);

}  // namespace wa::detail
