// Byte-level BPE ("gpt2" tokenizer model: GPT-2, LLaMA 3, Qwen2, ...).
//
// Text is split into words by the model's pre-tokenizer; each word's bytes
// are written as printable characters (GPT-2's byte-to-unicode table, which
// the vocabulary and merges are spelled in) and merged pairwise, lowest merge
// rank first (ties: leftmost), until no ranked pair is left. Every byte has a
// token, so any input, valid UTF-8 or not, encodes and decodes losslessly.

#include "tokenizers/merge.h"
#include "tokenizers/pretokenizers.h"
#include "tokenizers/tokenizer_impl.h"
#include "tokenizers/unicode.h"

namespace wa::detail {
namespace {

// GPT-2's bytes_to_unicode: printable Latin-1 bytes stand for themselves, the
// other 68 bytes (controls, space, DEL, NBSP, soft hyphen...) are moved to
// U+0100.. in byte order, so that no token contains a space or control char.
void byte_to_unicode_table(uint32_t (&table)[256]) {
  uint32_t next = 256;
  for (uint32_t b = 0; b < 256; ++b) {
    const bool printable = (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
    table[b] = printable ? b : next++;
  }
}

class BpeTokenizer final : public Tokenizer {
 public:
  explicit BpeTokenizer(Vocab v) : Tokenizer(std::move(v)) {}

  Status init() {
    WA_ASSIGN_OR_RETURN(pre_, pre_tokenizer_from_name(vocab_.pre));
    // LLaMA 3's tokenizer.json sets ignore_merges: a word that is a token as a
    // whole is that token, even if the merges would not build it.
    ignore_merges_ = pre_ == PreTokenizer::llama3;
    WA_TRY(init_common());

    uint32_t table[256];
    byte_to_unicode_table(table);
    std::vector<int16_t> cp_to_byte(324, -1);
    for (int b = 0; b < 256; ++b) {
      byte_str_[b].clear();
      unicode::append_utf8(byte_str_[b], table[b]);
      cp_to_byte[table[b]] = static_cast<int16_t>(b);
      auto it = token_ids_.find(byte_str_[b]);
      byte_ids_[b] = it == token_ids_.end() ? -1 : it->second;
    }

    ranks_.reserve(vocab_.merges.size());
    for (size_t r = 0; r < vocab_.merges.size(); ++r) {
      const std::string& m = vocab_.merges[r];
      const size_t sp = m.find(' ');
      if (sp == std::string::npos || sp == 0 || sp + 1 == m.size() || m.find(' ', sp + 1) != std::string::npos) {
        return invalid_file(strformat("tokenizer.ggml.merges[%zu] = '%s' is not of the form 'left right'", r, m.c_str()));
      }
      const std::string_view sv(m);
      if (!token_ids_.contains(sv.substr(0, sp)) || !token_ids_.contains(sv.substr(sp + 1))) {
        return invalid_file(strformat("tokenizer.ggml.merges[%zu] = '%s' names a token that is not in the vocabulary",
                                      r, m.c_str()));
      }
      ranks_.emplace(m, static_cast<int32_t>(r));  // a repeated merge keeps its first rank
    }

    const size_t n = vocab_.tokens.size();
    pieces_.resize(n);
    for (size_t id = 0; id < n; ++id) {
      const std::string& text = vocab_.tokens[id];
      const TokenType t = vocab_.types[id];
      if (t == TokenType::control || t == TokenType::user_defined || t == TokenType::unknown) {
        pieces_[id] = text;  // written verbatim, not in the byte alphabet
        continue;
      }
      std::string& p = pieces_[id];
      for (size_t pos = 0; pos < text.size();) {
        const unicode::Utf8Char u = unicode::decode_utf8(text, pos);
        if (u.valid && u.cp < cp_to_byte.size() && cp_to_byte[u.cp] >= 0) {
          p.push_back(static_cast<char>(cp_to_byte[u.cp]));
        } else {
          p.append(text, pos, u.len);  // not in the byte alphabet: keep as is
        }
        pos += u.len;
      }
    }
    return Status::Ok();
  }

 protected:
  void encode_text(std::string_view text, bool /*after_special*/, std::vector<int32_t>& out) const override {
    std::vector<std::pair<size_t, size_t>> words;
    pre_tokenize(pre_, text, words);
    std::string mapped;
    std::string key;
    for (const auto& [begin, end] : words) {
      mapped.clear();
      for (size_t i = begin; i < end; ++i) mapped += byte_str_[static_cast<uint8_t>(text[i])];
      encode_word(mapped, key, out);
    }
  }

 private:
  // `mapped`: one word in the byte alphabet. `key`: scratch for merge lookups.
  void encode_word(const std::string& mapped, std::string& key, std::vector<int32_t>& out) const {
    if (ignore_merges_) {
      auto it = token_ids_.find(mapped);
      if (it != token_ids_.end()) {
        out.push_back(it->second);
        return;
      }
    }
    // Merge characters, lowest merge rank first.
    const std::string_view m(mapped);
    std::vector<MergeSymbol> syms = split_symbols(m);
    if (syms.empty()) return;
    merge_symbols(m, syms, [&](std::string_view l, std::string_view r) -> std::optional<double> {
      key.assign(l);
      key += ' ';
      key += r;
      auto it = ranks_.find(key);
      if (it == ranks_.end()) return std::nullopt;
      return -static_cast<double>(it->second);
    });

    for (int32_t i = 0; i >= 0; i = syms[static_cast<size_t>(i)].next) {
      const MergeSymbol& sym = syms[static_cast<size_t>(i)];
      auto it = token_ids_.find(m.substr(sym.start, sym.len));
      if (it != token_ids_.end()) {
        out.push_back(it->second);
        continue;
      }
      // A merge produced a string that is not a token (a sloppy vocabulary):
      // fall back to the characters, i.e. the bytes.
      for (size_t pos = sym.start; pos < sym.start + sym.len;) {
        const uint32_t len = unicode::decode_utf8(mapped, pos).len;
        auto ct = token_ids_.find(m.substr(pos, len));
        if (ct != token_ids_.end()) out.push_back(ct->second);
        else if (vocab_.unk_id >= 0) out.push_back(vocab_.unk_id);
        pos += len;
      }
    }
  }

  PreTokenizer pre_ = PreTokenizer::gpt2;
  bool ignore_merges_ = false;
  std::string byte_str_[256];  // byte -> its character in the byte alphabet (UTF-8)
  int32_t byte_ids_[256];      // byte -> token id, -1 if the vocabulary lacks it
  TokenMap ranks_;             // "left right" -> merge rank
};

}  // namespace

Result<std::unique_ptr<Tokenizer>> make_bpe_tokenizer(Vocab vocab) {
  auto tok = std::make_unique<BpeTokenizer>(std::move(vocab));
  WA_TRY(tok->init());
  return std::unique_ptr<Tokenizer>(std::move(tok));
}

}  // namespace wa::detail
