// Model conversion: llama2.c checkpoints and GGUF files to GGUF, with the
// weight matrices re-encoded to a chosen type; and synthetic random-weight
// models of real shapes for speed benchmarks.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "core/dtype.h"
#include "core/status.h"
#include "formats/gguf.h"
#include "quant/gptq.h"
#include "quant/tied_embedding.h"

namespace wa {

struct ConvertReport {
  std::vector<std::string> notes;  // e.g. tensors kept at a fallback type and why
  size_t bytes_written = 0;
  // Re-encoded matrices by "TYPE method" (quantize_method's words), e.g.
  // "q2_K error-compensating" -> 35.
  std::map<std::string, int> methods;
};

// IN is detected by content (GGUF magic, else llama2.c). Matrices become
// `type`; rows whose length is not a multiple of its block size fall back to
// f16 (or f32 when type is f32). Norms and biases stay f32.
// With `vocab_path`, the tokenizer.* metadata of that GGUF file (a model or a
// tokenizer-only file) is copied into OUT, replacing any the input had.
// With `name`, general.name is set to it (llama2.c checkpoints carry none).
Status convert_model(const std::string& in, const std::string& out, DType type, ConvertReport* report,
                     const std::string& vocab_path = "", const std::string& name = "");

// Per-matrix choices of `webaccel quantize` beyond one type for all.
struct QuantizeOptions {
  // Types of single matrices by tensor name (adaptive plans); the others get
  // the uniform type. A listed type must fit the matrix's rows (no fallback).
  std::map<std::string, DType> tensor_types;
  // Column weights by tensor name, one per element of a row (calibration,
  // quant/calibration.h): such matrices are quantized by the
  // importance-weighted quantizers (quant/weighted.h) where they measurably
  // help (quant::weighting_helps).
  std::map<std::string, std::vector<float>> importance;
  // Error-compensating factors by tensor name (quant/gptq.h; `--method
  // gptq`): such matrices of a type with that quantizer (quant::
  // has_gptq_quantizer) are quantized by it, with the importance vector as
  // the scale fit's weights; other types fall back to the rule above.
  std::map<std::string, std::shared_ptr<const quant::GptqFactor>> gptq;
  // Matrices that are also lookup tables (a tied token embedding): compensated
  // only where quant::compensate_lookup_table says.
  std::set<std::string> lookup_tables;
  // Per-row metrics by tensor name (a tied token embedding,
  // quant/tied_embedding.h): where such a matrix is compensated, its rows
  // with their own H are quantized with it, the others with `gptq`'s factor
  // (the metric's shared one).
  std::map<std::string, std::shared_ptr<const quant::TiedRowMetric>> row_metrics;
  // Hot rows (formats/hot_rows.h; webaccel's own): these rows of
  // token_embd.weight (strictly increasing ids) are also written in
  // hot_rows_type, from the input's values, for the lookup. Empty: none.
  // An input's own hot rows are never copied (they belong to its matrix).
  std::vector<int32_t> hot_rows;
  DType hot_rows_type = DType::q8_0;
};

// The factor a matrix named `name` is quantized with at `type` under
// `options` (null: not compensated), the one place of that rule.
const quant::GptqFactor* compensation_for(const QuantizeOptions& options, const std::string& name, DType type);
// Its per-row metric where it is compensated (null: none, or not compensated).
const quant::TiedRowMetric* row_metric_for(const QuantizeOptions& options, const std::string& name, DType type);

// GGUF -> GGUF only (`webaccel quantize`): the same re-encoding as
// convert_model of a GGUF input, refusing anything else with a message. Every
// matrix is decoded to f32 and re-encoded as `type`; a matrix already of its
// storage type is copied unchanged (no second rounding) unless it has an
// importance vector. general.file_type is the type holding most of the
// weights (normally `type`; the fallback type when no row fits `type`'s blocks).
Status quantize_model(const std::string& in, const std::string& out, DType type, ConvertReport* report,
                      const QuantizeOptions& options = {});

// The size in bytes of the file quantize_model would write (header,
// metadata, tensor data with its alignment padding), without writing it.
Result<uint64_t> quantized_file_size(const std::string& in, DType type, const QuantizeOptions& options = {});

// GGUF's general.file_type code of a "mostly TYPE" file.
int gguf_file_type(DType type);

// The type a matrix with rows of `cols` elements is stored as when `want` is
// asked: `want` when the rows are whole blocks of it, else the fallback
// llama.cpp's quantize uses (q2_K/q3_K -> q4_0 (llama.cpp: iq4_nl, which this
// build lacks), q4_K -> q5_0, q5_K -> q5_1, q6_K -> q8_0), else f16.
DType matrix_storage_type(DType want, int64_t cols);

// A weight matrix: a 2-D tensor named "*.weight". Convert and quantize
// re-encode these; norms, biases and other tensors keep their type.
bool is_weight_matrix(const GgufTensorInfo& t);

// What a file's weight matrices take, measured from its tensor table: bytes
// as stored (block scales and minimums included) over the number of weights.
struct WeightSize {
  int64_t n_weights = 0;   // elements of the weight matrices
  uint64_t bytes = 0;      // their bytes in the file
  int n_matrices = 0;
  std::vector<std::pair<DType, int64_t>> weights_by_type;  // weights stored in each type, most first
  // Hot rows (formats/hot_rows.h): a second copy of some embedding rows. Their
  // bytes (rows and ids) count in `bytes`, their elements not in n_weights:
  // they are extra storage for the same weights.
  int64_t hot_rows = 0;
  DType hot_type = DType::f32;
  uint64_t hot_bytes = 0;
  double bits_per_weight() const { return n_weights ? 8.0 * static_cast<double>(bytes) / static_cast<double>(n_weights) : 0.0; }
};
WeightSize measure_weights(const GgufFile& file);

// The types convert and synth write matrices in (those with a reference
// quantizer and a CPU kernel), and their names for messages.
bool is_convertible_type(DType type);
inline constexpr const char* kConvertibleTypes =
    "f32, f16, q8_0, q4_0, q4_1, q5_0, q5_1, q2_K, q3_K, q4_K, q5_K, q6_K; webaccel's own (not readable by llama.cpp) wa_vq2, wa_vq3";

struct SynthSpec {
  std::string preset;  // tiny | 1b | 7b
  DType type = DType::q4_0;
  uint64_t seed = 1;
};
// Writes a deterministic random-weight LLaMA model with a synthetic SPM
// vocabulary; metadata says it is synthetic.
Status write_synthetic_model(const SynthSpec& spec, const std::string& out, ConvertReport* report);

// Quantizes `rows` rows of `cols` f32 values into `dst` using several threads:
// with `gptq` (a factor for rows of `cols`) by the error-compensating
// quantizer where the type has one (quant::has_gptq_quantizer), its scales
// fitted with `col_weights` — and with `per_row`, the rows that have their
// own H there (row first_row + r of the matrix for row r of src) by theirs;
// else, with `col_weights` (cols importance weights), by the
// importance-weighted quantizer where it measurably helps
// (quant::weighting_helps); else by round-to-nearest.
void quantize_rows(DType type, const float* src, void* dst, int64_t rows, int64_t cols,
                   const float* col_weights = nullptr, const quant::GptqFactor* gptq = nullptr,
                   const quant::TiedRowMetric* per_row = nullptr, int64_t first_row = 0);

// How quantize_rows encodes a matrix of `type` given those inputs, in words
// ("error-compensating", "importance-weighted", "round-to-nearest").
const char* quantize_method(DType type, const float* col_weights, const quant::GptqFactor* gptq);

}  // namespace wa
