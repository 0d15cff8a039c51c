// Hot rows: webaccel's own file feature for a token embedding tied to the
// output (docs/TIED-EMBEDDING-QUANT.md). The tied matrix is stored once in a
// low-bit type for both roles; the rows the input lookup reads most are
// stored a second time in a higher precision (q8_0), and the lookup
// (get_rows) reads a row from that copy when its token has one. The output
// matmul keeps reading the low-bit matrix. webaccel's CPU backend (native
// and wasm) and its WebGPU backend (get_rows_hot.wgsl: hot rows of f32,
// f16, q8_0 or q4_0) run such a file; llama.cpp ignores the extra tensors
// (it would run the file without them, at the low-bit matrix's quality).
//
// In the GGUF file:
//   metadata  webaccel.token_embd.hot_rows   u32 H, the number of hot rows
//   tensor    token_embd.hot_rows            [n_embd, H], any type with a row decoder (q8_0 as written)
//   tensor    token_embd.hot_ids             i32 [H], the rows' token ids, strictly increasing, < n_vocab
// All three or none; anything else is an invalid file.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/status.h"
#include "formats/gguf.h"

namespace wa {

inline constexpr const char* kHotRowsKey = "webaccel.token_embd.hot_rows";
inline constexpr const char* kHotRowsTensor = "token_embd.hot_rows";
inline constexpr const char* kHotIdsTensor = "token_embd.hot_ids";

// Whether the file carries any part of the feature (the key or a tensor).
bool has_hot_rows(const GgufFile& file);
// Whether a tensor is one of the feature's (convert and quantize handle them
// apart from the weight matrices).
bool is_hot_rows_tensor(const std::string& name);

struct HotRows {
  const GgufTensorInfo* rows = nullptr;  // [n_embd, H]
  const GgufTensorInfo* ids = nullptr;   // i32 [H]
  int64_t count() const { return rows ? rows->ne[1] : 0; }
};

// Checks the feature's three parts against the embedding `table` ([n_embd,
// n_vocab]): key and tensors together, H = the key's value >= 1 and <=
// n_vocab, shapes, types, and (when the file has its bytes) ids strictly
// increasing inside [0, n_vocab). Errors are invalid_file or unsupported
// (a row type without a decoder); no part of the feature: *out stays empty.
// A file opened from its header (a streamed WebGPU load) has no bytes for
// the ids here: the C API checks them with validate_hot_ids once the upload
// has read them back from the device (wa_session_create).
Status validate_hot_rows(const GgufFile& file, const GgufTensorInfo& table, HotRows* out);
// The ids' rule: `count` i32 at `bytes` (any alignment), strictly increasing
// inside [0, n_vocab); invalid_file says which one breaks it.
Status validate_hot_ids(const uint8_t* bytes, int64_t count, int64_t n_vocab);

}  // namespace wa
