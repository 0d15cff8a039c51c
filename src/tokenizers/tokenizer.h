// Tokenizers built from the vocabulary that llama.cpp stores in GGUF metadata
// (tokenizer.ggml.*):
//   "llama" -> SentencePiece-style BPE over scores, with byte fallback (spm.cpp)
//   "gpt2"  -> byte-level BPE over merge ranks, after a per-model
//              pre-tokenizer (bpe.cpp, pretokenizers.cpp)
//   "bert"  -> WordPiece with BERT's normalizer (wordpiece.cpp)
//
// Everything read from the file is validated; a bad vocabulary is an error
// value, and encode/decode accept any bytes and any ids without crashing.
//
// Usage:
//   WA_ASSIGN_OR_RETURN(auto file, GgufFile::open(path));
//   WA_ASSIGN_OR_RETURN(auto tok, Tokenizer::from_gguf(*file));
//   std::vector<int32_t> ids = tok->encode("Hello", {.add_bos = tok->add_bos_by_default()});
//   StreamDecoder dec(*tok);
//   for (int32_t id : generated) fputs(dec.push(id).c_str(), stdout);
//   fputs(dec.flush().c_str(), stdout);
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/status.h"
#include "formats/gguf.h"

namespace wa {

// tokenizer.ggml.token_type values (llama.cpp's llama_token_type).
enum class TokenType : int32_t {
  undefined = 0,
  normal = 1,
  unknown = 2,
  control = 3,       // <s>, </s>, <|endoftext|>: only produced from text when parse_special
  user_defined = 4,  // added tokens: always matched in text as a whole
  unused = 5,
  byte = 6,          // SentencePiece <0xNN> byte-fallback tokens
};

enum class TokenizerKind : uint8_t { spm, bpe, wordpiece };
const char* tokenizer_kind_name(TokenizerKind kind);

// The vocabulary as stored in the file, validated (lengths agree, ids in
// range), owned (the GgufFile may be closed afterwards). Cheap to read on its
// own, e.g. for `webaccel info`.
struct Vocab {
  TokenizerKind kind = TokenizerKind::spm;
  std::string model;  // tokenizer.ggml.model: "llama", "gpt2", "bert"
  std::string pre;    // tokenizer.ggml.pre; "default" when absent
  std::vector<std::string> tokens;  // [n_vocab]
  std::vector<float> scores;        // [n_vocab], zeros when absent
  std::vector<TokenType> types;     // [n_vocab], normal when absent
  std::vector<std::string> merges;  // BPE: "left right", in rank order
  // Special ids, -1 when the file does not name them.
  int32_t bos_id = -1, eos_id = -1, unk_id = -1, pad_id = -1;
  int32_t eot_id = -1, eom_id = -1, sep_id = -1, cls_id = -1, mask_id = -1;
  bool add_bos = false;
  bool add_eos = false;
  bool add_space_prefix = false;

  int32_t n_vocab() const { return static_cast<int32_t>(tokens.size()); }
};

// Reads and validates tokenizer.ggml.* without building a tokenizer.
// Errors: invalid_file (missing/mistyped/inconsistent keys), unsupported
// (a tokenizer model we do not implement).
Result<Vocab> read_vocab(const GgufFile& file);

class Tokenizer {
 public:
  static Result<std::unique_ptr<Tokenizer>> from_gguf(const GgufFile& file);
  static Result<std::unique_ptr<Tokenizer>> from_vocab(Vocab vocab);
  virtual ~Tokenizer();
  Tokenizer(const Tokenizer&) = delete;
  Tokenizer& operator=(const Tokenizer&) = delete;

  struct EncodeOptions {
    bool add_bos = false;
    bool add_eos = false;
    // Match control tokens written in the text ("<s>", "<|endoftext|>") as
    // those tokens. User-defined (added) tokens are matched always, like
    // llama.cpp and Hugging Face do for non-special added tokens.
    bool parse_special = false;
  };
  // Never fails: any bytes, including invalid UTF-8, give some ids (SPM falls
  // back to <0xNN> byte tokens, BPE encodes the raw bytes).
  std::vector<int32_t> encode(std::string_view text, const EncodeOptions& opts) const;
  std::vector<int32_t> encode(std::string_view text) const { return encode(text, EncodeOptions{}); }

