// llama2.c checkpoints (Karpathy's run.c format): a 7-int header, then f32
// tensors in a fixed order. A negative vocab_size means the classifier is
// stored separately (unshared); otherwise it is tied to the embedding.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/status.h"

namespace wa {

struct Llama2cConfig {
  int dim = 0;         // model width
  int hidden_dim = 0;  // feed-forward width
  int n_layers = 0;
  int n_heads = 0;
  int n_kv_heads = 0;
  int vocab_size = 0;
  int seq_len = 0;
  bool shared_classifier = true;
};

struct Llama2cCheckpoint {
  Llama2cConfig config;
  std::vector<float> data;  // everything after the header
  // Offsets (in floats) into data, per the file's fixed order.
  size_t token_embedding = 0;  // [vocab, dim]
  size_t rms_att = 0;          // [layers, dim]
  size_t wq = 0;               // [layers, dim (out), dim (in)]
  size_t wk = 0;               // [layers, kv_dim, dim]
  size_t wv = 0;               // [layers, kv_dim, dim]
  size_t wo = 0;               // [layers, dim, dim]
  size_t rms_ffn = 0;          // [layers, dim]
  size_t w1 = 0;               // [layers, hidden, dim]
  size_t w2 = 0;               // [layers, dim, hidden]
  size_t w3 = 0;               // [layers, hidden, dim]
  size_t rms_final = 0;        // [dim]
  size_t wcls = 0;             // [vocab, dim] (== token_embedding when shared)
  const float* at(size_t offset) const { return data.data() + offset; }
};

// Reads and validates a checkpoint: sizes must be sane and the file exactly
// as long as the header says.
Result<Llama2cCheckpoint> read_llama2c(const std::string& path);
bool looks_like_llama2c(const std::string& path);

}  // namespace wa
