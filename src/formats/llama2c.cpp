#include "formats/llama2c.h"

#include <cstdio>
#include <cstring>

namespace wa {

bool looks_like_llama2c(const std::string& path) {
  FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) return false;
  int32_t h[7];
  const bool ok = std::fread(h, sizeof h, 1, f) == 1;
  std::fclose(f);
  if (!ok) return false;
  return h[0] > 0 && h[1] > 0 && h[2] > 0 && h[3] > 0 && h[4] > 0 && h[5] != 0 && h[6] > 0;
}

Result<Llama2cCheckpoint> read_llama2c(const std::string& path) {
  FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) return io_error(strformat("cannot open '%s': %s", path.c_str(), std::strerror(errno)));
  auto close_with = [&](Status s) {
    std::fclose(f);
    return s;
  };
  int32_t h[7];
  if (std::fread(h, sizeof h, 1, f) != 1) return close_with(invalid_file("too short for a llama2.c header"));
  Llama2cCheckpoint ck;
  Llama2cConfig& c = ck.config;
  c.dim = h[0];
  c.hidden_dim = h[1];
  c.n_layers = h[2];
  c.n_heads = h[3];
  c.n_kv_heads = h[4];
  c.shared_classifier = h[5] > 0;
  c.vocab_size = h[5] > 0 ? h[5] : -h[5];
  c.seq_len = h[6];
  if (c.dim <= 0 || c.dim > 65536 || c.hidden_dim <= 0 || c.hidden_dim > 262144 || c.n_layers <= 0 ||
      c.n_layers > 1024 || c.n_heads <= 0 || c.n_heads > 1024 || c.n_kv_heads <= 0 || c.n_kv_heads > c.n_heads ||
      c.vocab_size <= 0 || c.vocab_size > (1 << 22) || c.seq_len <= 0 || c.seq_len > (1 << 24)) {
    return close_with(invalid_file(strformat(
        "llama2.c header has implausible values (dim %d, hidden %d, layers %d, heads %d, kv heads %d, vocab %d, seq %d)",
        c.dim, c.hidden_dim, c.n_layers, c.n_heads, c.n_kv_heads, c.vocab_size, c.seq_len)));
  }
  if (c.dim % c.n_heads != 0 || c.n_heads % c.n_kv_heads != 0 || (c.dim / c.n_heads) % 2 != 0) {
    return close_with(invalid_file("llama2.c header: heads do not divide the width evenly"));
  }
  const size_t dim = static_cast<size_t>(c.dim), hid = static_cast<size_t>(c.hidden_dim);
  const size_t L = static_cast<size_t>(c.n_layers), V = static_cast<size_t>(c.vocab_size);
  const size_t head = dim / static_cast<size_t>(c.n_heads);
  const size_t kv_dim = head * static_cast<size_t>(c.n_kv_heads);
  size_t off = 0;
  auto take = [&](size_t n) {
    const size_t at = off;
    off += n;
    return at;
  };
  ck.token_embedding = take(V * dim);
  ck.rms_att = take(L * dim);
  ck.wq = take(L * dim * dim);
  ck.wk = take(L * kv_dim * dim);
  ck.wv = take(L * kv_dim * dim);
  ck.wo = take(L * dim * dim);
  ck.rms_ffn = take(L * dim);
  ck.w1 = take(L * hid * dim);
  ck.w2 = take(L * dim * hid);
  ck.w3 = take(L * hid * dim);
  ck.rms_final = take(dim);
  take(static_cast<size_t>(c.seq_len) * head);  // freq_cis real + imag (unused: RoPE is recomputed)
  ck.wcls = c.shared_classifier ? ck.token_embedding : take(V * dim);
  const size_t expected = off * sizeof(float) + sizeof h;

  std::fseek(f, 0, SEEK_END);
  const long size = std::ftell(f);
  if (size < 0 || static_cast<size_t>(size) != expected) {
    return close_with(invalid_file(strformat("llama2.c file is %ld bytes but its header implies %zu", size, expected)));
  }
  std::fseek(f, sizeof h, SEEK_SET);
  ck.data.resize(off);
  if (std::fread(ck.data.data(), sizeof(float), off, f) != off) return close_with(io_error("short read"));
  std::fclose(f);
  return ck;
}

}  // namespace wa
