// Tokenizer: the parts shared by every tokenizer kind -- construction from a
// GGUF file, splitting text around special tokens, decoding and streaming.
#include "tokenizers/tokenizer.h"

#include <algorithm>

#include "tokenizers/tokenizer_impl.h"
#include "tokenizers/unicode.h"

namespace wa {

namespace {
const std::string kEmpty;

// End-of-turn markers of common chat formats. Models often name only one of
// them as EOS, but stop generation at any of them.
constexpr std::string_view kEndOfGenerationTexts[] = {
    "<|eot_id|>", "<|im_end|>", "<|end|>", "<|endoftext|>", "<|end_of_text|>", "<end_of_turn>",
    "<|eom_id|>", "<EOT>",      "<|EOT|>", "<｜end▁of▁sentence｜>",
};
}  // namespace

Result<std::unique_ptr<Tokenizer>> Tokenizer::from_gguf(const GgufFile& file) {
  WA_ASSIGN_OR_RETURN(Vocab vocab, read_vocab(file));
  return from_vocab(std::move(vocab));
}

Result<std::unique_ptr<Tokenizer>> Tokenizer::from_vocab(Vocab vocab) {
  switch (vocab.kind) {
    case TokenizerKind::spm: return detail::make_spm_tokenizer(std::move(vocab));
    case TokenizerKind::bpe: return detail::make_bpe_tokenizer(std::move(vocab));
    case TokenizerKind::wordpiece: return detail::make_wordpiece_tokenizer(std::move(vocab));
  }
  return internal_error("unknown tokenizer kind");
}

Tokenizer::Tokenizer(Vocab vocab) : vocab_(std::move(vocab)) {}
Tokenizer::~Tokenizer() = default;

Status Tokenizer::init_common() {
  const int32_t n = vocab_.n_vocab();
  if (vocab_.scores.size() != vocab_.tokens.size() || vocab_.types.size() != vocab_.tokens.size()) {
    return invalid_argument("vocabulary arrays disagree in length");
  }
  token_ids_.reserve(static_cast<size_t>(n));
  for (int32_t id = 0; id < n; ++id) token_ids_.emplace(vocab_.tokens[static_cast<size_t>(id)], id);

  if (vocab_.unk_id < 0) {
    for (int32_t id = 0; id < n; ++id) {
      if (vocab_.types[static_cast<size_t>(id)] == TokenType::unknown) {
        vocab_.unk_id = id;
        break;
      }
    }
  }

  special_first_.assign(256, 0);
  for (int32_t id = 0; id < n; ++id) {
    const TokenType t = vocab_.types[static_cast<size_t>(id)];
    const std::string& text = vocab_.tokens[static_cast<size_t>(id)];
    if (text.empty()) continue;
    if (t == TokenType::control || t == TokenType::user_defined || t == TokenType::unknown) {
      specials_.push_back({text, id, t == TokenType::user_defined});
      special_first_[static_cast<uint8_t>(text[0])] = 1;
    }
  }
  // Longest first, so "<|im_end|>" wins over a shorter token that is its prefix.
  std::stable_sort(specials_.begin(), specials_.end(),
                   [](const Special& a, const Special& b) { return a.text.size() > b.text.size(); });
  has_always_special_ = std::any_of(specials_.begin(), specials_.end(), [](const Special& s) { return s.always; });

  end_of_generation_.assign(static_cast<size_t>(n), 0);
  for (int32_t id : {vocab_.eos_id, vocab_.eot_id, vocab_.eom_id}) {
    if (id >= 0) end_of_generation_[static_cast<size_t>(id)] = 1;
  }
  for (std::string_view text : kEndOfGenerationTexts) {
    auto it = token_ids_.find(text);
    if (it == token_ids_.end()) continue;
    const TokenType t = vocab_.types[static_cast<size_t>(it->second)];
    if (t == TokenType::control || t == TokenType::user_defined) end_of_generation_[static_cast<size_t>(it->second)] = 1;
  }
  return Status::Ok();
}

std::vector<int32_t> Tokenizer::encode(std::string_view text, const EncodeOptions& opts) const {
  std::vector<int32_t> out;
  out.reserve(text.size() / 3 + 2);
  if (opts.add_bos && vocab_.bos_id >= 0) out.push_back(vocab_.bos_id);

  bool after_special = true;
  size_t seg_start = 0;
  if (opts.parse_special || has_always_special_) {
    size_t i = 0;
    while (i < text.size()) {
      const Special* hit = nullptr;
      if (special_first_[static_cast<uint8_t>(text[i])]) {
        const std::string_view rest = text.substr(i);
        for (const Special& s : specials_) {
          if ((s.always || opts.parse_special) && rest.starts_with(s.text)) {
            hit = &s;
            break;
          }
        }
      }
      if (!hit) {
        ++i;
        continue;
      }
      if (i > seg_start) encode_text(text.substr(seg_start, i - seg_start), after_special, out);
      out.push_back(hit->id);
      after_special = true;
      i += hit->text.size();
      seg_start = i;
    }
  }
  if (seg_start < text.size()) encode_text(text.substr(seg_start), after_special, out);

  if (opts.add_eos && vocab_.eos_id >= 0) out.push_back(vocab_.eos_id);
  return out;
}

const std::string& Tokenizer::token_to_piece(int32_t id) const {
  if (id < 0 || id >= n_vocab() || pieces_.size() != vocab_.tokens.size()) return kEmpty;
  return pieces_[static_cast<size_t>(id)];
}

void Tokenizer::append_decoded(int32_t id, bool skip_special, bool& strip_next, std::string& out) const {
  if (id < 0 || id >= n_vocab()) return;
  const TokenType t = vocab_.types[static_cast<size_t>(id)];
  if (skip_special && (t == TokenType::control || t == TokenType::unknown)) return;
  const std::string& piece = token_to_piece(id);
  if (piece.empty()) return;
  if (strip_next) {
    strip_next = false;
    if (piece[0] == ' ') {
      out.append(piece, 1, std::string::npos);
      return;
    }
  }
  out += piece;
}

std::string Tokenizer::decode(const std::vector<int32_t>& ids, bool skip_special) const {
  std::string out;
  bool strip_next = strip_leading_space_;
  for (int32_t id : ids) append_decoded(id, skip_special, strip_next, out);
  return out;
}

bool Tokenizer::is_end_of_generation(int32_t id) const {
  return id >= 0 && id < n_vocab() && end_of_generation_[static_cast<size_t>(id)] != 0;
}

TokenType Tokenizer::token_type(int32_t id) const {
  if (id < 0 || id >= n_vocab()) return TokenType::undefined;
  return vocab_.types[static_cast<size_t>(id)];
}

const std::string& Tokenizer::token_text(int32_t id) const {
  if (id < 0 || id >= n_vocab()) return kEmpty;
  return vocab_.tokens[static_cast<size_t>(id)];
}

std::optional<int32_t> Tokenizer::find_token(std::string_view text) const {
  auto it = token_ids_.find(text);
  if (it == token_ids_.end()) return std::nullopt;
  return it->second;
}

StreamDecoder::StreamDecoder(const Tokenizer& tokenizer, bool at_sequence_start, bool skip_special)
    : tok_(tokenizer), skip_special_(skip_special), strip_next_(at_sequence_start && tokenizer.strips_leading_space()) {}

std::string StreamDecoder::push(int32_t id) {
  tok_.append_decoded(id, skip_special_, strip_next_, pending_);
  const size_t n = unicode::utf8_complete_prefix(pending_);
  std::string out = pending_.substr(0, n);
  pending_.erase(0, n);
  return out;
}

std::string StreamDecoder::flush() {
  std::string out;
  out.swap(pending_);
  return out;
}

}  // namespace wa