  // tokenizer.ggml.add_bos_token / add_eos_token, defaulting to true/false for
  // SPM ("llama") and false/false for byte-level BPE ("gpt2").
  bool add_bos_by_default() const { return vocab_.add_bos; }
  bool add_eos_by_default() const { return vocab_.add_eos; }

  // The raw bytes a token stands for (SPM: U+2581 -> ' ', <0xNN> -> the byte;
  // BPE: the byte-to-unicode mapping undone). Control and unknown tokens give
  // their text. Out-of-range ids give "".
  const std::string& token_to_piece(int32_t id) const;
  // Concatenated pieces. skip_special drops control and unknown tokens. For
  // tokenizers that add a space prefix when encoding (SPM), the leading space
  // of the first piece that produces text is removed, so
  // decode(encode(text)) == text and decode([BOS, "▁Hello"]) == "Hello", the
  // output llama.cpp users expect.
  std::string decode(const std::vector<int32_t>& ids, bool skip_special = true) const;

  TokenizerKind kind() const { return vocab_.kind; }
  const Vocab& vocab() const { return vocab_; }
  int32_t n_vocab() const { return vocab_.n_vocab(); }
  int32_t bos_id() const { return vocab_.bos_id; }
  int32_t eos_id() const { return vocab_.eos_id; }
  int32_t unk_id() const { return vocab_.unk_id; }
  int32_t pad_id() const { return vocab_.pad_id; }
  // EOS, EOT, EOM and the end-of-turn markers of common chat formats
  // (<|eot_id|>, <|im_end|>, <|end|>, <|endoftext|>, <end_of_turn>, ...).
  bool is_end_of_generation(int32_t id) const;
  bool is_control(int32_t id) const { return token_type(id) == TokenType::control; }
  TokenType token_type(int32_t id) const;
  const std::string& token_text(int32_t id) const;  // the vocab string; "" when out of range
  std::optional<int32_t> find_token(std::string_view text) const;
  // Whether decode strips the leading space of the first piece (see decode).
  bool strips_leading_space() const { return strip_leading_space_; }

 protected:
  explicit Tokenizer(Vocab vocab);
  // Builds the token lookup, special-token table and end-of-generation set.
  // Subclasses call it from their factory and fill pieces_.
  Status init_common();
  // Encodes text that contains no special token. `after_special` is true at
  // the start of the input and right after a special token (where SPM adds
  // its space prefix).
  virtual void encode_text(std::string_view text, bool after_special, std::vector<int32_t>& out) const = 0;

  struct SvHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  using TokenMap = std::unordered_map<std::string, int32_t, SvHash, std::equal_to<>>;

  Vocab vocab_;
  TokenMap token_ids_;              // text -> first id with that text
  std::vector<std::string> pieces_; // [n_vocab] decoded bytes, filled by subclasses
  bool strip_leading_space_ = false;

 private:
  friend class StreamDecoder;
  struct Special {
    std::string_view text;  // points into vocab_.tokens
    int32_t id;
    bool always;            // user-defined: matched even without parse_special
  };
  // Appends the piece for `id` to `out` following decode's rules.
  void append_decoded(int32_t id, bool skip_special, bool& strip_next, std::string& out) const;

  std::vector<Special> specials_;        // longest first
  std::vector<uint8_t> special_first_;   // [256] 1 if some special token starts with that byte
  bool has_always_special_ = false;      // some user-defined token exists
  std::vector<uint8_t> end_of_generation_;  // [n_vocab]
};

// Turns a stream of ids into text, emitting only complete UTF-8 characters:
// a multi-byte character split across tokens (byte-fallback or byte-level
// tokens) is held back until its last byte arrives. The concatenation of all
// push() results and flush() equals decode() of the same ids.
class StreamDecoder {
 public:
  // at_sequence_start: the first pushed id starts the sequence (or follows
  // only BOS), so the SPM space prefix is stripped like decode() does. Pass
  // false when pushing only generated tokens that continue a prompt.
  explicit StreamDecoder(const Tokenizer& tokenizer, bool at_sequence_start = true, bool skip_special = true);
  std::string push(int32_t id);
  // Returns the held-back bytes of an incomplete final character, if any.
  std::string flush();

 private:
  const Tokenizer& tok_;
  bool skip_special_;
  bool strip_next_;
  std::string pending_;
};

}  // namespace wa
