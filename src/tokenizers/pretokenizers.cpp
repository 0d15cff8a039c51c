#include "tokenizers/pretokenizers.h"

#include <string>

#include "tokenizers/unicode.h"

namespace wa::detail {

Result<PreTokenizer> pre_tokenizer_from_name(std::string_view name) {
  // Names as written by llama.cpp's convert_hf_to_gguf.py. "default" (old
  // conversions without tokenizer.ggml.pre) is treated as GPT-2's regex.
  static constexpr std::pair<std::string_view, PreTokenizer> kNames[] = {
      {"default", PreTokenizer::gpt2},     {"gpt-2", PreTokenizer::gpt2},        {"phi-2", PreTokenizer::gpt2},
      {"roberta-bpe", PreTokenizer::gpt2}, {"jina-es", PreTokenizer::gpt2},      {"jina-de", PreTokenizer::gpt2},
      {"jina-v2-es", PreTokenizer::gpt2},  {"jina-v2-de", PreTokenizer::gpt2},   {"jina-v2-code", PreTokenizer::gpt2},
      {"llama3", PreTokenizer::llama3},    {"llama-v3", PreTokenizer::llama3},   {"llama-bpe", PreTokenizer::llama3},
      {"falcon3", PreTokenizer::llama3},   {"pixtral", PreTokenizer::llama3},    {"qwen2", PreTokenizer::qwen2},
      {"deepseek-r1-qwen", PreTokenizer::qwen2},
  };
  for (const auto& [n, kind] : kNames) {
    if (n == name) return kind;
  }
  std::string list;
  for (const auto& [n, kind] : kNames) list += (list.empty() ? "" : ", ") + std::string(n);
  return unsupported("BPE pre-tokenizer '" + std::string(name) + "' is not supported (supported: " + list + ")");
}

namespace {

enum Cls : uint8_t { kLetter, kNumber, kSpace, kOther };

struct Char {
  uint32_t cp;
  size_t offset;  // byte offset in the text
  Cls cls;
};

bool is_crlf(uint32_t cp) { return cp == '\r' || cp == '\n'; }

uint32_t ascii_lower(uint32_t cp) { return (cp >= 'A' && cp <= 'Z') ? cp + 32 : cp; }

class Matcher {
 public:
  explicit Matcher(const std::vector<Char>& c) : c_(c), n_(c.size()) {}

  // Number of characters the regex matches at i (always >= 1 for i < n).
  size_t gpt2(size_t i) const {
    if (size_t m = contraction(i, /*fold_case=*/false)) return m;
    const size_t start = (c_[i].cp == ' ') ? i + 1 : i;
    for (Cls cls : {kLetter, kNumber, kOther}) {
      if (is(start, cls)) return run(start, cls) - i;
    }
    return whitespace(i);
  }

  size_t llama3(size_t i, size_t max_digits) const {
    if (size_t m = contraction(i, /*fold_case=*/true)) return m;
    // [^\r\n\p{L}\p{N}]?\p{L}+
    if (is(i, kLetter)) return run(i, kLetter) - i;
    if (!is(i, kNumber) && !is_crlf(c_[i].cp) && is(i + 1, kLetter)) return run(i + 1, kLetter) - i;
    // \p{N}{1,3}
    if (is(i, kNumber)) {
      size_t k = i;
      while (k < n_ && k - i < max_digits && c_[k].cls == kNumber) ++k;
      return k - i;
    }
    //  ?[^\s\p{L}\p{N}]+[\r\n]*
    const size_t start = (c_[i].cp == ' ') ? i + 1 : i;
    if (is(start, kOther)) {
      size_t k = run(start, kOther);
      while (k < n_ && is_crlf(c_[k].cp)) ++k;
      return k - i;
    }
    // \s*[\r\n]+ : the whitespace run up to and including its last CR/LF.
    if (is(i, kSpace)) {
      const size_t k = run(i, kSpace);
      for (size_t e = k; e > i; --e) {
        if (is_crlf(c_[e - 1].cp)) return e - i;
      }
    }
    return whitespace(i);
  }

 private:
  bool is(size_t i, Cls cls) const { return i < n_ && c_[i].cls == cls; }
  size_t run(size_t i, Cls cls) const {
    while (i < n_ && c_[i].cls == cls) ++i;
    return i;
  }

  // 's|'t|'re|'ve|'m|'ll|'d
  size_t contraction(size_t i, bool fold_case) const {
    if (c_[i].cp != '\'' || i + 1 >= n_) return 0;
    auto at = [&](size_t k) { return fold_case ? ascii_lower(c_[k].cp) : c_[k].cp; };
    const uint32_t a = at(i + 1);
    if (a == 's' || a == 't' || a == 'm' || a == 'd') return 2;
    if (i + 2 >= n_) return 0;
    const uint32_t b = at(i + 2);
    if ((a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l')) return 3;
    return 0;
  }

  // \s+(?!\S)|\s+ : a whitespace run, leaving its last character to the next
  // word (" world") when a non-space follows; any other character alone.
  size_t whitespace(size_t i) const {
    if (!is(i, kSpace)) return 1;
    const size_t k = run(i, kSpace);
    if (k == n_ || k - i == 1) return k - i;
    return k - i - 1;
  }

  const std::vector<Char>& c_;
  size_t n_;
};

}  // namespace

void pre_tokenize(PreTokenizer kind, std::string_view text, std::vector<std::pair<size_t, size_t>>& words) {
  std::vector<Char> chars;
  chars.reserve(text.size());
  for (size_t pos = 0; pos < text.size();) {
    const unicode::Utf8Char u = unicode::decode_utf8(text, pos);
    Cls cls = kOther;
    if (u.valid) {
      if (unicode::is_whitespace(u.cp)) {
        cls = kSpace;
      } else {
        const unicode::UCat cat = unicode::category(u.cp);
        if (cat == unicode::UCat::letter) cls = kLetter;
        else if (cat == unicode::UCat::number) cls = kNumber;
      }
    }
    chars.push_back({u.cp, pos, cls});
    pos += u.len;
  }
  const Matcher m(chars);
  const size_t n = chars.size();
  for (size_t i = 0; i < n;) {
    size_t len = 1;
    switch (kind) {
      case PreTokenizer::gpt2: len = m.gpt2(i); break;
      case PreTokenizer::llama3: len = m.llama3(i, 3); break;
      case PreTokenizer::qwen2: len = m.llama3(i, 1); break;
    }
    if (len == 0) len = 1;  // cannot happen; guards against an endless loop
    const size_t end = i + len < n ? chars[i + len].offset : text.size();
    words.emplace_back(chars[i].offset, end);
    i += len;
  }
}

}  // namespace wa::detail
