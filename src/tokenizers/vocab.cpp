// read_vocab: tokenizer.ggml.* metadata -> a validated, owned Vocab.
#include <limits>

#include "tokenizers/tokenizer.h"

namespace wa {

const char* tokenizer_kind_name(TokenizerKind kind) {
  switch (kind) {
    case TokenizerKind::spm: return "spm";
    case TokenizerKind::bpe: return "bpe";
    case TokenizerKind::wordpiece: return "wordpiece";
  }
  return "?";
}

namespace {

// An optional token id key: absent -> -1; present -> must name a token.
Status read_id(const GgufFile& f, const char* key, int32_t n_vocab, int32_t& out) {
  const GgufValue* v = f.find(key);
  if (!v) return Status::Ok();
  const std::optional<int64_t> id = f.get_int(key);
  if (!id) return invalid_file(strformat("%s has type %s, expected an integer", key, gguf_type_name(v->type)));
  if (*id < 0 || *id >= n_vocab) {
    return invalid_file(strformat("%s = %lld is outside the vocabulary of %d tokens", key,
                                  static_cast<long long>(*id), n_vocab));
  }
  out = static_cast<int32_t>(*id);
  return Status::Ok();
}

Status read_flag(const GgufFile& f, const char* key, bool& out) {
  const GgufValue* v = f.find(key);
  if (!v) return Status::Ok();
  const std::optional<bool> b = f.get_bool(key);
  if (!b) return invalid_file(strformat("%s has type %s, expected bool", key, gguf_type_name(v->type)));
  out = *b;
  return Status::Ok();
}

}  // namespace

Result<Vocab> read_vocab(const GgufFile& f) {
  Vocab v;
  const GgufValue* model_kv = f.find("tokenizer.ggml.model");
  if (!model_kv) return invalid_file("no tokenizer in this file (tokenizer.ggml.model is missing)");
  const std::optional<std::string_view> model = f.get_string("tokenizer.ggml.model");
  if (!model) return invalid_file("tokenizer.ggml.model is not a string");
  v.model = std::string(*model);
  if (v.model == "llama") {
    v.kind = TokenizerKind::spm;
    v.add_bos = true;
    v.add_space_prefix = true;
  } else if (v.model == "gpt2") {
    v.kind = TokenizerKind::bpe;
  } else if (v.model == "bert") {
    v.kind = TokenizerKind::wordpiece;
    v.add_bos = true;  // [CLS] ... [SEP]
    v.add_eos = true;
  } else {
    return unsupported("tokenizer model '" + v.model + "' is not supported (supported: llama, gpt2, bert)");
  }
  if (const GgufValue* pre = f.find("tokenizer.ggml.pre")) {
    if (pre->type != GgufType::string) return invalid_file("tokenizer.ggml.pre is not a string");
    v.pre = std::string(pre->str);
  } else {
    v.pre = "default";
  }

  const std::vector<std::string_view>* tokens = f.get_string_array("tokenizer.ggml.tokens");
  if (!tokens) return invalid_file("tokenizer.ggml.tokens is missing or not an array of strings");
  if (tokens->empty()) return invalid_file("tokenizer.ggml.tokens is empty");
  if (tokens->size() > static_cast<size_t>(std::numeric_limits<int32_t>::max())) {
    return invalid_file("tokenizer.ggml.tokens has too many entries");
  }
  const size_t n = tokens->size();
  v.tokens.reserve(n);
  for (std::string_view t : *tokens) v.tokens.emplace_back(t);

  if (const GgufValue* kv = f.find("tokenizer.ggml.scores")) {
    std::optional<std::vector<float>> scores = f.get_float_array("tokenizer.ggml.scores");
    if (!scores) return invalid_file(strformat("tokenizer.ggml.scores has type %s, expected a numeric array",
                                               gguf_type_name(kv->type)));
    if (scores->size() != n) {
      return invalid_file(strformat("tokenizer.ggml.scores has %zu entries but there are %zu tokens",
                                    scores->size(), n));
    }
    v.scores = std::move(*scores);
  } else if (v.kind == TokenizerKind::spm) {
    return invalid_file("tokenizer.ggml.scores is missing (required by the SentencePiece 'llama' tokenizer)");
  } else {
    v.scores.assign(n, 0.0f);
  }

  if (const GgufValue* kv = f.find("tokenizer.ggml.token_type")) {
    std::optional<std::vector<int64_t>> types = f.get_int_array("tokenizer.ggml.token_type");
    if (!types) return invalid_file(strformat("tokenizer.ggml.token_type has type %s, expected an integer array",
                                              gguf_type_name(kv->type)));
    if (types->size() != n) {
      return invalid_file(strformat("tokenizer.ggml.token_type has %zu entries but there are %zu tokens",
                                    types->size(), n));
    }
    v.types.resize(n);
    for (size_t i = 0; i < n; ++i) {
      const int64_t t = (*types)[i];
      if (t < 0 || t > static_cast<int64_t>(TokenType::byte)) {
        return invalid_file(strformat("tokenizer.ggml.token_type[%zu] = %lld is not a known token type", i,
                                      static_cast<long long>(t)));
      }
      v.types[i] = static_cast<TokenType>(t);
    }
  } else {
    v.types.assign(n, TokenType::normal);
  }

  if (const GgufValue* kv = f.find("tokenizer.ggml.merges")) {
    const std::vector<std::string_view>* merges = f.get_string_array("tokenizer.ggml.merges");
    if (!merges) return invalid_file(strformat("tokenizer.ggml.merges has type %s, expected an array of strings",
                                               gguf_type_name(kv->type)));
    v.merges.reserve(merges->size());
    for (std::string_view m : *merges) v.merges.emplace_back(m);
  } else if (v.kind == TokenizerKind::bpe) {
    return invalid_file("tokenizer.ggml.merges is missing (required by the byte-level BPE 'gpt2' tokenizer)");
  }

  const int32_t nv = v.n_vocab();
  WA_TRY(read_id(f, "tokenizer.ggml.bos_token_id", nv, v.bos_id));
  WA_TRY(read_id(f, "tokenizer.ggml.eos_token_id", nv, v.eos_id));
  WA_TRY(read_id(f, "tokenizer.ggml.unknown_token_id", nv, v.unk_id));
  WA_TRY(read_id(f, "tokenizer.ggml.padding_token_id", nv, v.pad_id));
  WA_TRY(read_id(f, "tokenizer.ggml.eot_token_id", nv, v.eot_id));
  WA_TRY(read_id(f, "tokenizer.ggml.eom_token_id", nv, v.eom_id));
  // "seperator" is how llama.cpp spells the key.
  WA_TRY(read_id(f, "tokenizer.ggml.seperator_token_id", nv, v.sep_id));
  WA_TRY(read_id(f, "tokenizer.ggml.cls_token_id", nv, v.cls_id));
  WA_TRY(read_id(f, "tokenizer.ggml.mask_token_id", nv, v.mask_id));
  WA_TRY(read_flag(f, "tokenizer.ggml.add_bos_token", v.add_bos));
  WA_TRY(read_flag(f, "tokenizer.ggml.add_eos_token", v.add_eos));
  WA_TRY(read_flag(f, "tokenizer.ggml.add_space_prefix", v.add_space_prefix));
  if (v.kind == TokenizerKind::wordpiece) {
    // BERT frames a sequence as [CLS] ... [SEP]; files name them cls/sep.
    if (v.bos_id < 0) v.bos_id = v.cls_id;
    if (v.eos_id < 0) v.eos_id = v.sep_id;
  }
  return v;
}

}  // namespace wa
