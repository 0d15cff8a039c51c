// SentencePiece-style BPE ("llama" tokenizer model: LLaMA 1/2, Mistral, Phi-3).
//
// SentencePiece BPE has no merge list: a pair of adjacent symbols may merge if
// their concatenation is a vocabulary piece, and the pair whose result has
// the highest score merges first (ties: the leftmost). Spaces are written as
// U+2581 and, with add_space_prefix, one is prepended to the text. Characters
// that end up outside the vocabulary fall back to <0xNN> byte tokens.
#include <cmath>
#include <cstdio>

#include "tokenizers/merge.h"
#include "tokenizers/tokenizer_impl.h"
#include "tokenizers/unicode.h"

namespace wa::detail {
namespace {

constexpr std::string_view kSpaceMark = "\xE2\x96\x81";  // U+2581 LOWER ONE EIGHTH BLOCK

// Parses "<0xNN>" (the SentencePiece byte-fallback piece); -1 if not one.
int parse_byte_piece(std::string_view t) {
  if (t.size() != 6 || t.substr(0, 3) != "<0x" || t[5] != '>') return -1;
  int v = 0;
  for (size_t i = 3; i < 5; ++i) {
    const char c = t[i];
    int d;
    if (c >= '0' && c <= '9') d = c - '0';
    else if (c >= 'A' && c <= 'F') d = c - 'A' + 10;
    else if (c >= 'a' && c <= 'f') d = c - 'a' + 10;
    else return -1;
    v = v * 16 + d;
  }
  return v;
}

class SpmTokenizer final : public Tokenizer {
 public:
  explicit SpmTokenizer(Vocab v) : Tokenizer(std::move(v)) {}

  Status init() {
    // A NaN score would break the ordering of the merge queue.
    for (float& s : vocab_.scores) {
      if (std::isnan(s)) s = -INFINITY;
    }
    WA_TRY(init_common());
    strip_leading_space_ = vocab_.add_space_prefix;
    for (int32_t& b : byte_ids_) b = -1;
    const size_t n = vocab_.tokens.size();
    pieces_.resize(n);
    for (size_t id = 0; id < n; ++id) {
      const std::string& text = vocab_.tokens[id];
      switch (vocab_.types[id]) {
        case TokenType::byte: {
          const int b = parse_byte_piece(text);
          if (b < 0) return invalid_file(strformat("byte token %zu is '%s', expected <0xNN>", id, text.c_str()));
          if (byte_ids_[b] < 0) byte_ids_[b] = static_cast<int32_t>(id);
          pieces_[id] = std::string(1, static_cast<char>(b));
          break;
        }
        case TokenType::control:
        case TokenType::unknown:
          pieces_[id] = text;
          break;
        default: {
          std::string& p = pieces_[id];
          p.reserve(text.size());
          for (size_t i = 0; i < text.size();) {
            if (std::string_view(text).substr(i, 3) == kSpaceMark) {
              p.push_back(' ');
              i += 3;
            } else {
              p.push_back(text[i++]);
            }
          }
        }
      }
    }
    return Status::Ok();
  }

 protected:
  void encode_text(std::string_view text, bool after_special, std::vector<int32_t>& out) const override {
    std::string s;
    s.reserve(text.size() + 3);
    if (vocab_.add_space_prefix && after_special) s += kSpaceMark;
    for (char c : text) {
      if (c == ' ') s += kSpaceMark;
      else s.push_back(c);
    }

    // Merge characters into pieces, highest-scoring merged piece first.
    std::vector<MergeSymbol> syms = split_symbols(s);
    if (syms.empty()) return;
    merge_symbols(s, syms, [&](std::string_view l, std::string_view r) -> std::optional<double> {
      const int32_t id = mergeable_id(std::string_view(l.data(), l.size() + r.size()));  // l and r are adjacent in s
      if (id < 0) return std::nullopt;
      return vocab_.scores[static_cast<size_t>(id)];
    });

    for (int32_t i = 0; i >= 0; i = syms[static_cast<size_t>(i)].next) {
      const MergeSymbol& sym = syms[static_cast<size_t>(i)];
      const std::string_view piece = std::string_view(s).substr(sym.start, sym.len);
      const int32_t id = mergeable_id(piece);
      if (id >= 0) {
        out.push_back(id);
        continue;
      }
      bool unk_done = false;
      for (char c : piece) {
        const int32_t bid = byte_ids_[static_cast<uint8_t>(c)];
        if (bid >= 0) {
          out.push_back(bid);
        } else if (vocab_.unk_id >= 0 && !unk_done) {
          out.push_back(vocab_.unk_id);  // one <unk> per unknown character, like SentencePiece
          unk_done = true;
        }
      }
    }
  }

 private:
  // Only ordinary pieces take part in merges; control, byte and unused pieces
  // are never produced from text this way (as in SentencePiece).
  int32_t mergeable_id(std::string_view piece) const {
    auto it = token_ids_.find(piece);
    if (it == token_ids_.end()) return -1;
    const TokenType t = vocab_.types[static_cast<size_t>(it->second)];
    return (t == TokenType::normal || t == TokenType::user_defined || t == TokenType::undefined) ? it->second : -1;
  }

  int32_t byte_ids_[256];
};

}  // namespace

Result<std::unique_ptr<Tokenizer>> make_spm_tokenizer(Vocab vocab) {
  auto tok = std::make_unique<SpmTokenizer>(std::move(vocab));
  WA_TRY(tok->init());
  return std::unique_ptr<Tokenizer>(std::move(tok));
}

}  // namespace wa::detail
