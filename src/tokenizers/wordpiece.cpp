// WordPiece ("bert" tokenizer model: BERT, BGE, MiniLM ...), uncased.
//
// Hugging Face's BertNormalizer + BertPreTokenizer + WordPiece:
//   clean: drop control/format characters (and invalid UTF-8), whitespace -> ' '
//   CJK ideographs become words of their own
//   fold: NFD, drop nonspacing marks, lowercase (unicode::bert_fold)
//   split on whitespace; every punctuation character is its own word
//   each word: greedy longest-match-first pieces; a word that cannot be
//   covered (or is over 100 characters) becomes [UNK] as a whole.
// llama.cpp's converter rewrites the vocabulary so that word-initial pieces
// carry a U+2581 prefix and continuation pieces lose their "##", so lookups
// here are "▁" + start and then bare continuations.
#include "tokenizers/tokenizer_impl.h"
#include "tokenizers/unicode.h"

namespace wa::detail {
namespace {

constexpr std::string_view kWordMark = "\xE2\x96\x81";  // U+2581
constexpr size_t kMaxWordChars = 100;                   // BERT's max_input_chars_per_word

bool is_cjk(uint32_t cp) {
  return (cp >= 0x4E00 && cp <= 0x9FFF) || (cp >= 0x3400 && cp <= 0x4DBF) || (cp >= 0x20000 && cp <= 0x2A6DF) ||
         (cp >= 0x2A700 && cp <= 0x2B73F) || (cp >= 0x2B740 && cp <= 0x2B81F) || (cp >= 0x2B820 && cp <= 0x2CEAF) ||
         (cp >= 0xF900 && cp <= 0xFAFF) || (cp >= 0x2F800 && cp <= 0x2FA1F);
}

bool is_bert_punct(uint32_t cp) {
  if ((cp >= 33 && cp <= 47) || (cp >= 58 && cp <= 64) || (cp >= 91 && cp <= 96) || (cp >= 123 && cp <= 126)) {
    return true;  // all ASCII non-alphanumerics, e.g. '$' and '^' which are symbols in Unicode
  }
  return unicode::category(cp) == unicode::UCat::punct;
}

class WordPieceTokenizer final : public Tokenizer {
 public:
  explicit WordPieceTokenizer(Vocab v) : Tokenizer(std::move(v)) {}

  Status init() {
    WA_TRY(init_common());
    strip_leading_space_ = true;
    if (vocab_.unk_id < 0) {
      return invalid_file("the WordPiece tokenizer needs an unknown token (tokenizer.ggml.unknown_token_id)");
    }
    const size_t n = vocab_.tokens.size();
    pieces_.resize(n);
    for (size_t id = 0; id < n; ++id) {
      const std::string& text = vocab_.tokens[id];
      if (vocab_.types[id] == TokenType::normal && text.starts_with(kWordMark)) {
        pieces_[id].assign(1, ' ');
        pieces_[id].append(text, kWordMark.size(), std::string::npos);
      } else {
        pieces_[id] = text;
      }
    }
    return Status::Ok();
  }

 protected:
  void encode_text(std::string_view text, bool /*after_special*/, std::vector<int32_t>& out) const override {
    std::string word;  // "▁" + the normalized word
    size_t word_chars = 0;
    auto finish_word = [&] {
      if (word_chars > 0) encode_word(word, word_chars, out);
      word.assign(kWordMark);
      word_chars = 0;
    };
    finish_word();
    for (size_t pos = 0; pos < text.size();) {
      const unicode::Utf8Char u = unicode::decode_utf8(text, pos);
      pos += u.len;
      const uint32_t cp = u.cp;
      if (!u.valid || cp == 0 || cp == unicode::kReplacementChar) continue;
      if (cp == '\t' || cp == '\n' || cp == '\r' || unicode::is_whitespace(cp)) {
        finish_word();
        continue;
      }
      const unicode::UCat cat = unicode::category(cp);
      if (cat == unicode::UCat::other) continue;  // control, format, unassigned, private use
      if (cat == unicode::UCat::separator) {
        finish_word();
        continue;
      }
      const bool alone = is_cjk(cp);
      uint32_t folded[3];
      const int nf = unicode::bert_fold(cp, folded);
      if (alone) finish_word();
      for (int k = 0; k < nf; ++k) {
        if (unicode::is_whitespace(folded[k])) {
          finish_word();
        } else if (is_bert_punct(folded[k])) {
          finish_word();
          unicode::append_utf8(word, folded[k]);
          word_chars = 1;
          finish_word();
        } else {
          unicode::append_utf8(word, folded[k]);
          ++word_chars;
        }
      }
      if (alone) finish_word();
    }
    finish_word();
  }

 private:
  void encode_word(const std::string& word, size_t n_chars, std::vector<int32_t>& out) const {
    if (n_chars > kMaxWordChars) {
      out.push_back(vocab_.unk_id);
      return;
    }
    const size_t first_out = out.size();
    const std::string_view w(word);
    // The first piece includes the "▁" mark; later ones start after it.
    size_t start = 0;
    const size_t body = kWordMark.size();
    while (start < w.size()) {
      size_t end = w.size();
      int32_t found = -1;
      while (end > (start == 0 ? body : start)) {
        auto it = token_ids_.find(w.substr(start, end - start));
        if (it != token_ids_.end()) {
          found = it->second;
          break;
        }
        // Step back one whole character.
        do {
          --end;
        } while (end > start && (static_cast<uint8_t>(w[end]) & 0xC0) == 0x80);
      }
      if (found < 0) {
        out.resize(first_out);
        out.push_back(vocab_.unk_id);
        return;
      }
      out.push_back(found);
      start = end;
    }
  }
};

}  // namespace

Result<std::unique_ptr<Tokenizer>> make_wordpiece_tokenizer(Vocab vocab) {
  auto tok = std::make_unique<WordPieceTokenizer>(std::move(vocab));
  WA_TRY(tok->init());
  return std::unique_ptr<Tokenizer>(std::move(tok));
}

}  // namespace wa::detail
