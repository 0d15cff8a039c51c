// Synthetic models: real LLaMA shapes filled with deterministic pseudo-random
// weights, for speed benchmarks against peers on identical files. They carry
// a synthetic SentencePiece vocabulary (special tokens, the 256 byte tokens,
// then generated pieces) so that llama.cpp and wllama load them too.
#include <cmath>
#include <cstring>
#include <memory>
#include <thread>

#include "formats/convert.h"
#include "formats/gguf.h"

namespace wa {
namespace {

struct Shape {
  int dim, ff, layers, heads, kv_heads, vocab, ctx;
};

Result<Shape> preset_shape(const std::string& preset) {
  if (preset == "tiny") return Shape{256, 768, 4, 8, 4, 4096, 2048};
  if (preset == "1b") return Shape{2048, 5632, 22, 32, 4, 32000, 2048};   // TinyLlama-1.1B
  if (preset == "7b") return Shape{4096, 11008, 32, 32, 32, 32000, 4096};  // LLaMA-2-7B
  return invalid_argument(strformat("unknown preset '%s' (tiny, 1b, 7b)", preset.c_str()));
}

uint64_t hash_name(uint64_t seed, const std::string& name) {
  uint64_t h = 1469598103934665603ull ^ seed;
  for (unsigned char ch : name) h = (h ^ ch) * 1099511628211ull;
  return h;
}

// Approximately normal(0, sigma): the sum of four 16-bit uniforms (Irwin-Hall),
// cheap enough to fill billions of weights.
struct FastNormal {
  uint64_t s;
  float next(float sigma) {
    s ^= s << 13;
    s ^= s >> 7;
    s ^= s << 17;
    const uint64_t v = s;
    const float sum = static_cast<float>((v & 0xffff) + ((v >> 16) & 0xffff) + ((v >> 32) & 0xffff) + (v >> 48));
    // mean 4 * 32767.5, variance 4 * (65536^2 - 1) / 12
    return (sum - 131070.0f) * (sigma / 37837.2f);
  }
};

std::vector<std::string> synthetic_vocab(int n, std::vector<float>* scores, std::vector<int32_t>* types) {
  std::vector<std::string> tokens = {"<unk>", "<s>", "</s>"};
  *types = {2, 3, 3};  // unknown, control, control
  for (int b = 0; b < 256; ++b) {
    tokens.push_back(strformat("<0x%02X>", b));
    types->push_back(6);  // byte
  }
  static const char kLetters[] = "etaoinshrdlcumwfgypbvkjxqz";
  const std::string space = "\xe2\x96\x81";  // U+2581, SentencePiece's space
  // Pieces: every string over the letters by increasing length, with and without a leading space.
  for (int len = 1; static_cast<int>(tokens.size()) < n; ++len) {
    std::vector<int> idx(static_cast<size_t>(len), 0);
    for (;;) {
      std::string piece;
      for (int i : idx) piece += kLetters[i];
      for (const std::string& pre : {space, std::string()}) {
        if (static_cast<int>(tokens.size()) >= n) break;
        tokens.push_back(pre + piece);
        types->push_back(1);
      }
      if (static_cast<int>(tokens.size()) >= n) break;
      int d = len - 1;
      while (d >= 0 && ++idx[static_cast<size_t>(d)] == 26) idx[static_cast<size_t>(d--)] = 0;
      if (d < 0) break;
    }
  }
  scores->resize(tokens.size());
  for (size_t i = 0; i < tokens.size(); ++i) (*scores)[i] = (*types)[i] == 1 ? -static_cast<float>(i) : 0.0f;
  return tokens;
}

}  // namespace

Status write_synthetic_model(const SynthSpec& spec, const std::string& out, ConvertReport* report) {
  WA_ASSIGN_OR_RETURN(Shape s, preset_shape(spec.preset));
  const DType type = spec.type;
  if (!is_convertible_type(type)) {
    return unsupported(strformat("synth type %s is not supported (%s)", dtype_name(type), kConvertibleTypes));
  }
  GgufWriter w;
  w.set_string("general.architecture", "llama");
  w.set_string("general.name", "synthetic-llama-" + spec.preset);
  w.set_string("general.description",
               "SYNTHETIC: deterministic pseudo-random weights of a real LLaMA shape, for speed benchmarks only. "
               "Not a trained model; its outputs are meaningless.");
  w.set_bool("webaccel.synthetic", true);
  w.set_u64("webaccel.synthetic.seed", spec.seed);
  w.set_u32("general.file_type", static_cast<uint32_t>(gguf_file_type(type)));
  w.set_u32("llama.context_length", static_cast<uint32_t>(s.ctx));
  w.set_u32("llama.embedding_length", static_cast<uint32_t>(s.dim));
  w.set_u32("llama.block_count", static_cast<uint32_t>(s.layers));
  w.set_u32("llama.feed_forward_length", static_cast<uint32_t>(s.ff));
  w.set_u32("llama.attention.head_count", static_cast<uint32_t>(s.heads));
  w.set_u32("llama.attention.head_count_kv", static_cast<uint32_t>(s.kv_heads));
  w.set_u32("llama.rope.dimension_count", static_cast<uint32_t>(s.dim / s.heads));
  w.set_f32("llama.rope.freq_base", 10000.0f);
  w.set_f32("llama.attention.layer_norm_rms_epsilon", 1e-5f);
  w.set_u32("llama.vocab_size", static_cast<uint32_t>(s.vocab));
  std::vector<float> scores;
  std::vector<int32_t> types;
  w.set_string("tokenizer.ggml.model", "llama");
  w.set_string("tokenizer.ggml.pre", "default");
  w.set_string_array("tokenizer.ggml.tokens", synthetic_vocab(s.vocab, &scores, &types));
  w.set_f32_array("tokenizer.ggml.scores", scores);
  w.set_i32_array("tokenizer.ggml.token_type", types);
  w.set_u32("tokenizer.ggml.bos_token_id", 1);
  w.set_u32("tokenizer.ggml.eos_token_id", 2);
  w.set_u32("tokenizer.ggml.unknown_token_id", 0);
  w.set_bool("tokenizer.ggml.add_bos_token", true);
  w.set_bool("tokenizer.ggml.add_eos_token", false);

  const uint64_t seed = spec.seed;
  auto matrix = [&](const std::string& name, int64_t cols, int64_t rows) -> Status {
    const DType t = matrix_storage_type(type, cols);
    return w.add_tensor(name, t, {cols, rows}, [=](uint8_t* dst, size_t) {
      const float sigma = 1.0f / std::sqrt(static_cast<float>(cols));  // keeps activations O(1) through the layers
      const int64_t chunk = 64;
      std::vector<float> buf(static_cast<size_t>(cols * chunk));
      FastNormal rng{hash_name(seed, name) | 1};
      for (int64_t r0 = 0; r0 < rows; r0 += chunk) {
        const int64_t n = std::min(chunk, rows - r0);
        for (int64_t i = 0; i < n * cols; ++i) buf[static_cast<size_t>(i)] = rng.next(sigma);
        quantize_rows(t, buf.data(), dst + r0 * row_bytes(t, cols), n, cols);
      }
      return Status::Ok();
    });
  };
  auto norm = [&](const std::string& name, int64_t n) -> Status {
    return w.add_tensor(name, DType::f32, {n}, [=](uint8_t* dst, size_t) {
      FastNormal rng{hash_name(seed, name) | 1};
      float* f = reinterpret_cast<float*>(dst);
      for (int64_t i = 0; i < n; ++i) f[i] = 1.0f + rng.next(0.05f);
      return Status::Ok();
    });
  };
  const int64_t head = s.dim / s.heads, kv = head * s.kv_heads;
  WA_TRY(matrix("token_embd.weight", s.dim, s.vocab));
  WA_TRY(norm("output_norm.weight", s.dim));
  WA_TRY(matrix("output.weight", s.dim, s.vocab));
  for (int l = 0; l < s.layers; ++l) {
    const std::string p = strformat("blk.%d.", l);
    WA_TRY(norm(p + "attn_norm.weight", s.dim));
    WA_TRY(matrix(p + "attn_q.weight", s.dim, s.dim));
    WA_TRY(matrix(p + "attn_k.weight", s.dim, kv));
    WA_TRY(matrix(p + "attn_v.weight", s.dim, kv));
    WA_TRY(matrix(p + "attn_output.weight", s.dim, s.dim));
    WA_TRY(norm(p + "ffn_norm.weight", s.dim));
    WA_TRY(matrix(p + "ffn_gate.weight", s.dim, s.ff));
    WA_TRY(matrix(p + "ffn_up.weight", s.dim, s.ff));
    WA_TRY(matrix(p + "ffn_down.weight", s.ff, s.dim));
  }
  if (report) report->notes.push_back(strformat("synthetic %s model, %s weights", spec.preset.c_str(), dtype_name(type)));
  return w.write(out);
}

}  // namespace wa
