// WebGPU backend ops: every op the WebGPU backend runs, for every weight type
// it reads, on odd shapes, against the CPU backend's scalar reference, in the
// manner of llama.cpp's test-backend-ops (NMSE limits, NaN/inf checks, exact
// equality where the answer is an index or a copy).
//
// The cases are defined once, here. Each builds a graph with one op under test
// (its inputs come from get_rows of f32 tables, as a model's activations come
// from the embedding lookup: activations live in the backend's arena), and the
// same builder runs three times:
//   cpu        the CPU backend, scalar ISA, one thread, on the case's types;
//   cpu_exact  the same, with every weight replaced by f32 holding what the
//              reference dequantizer (src/quant/) decodes it to: the numbers
//              the GPU is meant to compute (the CPU multiplies q8_0/q4_0
//              weights with activations rounded to 8 bits, the GPU does not);
//   gpu        the WebGPU backend: weights uploaded with upload_tensor (the
//              function the model path uses per GGUF tensor), caches in device
//              buffers, outputs read back; the JS harness executes the stream.
//
// Why a separate wasm module (webaccel-gpu-ops, built beside webaccel-st) and
// not wa_test_* exports of the main module: the cases, their data generators
// and the comparison code would otherwise ship in every page that loads
// webaccel; a separate module links only what it uses, and the product's
// exports stay the C API. The GPU work still runs through the product's JS
// driver (js/src/gpu/driver.ts), so what is tested is what ships.
//
// Protocol with the JS harness (tests/webgpu/harness.mjs):
//   n = wa_gpu_ops_init(&config)         the device's wa_gpu_device_config; n cases
//   wa_gpu_ops_cases_json()              [{"name","slot"}...]
//   for each case i:
//     slot = wa_gpu_ops_prepare(i)        CPU references computed, GPU work recorded
//     n = wa_gpu_ops_stream(slot, &words) the driver of `slot` executes the words
//     wa_gpu_ops_stream_done(slot)
//     json = wa_gpu_ops_finish(i)         comparisons: {"name","ok","checks":[...]}
// A slot is a WebGPU backend with its own device config (and so its own
// buffer ids: the harness gives each slot its own GpuDriver on one device):
// the device's limits, or smaller ones that force split weights and folded
// grids.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <deque>
#include <functional>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "backends/backend.h"
#include "backends/cpu/kernels.h"
#include "backends/webgpu/kernel_sources.h"
#include "backends/webgpu/webgpu_backend.h"
#include "core/fp16.h"
#include "core/graph.h"
#include "webaccel/webaccel.h"

namespace wa {
namespace {

// ---- limits ----------------------------------------------------------------
//
// NMSE = sum (gpu - ref)^2 / sum ref^2 over an output. A wrong index, a
// missing write or a wrong scale gives an NMSE near 1, so the limits only need
// to sit above rounding noise, which the comments bound.

// The GPU performs the same single IEEE-754 operation per element as the CPU
// (copies, a one-block dequantization, a + b, a * b, a * f): any difference is
// a bug.
constexpr double kExact = 0.0;
// Sums and transcendentals: summation order (tree vs sequential; rms_norm's
// CPU sum is in double), WGSL's exp (3 + 2|x| ulp), FMA contraction the
// shader compiler may apply. Relative error per element is a few f32 ulps
// (1e-7), so NMSE is about 1e-14 (SwiftShader: 0 .. 2e-12, the largest for
// K = 4096 dot products); 1e-9 leaves room for other GPUs' arithmetic.
constexpr double kFloat = 1e-9;
// q8_0 / q4_0 matmuls against the CPU on the same types: the CPU rounds
// activations to 8-bit blocks first (kernels.h), the GPU multiplies f32
// activations; tests/unit/test_backend_ops.cpp bounds what that rounding
// costs at 2e-3 (SwiftShader measures 2e-5 .. 5e-5 here). Against cpu_exact
// these matmuls meet kFloat.
constexpr double kActivationRounding = 2e-3;

// max NMSE against cpu_exact, and against cpu (same types)
struct Limit {
  double exact;
  double cpu;
};
constexpr Limit kExactLimit{kExact, kExact};
constexpr Limit kFloatLimit{kFloat, kFloat};
// Values stored to an f16 KV cache one f16 ulp apart in places (see the
// fused rope + kv store cases); a wrong store or position is ~1.
constexpr double kF16CacheRounding = 1e-6;

// q4_1, q5_0, q5_1 and the k-quants: the GPU's bit-plane layout (mv4_planes.wgsl).
const DType kPlaneTypes[] = {DType::q4_1, DType::q5_0, DType::q5_1, DType::q2_k,
                             DType::q3_k, DType::q4_k, DType::q5_k, DType::q6_k};
bool is_plane_quant(DType t) {
  for (DType p : kPlaneTypes) {
    if (p == t) return true;
  }
  return false;
}
// webaccel's vector-quantized types (mv4_vq.wgsl: a codebook in a device
// buffer besides the weights).
const DType kVqTypes[] = {DType::wa_vq2, DType::wa_vq3};
bool is_vq(DType t) { return t == DType::wa_vq2 || t == DType::wa_vq3; }
// Quantized weights: the CPU rounds the activations they multiply (q8_0
// blocks; q8_K per 256 for the k-quants and vq types, 8-bit blocks with sums
// for q4_1 and q5_x: tests/unit/test_backend_ops.cpp bounds every type at 2e-3).
bool is_block_quant(DType t) { return t == DType::q8_0 || t == DType::q4_0 || is_plane_quant(t) || is_vq(t); }
// Dequantizing the bit-plane types takes two IEEE operations per weight but
// for q5_0 (d u + m, or a product plus an offset product, in the reference's
// order), which a GPU compiler may contract into one FMA: a last-bit
// difference, within kFloat (SwiftShader: exact). The vq types' step times
// the odd coordinate is the reference's product, in its order: exact.
Limit get_rows_limit(DType t) { return is_plane_quant(t) ? Limit{kFloat, kFloat} : Limit{kExact, kExact}; }

// ---- cases -----------------------------------------------------------------

enum class Run { cpu, cpu_exact, gpu };

// A tensor of the case's data: generated once (on the first run) and shared
// by the three runs, so every backend sees the same bytes.
struct Blob {
  DType type = DType::f32;
  int64_t ne0 = 0, ne1 = 0;
  std::vector<uint8_t> bytes;  // encoded as `type` (the reference quantizer's output)
  std::vector<float> values;   // what `bytes` decode to (the reference dequantizer)
};

struct Check {
  Node* node;
  std::string what;
  Limit limit;
  size_t graph;  // index of the graph (step) that computes it
};

// What the GPU run recorded for a case, and the outputs of every run.
struct CaseState {
  std::deque<Blob> blobs;      // stable addresses: the GPU stream points into them
  std::vector<std::string> what;
  std::vector<Limit> limits;
  std::vector<DType> types;
  std::vector<std::vector<uint8_t>> out[3];  // per Run, per check
  struct Parts {
    std::string weight;
    uint32_t min, got;  // expected at least, made by the GPU backend
  };
  std::vector<Parts> parts;
  uint32_t dispatches = 0;
  uint32_t fused = 0, min_fused = 0;  // fused decode kernels recorded, expected at least
  uint32_t max_dispatches = 0;        // 0: any number
  uint32_t subgroup_dispatches = 0;   // of kernels reducing with subgroup operations
  bool check_subgroups = false;       // expected: some where the slot has subgroups, else none
  uint32_t l2_warm_dispatches = 0;    // of split attentions warming the L2 (l2_warm.wgsl)
  bool check_l2_warm = false;         // expected: some on the L2-warming slot, else none
  uint32_t few_token_dispatches = 0;  // of prompts' products as few-token matvecs
  int want_few_token = -1;            // expected: 1 some, 0 none, -1 not checked
  std::string error;
};

// What a case builder sees: graph builders that make leaves for the current
// run (host memory for the CPU, device buffers for the GPU).
class Ctx {
 public:
  Ctx(CaseState& st, Run run, uint64_t seed, gpu::WebGpuBackend* gpu) : st_(st), run_(run), rng_(seed), gpu_(gpu) {
    graphs_.emplace_back();
  }

  // The graph being built. A case of several steps (a prompt in batches)
  // starts the next with next_graph(); the runs compute them in order.
  Graph& g() { return graphs_.back(); }
  void next_graph() { graphs_.emplace_back(); }
  std::deque<Graph>& graphs() { return graphs_; }

  // A weight [ne0, ne1] of random N(0, scale^2) values encoded in `type` by
  // the reference quantizer; `values` overrides the random ones. vq types
  // (without `values`): random codes and 4-bit scales, d = scale / 16, which
  // reach every pattern of the codebook (a quantizer rarely picks the
  // largest) and cost nothing (its search takes microseconds per weight).
  Node* weight(DType type, int64_t ne0, int64_t ne1, float scale = 1.0f, const std::vector<float>* values = nullptr) {
    Blob& b = blob(type, ne0, ne1, scale, values);
    Node* n;
    if (run_ == Run::cpu_exact) {
      n = g().leaf(name("w"), DType::f32, {ne0, ne1}, b.values.data());
    } else {
      n = g().leaf(name("w"), type, {ne0, ne1}, b.bytes.data());
    }
    if (run_ == Run::gpu) {
      n->weight_id = b.bytes.data();  // any stable identity will do
      note(gpu_->upload_tensor(b.bytes.data(), {b.bytes.data()}, type, ne0, ne1, nullptr));
      uploaded_.push_back(b.bytes.data());
    }
    return n;
  }

  // An f32 activation [ne0, ne1] in the arena: rows of an f32 table looked up
  // by get_rows.
  Node* input(int64_t ne0, int64_t ne1, float scale = 1.0f, const std::vector<float>* values = nullptr) {
    Node* table = weight(DType::f32, ne0, ne1, scale, values);
    std::vector<int32_t> iota(static_cast<size_t>(ne1));
    for (int64_t i = 0; i < ne1; ++i) iota[static_cast<size_t>(i)] = static_cast<int32_t>(i);
    return g().get_rows(table, ids(iota));
  }

  // Host i32 data (token ids, positions).
  Node* ids(const std::vector<int32_t>& v) {
    Blob& b = raw(DType::i32, v.data(), v.size() * sizeof(int32_t));
    return g().leaf(name("ids"), DType::i32, {static_cast<int64_t>(v.size())}, b.bytes.data());
  }
  // An i32 tensor that is a weight, not a step's input (a lookup's hot ids):
  // on the GPU a device copy, as upload_weights makes of a file's i32 tensors.
  Node* weight_i32(const std::vector<int32_t>& v) {
    Blob& b = raw(DType::i32, v.data(), v.size() * sizeof(int32_t));
    Node* n = g().leaf(name("w"), DType::i32, {static_cast<int64_t>(v.size())}, b.bytes.data());
    if (run_ == Run::gpu) {
      n->weight_id = b.bytes.data();
      const int64_t n_ids = static_cast<int64_t>(v.size());
      note(gpu_->upload_tensor(b.bytes.data(), {b.bytes.data()}, DType::i32, n_ids, 1, nullptr));
      uploaded_.push_back(b.bytes.data());
    }
    return n;
  }
  // Host f32 data that is not a weight (rope frequency factors).
  Node* host_f32(const std::vector<float>& v) {
    Blob& b = raw(DType::f32, v.data(), v.size() * sizeof(float));
    return g().leaf(name("host"), DType::f32, {static_cast<int64_t>(v.size())}, b.bytes.data());
  }

  // A leaf of the current graph for a cache (or a penalty window) made in an earlier step.
  Node* same_cache(const Node* cache) {
    while (cache->storage == Storage::alias) cache = cache->src[1];
    Node* n = g().leaf(name("cache"), cache->type, {cache->ne[0], cache->ne[1]}, cache->data);
    n->device_buffer = cache->device_buffer;
    return n;
  }

  // A zero-filled KV cache [ne0, ne1] (host memory of this run, or a device buffer).
  Node* cache(DType type, int64_t ne0, int64_t ne1) {
    const size_t bytes = row_bytes(type, ne0) * static_cast<size_t>(ne1);
    if (run_ != Run::gpu) {
      caches_.emplace_back(bytes, 0);
      return g().leaf(name("cache"), type, {ne0, ne1}, caches_.back().data());
    }
    Node* n = g().leaf(name("cache"), type, {ne0, ne1}, nullptr);
    auto id = gpu_->create_buffer(bytes, "ops.cache", MemCategory::kv_cache, nullptr);
    note(id.status());
    if (id.ok()) {
      n->device_buffer = id.value();
      buffers_.push_back(id.value());
    }
    return n;
  }

  // A repetition penalty's window of `capacity` ids after `ids` were
  // appended in order (penalty_window_append, as a sampler accepts them),
  // full size: host memory of this run, or a device buffer written from it.
  // A later step reads it again through same_cache().
  Node* window(int capacity, const std::vector<int32_t>& ids) {
    std::vector<int32_t> w = penalty_window(capacity);
    for (int32_t id : ids) penalty_window_append(w, id);
    w.resize(penalty_window_words(capacity), 0);
    const size_t bytes = w.size() * sizeof(int32_t);
    const int64_t words = static_cast<int64_t>(w.size());
    if (run_ != Run::gpu) {
      caches_.emplace_back(bytes);
      std::memcpy(caches_.back().data(), w.data(), bytes);
      return g().leaf(name("window"), DType::i32, {words}, caches_.back().data());
    }
    Node* n = g().leaf(name("window"), DType::i32, {words}, nullptr);
    auto id = gpu_->create_buffer(bytes, "ops.window", MemCategory::activations, nullptr);
    note(id.status());
    if (id.ok()) {
      n->device_buffer = id.value();
      buffers_.push_back(id.value());
      note(gpu_->write_buffer(id.value(), w.data(), bytes));
    }
    return n;
  }

  // Compares `n` across the runs.
  void expect(Node* n, const std::string& what, Limit limit) {
    g().mark_output(n);
    checks_.push_back({n, what, limit, graphs_.size() - 1});
  }
  // The GPU run must record at least `n` dispatches of fused decode kernels.
  void expect_fused(uint32_t n) { st_.min_fused = n; }
  // ... and at most `n` dispatches in all (a fusion that folds a kernel
  // away entirely is seen in the count).
  void expect_max_dispatches(uint32_t n) { st_.max_dispatches = n; }
  // Its reductions must run on subgroup operations where the slot has
  // subgroups, and never elsewhere.
  void expect_subgroups() { st_.check_subgroups = true; }
  // Its split decode attentions must warm the L2 (l2_warm.wgsl) on the
  // L2-warming slot, and never elsewhere.
  void expect_l2_warm() { st_.check_l2_warm = true; }
  // Its prompt products must run as few-token matvecs (matvec4 with T
  // columns), or must not (the tiled matmul).
  void expect_few_token(bool want) { st_.want_few_token = want ? 1 : 0; }
  // The GPU must split weight `w` into at least `parts` buffers.
  void expect_parts(Node* w, uint32_t parts) {
    if (run_ == Run::gpu) {
      st_.parts.push_back({w->name, parts, gpu_->tensor_parts(w->weight_id)});
    }
  }

  const std::vector<Check>& checks() const { return checks_; }
  const Status& status() const { return status_; }
  // Records the release of the device buffers of this run (after its readbacks).
  void release_device() {
    for (const void* p : uploaded_) gpu_->release_tensor(p);
    for (uint32_t id : buffers_) gpu_->release_buffer(id);
    uploaded_.clear();
    buffers_.clear();
  }

 private:
  std::string name(const char* kind) { return strformat("%s%d", kind, counter_++); }
  void note(const Status& s) {
    if (!s.ok() && status_.ok()) status_ = s;
  }

  Blob& blob(DType type, int64_t ne0, int64_t ne1, float scale, const std::vector<float>* values) {
    if (next_ < st_.blobs.size()) return st_.blobs[next_++];
    Blob& b = st_.blobs.emplace_back();
    ++next_;
    b.type = type;
    b.ne0 = ne0;
    b.ne1 = ne1;
    std::vector<float> raw(static_cast<size_t>(ne0 * ne1));
    if (values) {
      WA_ASSERT(values->size() == raw.size());
      raw = *values;
    } else if (!is_vq(type)) {
      std::normal_distribution<float> dist(0.0f, scale);
      for (float& v : raw) v = dist(rng_);
    }
    const TypeTraits* t = type_traits(type);
    const size_t rb = row_bytes(type, ne0);
    b.bytes.resize(rb * static_cast<size_t>(ne1));
    b.values.resize(raw.size());
    if (is_vq(type) && !values) {
      for (uint8_t& x : b.bytes) x = static_cast<uint8_t>(rng_());
      const f16_bits d = fp32_to_fp16(scale / 16.0f);
      for (size_t o = t->block_bytes; o <= b.bytes.size(); o += t->block_bytes) {
        std::memcpy(b.bytes.data() + o - sizeof d, &d, sizeof d);  // d: the super-block's last field (blocks.h)
      }
    }
    for (int64_t r = 0; r < ne1; ++r) {
      if (!is_vq(type) || values) t->from_f32(raw.data() + r * ne0, b.bytes.data() + static_cast<size_t>(r) * rb, ne0);
      t->to_f32(b.bytes.data() + static_cast<size_t>(r) * rb, b.values.data() + r * ne0, ne0);
    }
    return b;
  }
  Blob& raw(DType type, const void* data, size_t bytes) {
    if (next_ < st_.blobs.size()) return st_.blobs[next_++];
    Blob& b = st_.blobs.emplace_back();
    ++next_;
    b.type = type;
    b.bytes.assign(static_cast<const uint8_t*>(data), static_cast<const uint8_t*>(data) + bytes);
    return b;
  }

  CaseState& st_;
  Run run_;
  std::mt19937 rng_;
  gpu::WebGpuBackend* gpu_;
  size_t next_ = 0;
  int counter_ = 0;
  std::deque<Graph> graphs_;  // stable: later steps' leaves point at earlier ones'
  std::vector<Check> checks_;
  std::deque<std::vector<uint8_t>> caches_;
  std::vector<const void*> uploaded_;
  std::vector<uint32_t> buffers_;
  Status status_;
};

// Whether the device has dot4I8Packed (wa_gpu_ops_init's config), for cases
// whose fusions need it.
bool g_device_packed_dot = false;

// Whether the device has subgroups: cases on slots that keep them reduce
// with subgroup operations (the `_sg` pipelines), the others through
// workgroup memory.
bool g_device_subgroups = false;

// Whether the device has shader-f16: every slot's prompt matmuls (T > 1)
// then run matmul.wgsl's f16 tiles (activations and weights rounded to f16,
// products summed in f16 over 32 terms, then in f32). SwiftShader has no
// shader-f16, so there (CI) they run in f32; on a GPU with it (the device
// machine) these cases check the f16 kernel.
bool g_device_f16 = false;
// Rounding x and the weights to f16 (relative error <= 2^-11 each) and 32-term
// f16 sums: NMSE ~1e-7 on these random data; a wrong kernel gives ~1.
constexpr double kHalfActivations = 1e-5;

// Backends with their own device configs. Without dot4I8Packed and
// subgroups (as Firefox and Safari): the f32-x matvecs and every
// workgroup-memory reduction; without subgroups only: the int8-x matvecs
// reducing through workgroup memory (few cases: the code is the same).
enum Slot : int {
  kDevice = 0,
  kSmallBinding = 1,
  kSmallGrid = 2,
  kNoPackedDotNoSubgroups = 3,
  kStorage16 = 4,
  kNoSubgroups = 5,
  kUnits = 6,
  kL2Warm = 7,
  kSlots = 8
};
const char* const kSlotNames[] = {"device",       "binding 1 MiB",          "grid 4",
                                  "no dot4I8Packed, no subgroups", "workgroup storage 16 KiB", "no subgroups",
                                  "units of 4 blocks", "L2 warming"};
// kUnits: every int8-x decode matvec forced (wa_gpu_device_config.matvec_tuning)
// to 2 rows per group, 2 units in flight and 4 consecutive blocks per unit
// (matvec4.wgsl's KU), where K's blocks are whole units.
constexpr uint32_t kUnitsTuning = 2u | 2u << 8 | 4u << 24;
bool slot_has_subgroups(Slot s) { return g_device_subgroups && s != kNoPackedDotNoSubgroups && s != kNoSubgroups; }

// Products of weights and activations. The decode matvecs (T = 1) of every
// block type (webgpu_backend.cpp's has_int8_dot) round x to int8 blocks of
// 32 where the device has dot4I8Packed (mvx_q8.wgsl), so against cpu_exact
// they differ by that rounding. The CPU rounds activations the same way for
// q8_0/q4_0/q4_1 (they then differ only where a value sits on a rounding
// tie and one side rounds it the other way: SwiftShader measures NMSE
// 1e-14, i.e. never); its other types' row dots round otherwise (k-quants
// per 256, q8_K). The kNoPackedDotNoSubgroups slot and prompts multiply f32 x.
constexpr double kSameRounding = 1e-6;
Limit product_limit(DType w, int64_t T, Slot slot) {
  if (T > 1 && g_device_f16) {
    const double cpu = is_block_quant(w) ? kActivationRounding : kHalfActivations;
    return {kHalfActivations, cpu};
  }
  if (!is_block_quant(w)) return kFloatLimit;
  const bool int8_x = T == 1 && slot != kNoPackedDotNoSubgroups;
  if (!int8_x) return {kFloat, kActivationRounding};
  const bool cpu_rounds_alike = w == DType::q8_0 || w == DType::q4_0 || w == DType::q4_1;
  return {kActivationRounding, cpu_rounds_alike ? kSameRounding : kActivationRounding};
}

struct Case {
  std::string name;
  Slot slot = kDevice;
  std::function<void(Ctx&)> build;
};

const DType kWeightTypes[] = {DType::f32, DType::f16, DType::q8_0, DType::q4_0};

std::string shape(std::initializer_list<std::pair<const char*, int64_t>> dims) {
  std::string s;
  for (const auto& [k, v] : dims) s += strformat(" %s=%lld", k, static_cast<long long>(v));
  return s;
}

void add_mul_mat(std::vector<Case>& cases, DType type, int64_t K, int64_t N, int64_t T, Slot slot = kDevice,
                 uint32_t min_parts = 1) {
  const Limit lim = product_limit(type, T, slot);
  cases.push_back({strformat("mul_mat %s%s%s", dtype_name(type), shape({{"K", K}, {"N", N}, {"T", T}}).c_str(),
                             slot == kDevice ? "" : strformat(" (%s)", kSlotNames[slot]).c_str()),
                   slot,
                   [=](Ctx& c) {
                     Node* w = c.weight(type, K, N, 0.5f);
                     Node* y = c.g().mul_mat(w, c.input(K, T));
                     c.expect(y, "y", lim);
                     if (min_parts > 1) c.expect_parts(w, min_parts);
                     if (T == 1 && K % 32 == 0) c.expect_subgroups();  // matvec4.wgsl (whole 32-weight blocks)
                     // prompts: matvec4 with T columns up to kFewTokenPrompt, else the tiled matmul
                     if (T > 1) c.expect_few_token(T <= gpu::kFewTokenPrompt && K % 32 == 0);
                   }});
}

// A P-token prefix stored into new f16 key and value caches (room for P + 2
// tokens, V transposed), its attention checked, then the next graph begun:
// the stores, for a decode step's graph to store into and read after.
std::pair<Node*, Node*> f16_cache_prefix(Ctx& c, int n_head, int n_head_kv, int hd, int P) {
  const int kvw = n_head_kv * hd, n_ctx = (P + 3) & ~1;
  const float scale = 1.0f / std::sqrt(static_cast<float>(hd));
  Node* k = c.g().kv_store(c.input(kvw, P), c.cache(DType::f16, kvw, n_ctx), 0);
  Node* v = c.g().kv_store(c.input(kvw, P), c.cache(DType::f16, n_ctx, kvw), 0, true);
  c.expect(c.g().attention(c.input(n_head * hd, P), k, v, n_head, n_head_kv, hd, 0, scale), "y (prefix)", kFloatLimit);
  c.next_graph();
  return {k, v};
}

void add_get_rows(std::vector<Case>& cases, DType type, int64_t K, int64_t rows, std::vector<int32_t> ids,
                  Slot slot = kDevice, uint32_t min_parts = 1) {
  cases.push_back({strformat("get_rows %s%s", dtype_name(type),
                             shape({{"K", K}, {"rows", rows}, {"T", static_cast<int64_t>(ids.size())}}).c_str()),
                   slot, [=](Ctx& c) {
                     Node* w = c.weight(type, K, rows);
                     c.expect(c.g().get_rows(w, c.ids(ids)), "y", get_rows_limit(type));
                     if (min_parts > 1) c.expect_parts(w, min_parts);
                   }});
}

// get_rows with hot rows (formats/hot_rows.h; get_rows_hot.wgsl): the rows
// `hot_ids` (strictly increasing) again in `hot_type`, read instead of the
// table's for those ids. The hot rows are random values of their own, not
// the table's rows re-encoded, so a lookup that reads the wrong copy (or
// the wrong hot row) is off by about the values themselves (NMSE ~1).
void add_get_rows_hot(std::vector<Case>& cases, DType type, DType hot_type, int64_t K, int64_t rows,
                      std::vector<int32_t> hot_ids, std::vector<int32_t> ids, Slot slot = kDevice,
                      uint32_t min_parts = 1) {
  const int64_t H = static_cast<int64_t>(hot_ids.size());
  const int64_t T = static_cast<int64_t>(ids.size());
  cases.push_back({strformat("get_rows %s with hot rows %s%s%s", dtype_name(type), dtype_name(hot_type),
                             shape({{"K", K}, {"rows", rows}, {"hot", H}, {"T", T}}).c_str(),
                             slot == kDevice ? "" : strformat(" (%s)", kSlotNames[slot]).c_str()),
                   slot, [=](Ctx& c) {
                     Node* w = c.weight(type, K, rows);
                     Node* hot = c.weight(hot_type, K, H, 2.0f);
                     Node* y = c.g().get_rows(w, c.ids(ids), hot, c.weight_i32(hot_ids));
                     // The hot types are flat ones: one IEEE operation per value, exact.
                     c.expect(y, "y", get_rows_limit(type));
                     if (min_parts > 1) c.expect_parts(w, min_parts);
                   }});
}

// kv_store of a prefix [0, n_past) and then of T tokens at n_past: the second
// store lands mid-row (and, in transposed f16 caches, mid-word), next to
// values the first one wrote.
void add_kv_store(std::vector<Case>& cases, DType type, bool transposed, int64_t width, int64_t n_past, int64_t T,
                  int64_t n_ctx, Slot slot = kDevice) {
  cases.push_back(
      {strformat("kv_store %s%s%s", dtype_name(type), transposed ? " transposed" : "",
                 shape({{"width", width}, {"n_past", n_past}, {"T", T}, {"n_ctx", n_ctx}}).c_str()),
       slot, [=](Ctx& c) {
         Node* cache = transposed ? c.cache(type, n_ctx, width) : c.cache(type, width, n_ctx);
         Node* stored = cache;
         if (n_past > 0) stored = c.g().kv_store(c.input(width, n_past), cache, 0, transposed);
         stored = c.g().kv_store(c.input(width, T), stored, static_cast<int>(n_past), transposed);
         // f32 stores copy; f16 stores round each value once, the CPU with
         // fp32_to_fp16 (to nearest even), the GPU with pack2x16float.
         c.expect(stored, "cache", kExactLimit);
       }});
}

void add_attention(std::vector<Case>& cases, DType type, int n_head, int n_head_kv, int hd, int n_past, int T) {
  cases.push_back(
      {strformat("attention %s%s", dtype_name(type),
                 shape({{"n_head", n_head}, {"n_head_kv", n_head_kv}, {"head_dim", hd}, {"n_past", n_past}, {"T", T}})
                     .c_str()),
       kDevice, [=](Ctx& c) {
         const int64_t kvw = int64_t{n_head_kv} * hd;
         const int64_t n_ctx = (n_past + T + 3) / 2 * 2;  // even: f16 transposed caches pack position pairs
         Node* q = c.input(int64_t{n_head} * hd, T);
         Node* kc = c.cache(type, kvw, n_ctx);
         Node* vc = c.cache(type, n_ctx, kvw);
         if (n_past > 0) {
           kc = c.g().kv_store(c.input(kvw, n_past), kc, 0);
           vc = c.g().kv_store(c.input(kvw, n_past), vc, 0, true);
         }
         kc = c.g().kv_store(c.input(kvw, T), kc, n_past);
         vc = c.g().kv_store(c.input(kvw, T), vc, n_past, true);
         Node* y = c.g().attention(q, kc, vc, n_head, n_head_kv, hd, n_past, 1.0f / std::sqrt(static_cast<float>(hd)));
         c.expect(y, "y", kFloatLimit);
       }});
}

void add_rope(std::vector<Case>& cases, RopeMode mode, int n_head, int hd, int n_rot, bool freq_factors,
              float freq_scale) {
  cases.push_back(
      {strformat("rope %s%s%s freq_scale=%g", mode == RopeMode::neox ? "neox" : "normal",
                 shape({{"n_head", n_head}, {"head_dim", hd}, {"n_rot", n_rot}}).c_str(),
                 freq_factors ? " freq_factors" : "", static_cast<double>(freq_scale)),
       kDevice, [=](Ctx& c) {
         const std::vector<int32_t> pos = {0, 3, 7, 100, 4095};
         Node* x = c.input(int64_t{n_head} * hd, static_cast<int64_t>(pos.size()));
         Node* y = c.g().rope(x, c.ids(pos), n_head, hd, n_rot, mode, 10000.0f, freq_scale);
         if (freq_factors) {
           std::vector<float> f(static_cast<size_t>(n_rot / 2));
           for (size_t i = 0; i < f.size(); ++i) f[i] = 1.0f + 0.75f * static_cast<float>(i);
           y->src[2] = c.host_f32(f);
         }
         c.expect(y, "y", kFloatLimit);
       }});
}

std::vector<Case> make_cases() {
  std::vector<Case> cases;

  // mul_mat: T = 1 is the matvec kernel, T > 16 the tiled matmul (128 x 64
  // tiles where the device has 24 KiB of workgroup storage; 64 x 64 in their
  // own slot below): T and N below, at and above one tile, not multiples of
  // it. Float weights take any K; block-quantized ones multiples of 32.
  for (DType t : kWeightTypes) {
    const bool q = is_block_quant(t);
    add_mul_mat(cases, t, q ? 96 : 67, 13, 1);
    add_mul_mat(cases, t, q ? 160 : 67, 77, 1);
    if (q) add_mul_mat(cases, t, 160, 77, 1, kNoPackedDotNoSubgroups);  // f32 x
    add_mul_mat(cases, t, q ? 160 : 13, 77, 5);
    add_mul_mat(cases, t, q ? 32 : 13, 77, 70);
    add_mul_mat(cases, t, q ? 320 : 300, 33, 67);
  }
  // Prompts of at most kFewTokenPrompt tokens: matvec4 with up to
  // kMatvecTokens columns per dispatch (the fewest and most one dispatch
  // takes, one more: two dispatches, the second of one token; the most
  // two take, one more: the tiled matmul), with the row totals through
  // workgroup memory (no subgroups), for a type with a block format and a
  // float one (T = 5 above too, and the views below).
  add_mul_mat(cases, DType::q4_0, 160, 77, 2);
  add_mul_mat(cases, DType::q4_0, 160, 77, 8);
  add_mul_mat(cases, DType::q4_0, 160, 77, 9);
  add_mul_mat(cases, DType::q4_0, 160, 77, 16);
  add_mul_mat(cases, DType::q4_0, 160, 77, 17);
  add_mul_mat(cases, DType::q8_0, 96, 13, 8, kNoSubgroups);
  add_mul_mat(cases, DType::q3_k, 512, 37, 6);
  add_mul_mat(cases, DType::f16, 64, 21, 4, kNoPackedDotNoSubgroups);
  // Both dimensions over several tiles, ragged (one type: every loader
  // already fills its second 64-row slab where N > 64 above).
  add_mul_mat(cases, DType::q4_0, 64, 130, 131);
  // The bit-plane types (q4_1, q5_0, q5_1, q2_K .. q6_K; k-quant rows are
  // whole 256-weight super-blocks). Every type's block format runs in
  // matvec4 (block_dot; rows not a multiple of a workgroup's 32) and in
  // get_rows (block_value, through w_planes.wgsl), after repack_q.wgsl. The
  // kernels around them are the same code for every type, and each new
  // pipeline costs seconds of compilation on SwiftShader, so they run for
  // one type each, one with two scale words (and, but for q4_K, grouped
  // blocks and 16-weight sub-blocks): the tiled matmul over two row tiles;
  // matvec.wgsl, which takes x that is not 16-byte aligned (here the first K
  // values of a column of a [K + 1, 3] activation, at an odd offset); the
  // fused Q/K/V matvecs and SwiGLU. (js/test/webgpu_model.test.mjs runs
  // q4_K and q5_1 models, prompts and decode, on top.)
  auto plane_k = [](DType t) -> int64_t { return block_size(t) == 32 ? 96 : 512; };
  const Limit plane_lim{kFloat, kActivationRounding};
  for (DType t : kPlaneTypes) {
    add_mul_mat(cases, t, plane_k(t), 13, 1);
    if (t == DType::q4_k) add_mul_mat(cases, t, plane_k(t), 13, 1, kNoPackedDotNoSubgroups);  // the f32-x path
    add_get_rows(cases, t, plane_k(t), 37, {36, 0, 5, 5, 17, 36, 1});
  }
  add_mul_mat(cases, DType::q4_k, 512, 77, 5);
  cases.push_back({"mul_mat q6_K unaligned x (matvec.wgsl) K=512 N=19", kDevice, [=](Ctx& c) {
                     Node* x = c.g().view_cols(c.input(513, 3), 1, 1);
                     x->ne[0] = 512;  // the column's first 512 values, at offset 513
                     c.expect(c.g().mul_mat(c.weight(DType::q6_k, 512, 19, 0.5f), x), "y", plane_lim);
                   }});
  // The vector-quantized types (wa_vq2, wa_vq3: mv4_vq.wgsl, with the
  // codebook in a buffer of its own, bound besides the weights) through every
  // kernel that reads a block format: matvec4 with int8 and with f32 x
  // (rows of 3 super-blocks, so the pairs of super-blocks that share a scale
  // word span rows, and 13 rows: the last pair is half), the tiled matmul,
  // get_rows, matvec.wgsl (unaligned x); the fused decode kernels below;
  // split weights and folded grids at the end.
  for (DType t : kVqTypes) {
    add_mul_mat(cases, t, 768, 13, 1);
    add_mul_mat(cases, t, 768, 13, 1, kNoPackedDotNoSubgroups);  // f32 x
    add_mul_mat(cases, t, 512, 77, 5);
    add_get_rows(cases, t, 768, 37, {36, 0, 5, 5, 17, 36, 1});
    cases.push_back({strformat("mul_mat %s unaligned x (matvec.wgsl) K=512 N=19", dtype_name(t)), kDevice,
                     [=](Ctx& c) {
                       Node* x = c.g().view_cols(c.input(513, 3), 1, 1);
                       x->ne[0] = 512;  // the column's first 512 values, at offset 513
                       c.expect(c.g().mul_mat(c.weight(t, 512, 19, 0.5f), x), "y", plane_lim);
                     }});
  }
  for (DType t : {DType::q3_k, DType::wa_vq2, DType::wa_vq3}) {
    const Limit plane_decode_lim = product_limit(t, 1, kDevice);
    cases.push_back({strformat("fused matvecs of one x N=40,24,24 and swiglu N=40 %s K=256", dtype_name(t)), kDevice,
                     [=](Ctx& c) {
                     Node* x = c.input(256, 1);
                     Node* q = c.g().mul_mat(c.weight(t, 256, 40, 0.5f), x);
                     Node* k = c.g().mul_mat(c.weight(t, 256, 24, 0.5f), x);
                     Node* v = c.g().mul_mat(c.weight(t, 256, 24, 0.5f), x);
                     c.expect(c.g().scale(q, 1.0f), "q", plane_decode_lim);
                     c.expect(c.g().scale(k, 1.0f), "k", plane_decode_lim);
                     c.expect(c.g().scale(v, 1.0f), "v", plane_decode_lim);
                     Node* x2 = c.input(256, 1);
                     Node* g = c.g().mul_mat(c.weight(t, 256, 40, 0.5f), x2);
                     Node* u = c.g().mul_mat(c.weight(t, 256, 40, 0.5f), x2);
                     c.expect(c.g().swiglu(g, u), "swiglu", plane_decode_lim);
                     c.expect_fused(2);
                   }});
  }

  // Views: a matmul over columns 2..4 of an activation (offset and stride
  // into the arena), and argmax over the last column of a matmul's output
  // (the model's last-token logits).
  for (DType t : {DType::f16, DType::q8_0}) {
    const Limit lim = product_limit(t, 3, kDevice);
    cases.push_back({strformat("mul_mat %s over a view K=64 N=19 T=3 of 7", dtype_name(t)), kDevice, [=](Ctx& c) {
                       Node* x = c.input(64, 7);
                       c.expect(c.g().mul_mat(c.weight(t, 64, 19, 0.5f), c.g().view_cols(x, 2, 3)), "y", lim);
                     }});
  }
  // Decode fusions (webgpu_backend.cpp's mark_fusions): SwiGLU of two
  // matvecs (matvec4.wgsl MODE 1), and three matvecs of one x with different
  // row counts (matvec4.wgsl MODE 2, attention's Q, K, V with grouped KV
  // heads). expect_fused fails the case if the backend ran them unfused.
  for (const auto& ts :
       {std::pair{DType::f32, kDevice}, {DType::q4_0, kDevice}, {DType::q4_0, kNoPackedDotNoSubgroups}}) {
    const DType t = ts.first;  // (clang 14 lambdas cannot capture structured bindings)
    const Slot slot = ts.second;
    const Limit lim = product_limit(t, 1, slot);
    const std::string on = slot == kDevice ? "" : std::string(" on ") + kSlotNames[slot];
    cases.push_back({strformat("fused swiglu of two matvecs %s K=96 N=77%s", dtype_name(t), on.c_str()), slot, [=](Ctx& c) {
                       Node* x = c.input(96, 1);
                       Node* g = c.g().mul_mat(c.weight(t, 96, 77, 0.5f), x);
                       Node* u = c.g().mul_mat(c.weight(t, 96, 77, 0.5f), x);
                       c.expect(c.g().swiglu(g, u), "y", lim);
                       c.expect_fused(1);
                       c.expect_subgroups();
                     }});
    cases.push_back({strformat("fused matvecs of one x %s K=128 N=96,40,40%s", dtype_name(t), on.c_str()), slot, [=](Ctx& c) {
                       Node* x = c.input(128, 1);
                       Node* q = c.g().mul_mat(c.weight(t, 128, 96, 0.5f), x);
                       Node* k = c.g().mul_mat(c.weight(t, 128, 40, 0.5f), x);
                       Node* v = c.g().mul_mat(c.weight(t, 128, 40, 0.5f), x);
                       // read through scale so that the matvecs are no outputs
                       c.expect(c.g().scale(q, 1.0f), "q", lim);
                       c.expect(c.g().scale(k, 1.0f), "k", lim);
                       c.expect(c.g().scale(v, 1.0f), "v", lim);
                       c.expect_fused(1);
                       c.expect_subgroups();
                     }});
  }
  // RMSNorm computed by the matvecs that read it (matvec4.wgsl NORM): for
  // Q/K/V, gate/up and a single matvec, where h is read again later (as by
  // the residual add), and not fused where the norm is h's last reader. K =
  // 2144 (67 blocks) runs the blocks-in-flight loop and its tail.
  // (vq types: rows of whole super-blocks, K rounded up to 256: 2304 is 72
  // blocks, the loop and its tail too)
  for (const auto& ts : {std::pair{DType::f32, kDevice}, {DType::q4_0, kDevice}, {DType::q8_0, kDevice},
                         {DType::q4_0, kNoPackedDotNoSubgroups}, {DType::q8_0, kNoPackedDotNoSubgroups},
                         {DType::wa_vq2, kDevice}, {DType::wa_vq3, kDevice}}) {
    const DType t = ts.first;
    const Slot slot = ts.second;
    const Limit lim = product_limit(t, 1, slot);
    const std::string on = slot == kDevice ? "" : std::string(" on ") + kSlotNames[slot];
    const int64_t bs = block_size(t);
    auto fit = [bs](int64_t k) { return (k + bs - 1) / bs * bs; };
    for (int64_t K : {fit(128), fit(2144)}) {
      cases.push_back({strformat("fused rms_norm + matvecs of one x %s K=%lld N=96,40,40%s", dtype_name(t), (long long)K, on.c_str()),
                       slot, [=](Ctx& c) {
                         Node* h = c.input(K, 1, 2.0f);
                         Node* n = c.g().rms_norm(h, c.weight(DType::f32, K, 1), 1e-5f);
                         Node* q = c.g().mul_mat(c.weight(t, K, 96, 0.5f), n);
                         Node* k = c.g().mul_mat(c.weight(t, K, 40, 0.5f), n);
                         Node* v = c.g().mul_mat(c.weight(t, K, 40, 0.5f), n);
                         c.expect(c.g().scale(q, 1.0f), "q", lim);
                         c.expect(c.g().scale(k, 1.0f), "k", lim);
                         c.expect(c.g().scale(v, 1.0f), "v", lim);
                         c.expect(c.g().scale(h, 1.0f), "h", kExactLimit);
                         c.expect_fused(2);
                         c.expect_subgroups();
                       }});
      cases.push_back({strformat("fused rms_norm + swiglu of two matvecs %s K=%lld N=77%s", dtype_name(t), (long long)K, on.c_str()),
                       slot, [=](Ctx& c) {
                         Node* h = c.input(K, 1, 2.0f);
                         Node* n = c.g().rms_norm(h, c.weight(DType::f32, K, 1), 1e-5f);
                         Node* g = c.g().mul_mat(c.weight(t, K, 77, 0.5f), n);
                         Node* u = c.g().mul_mat(c.weight(t, K, 77, 0.5f), n);
                         c.expect(c.g().swiglu(g, u), "y", lim);
                         c.expect(c.g().scale(h, 1.0f), "h", kExactLimit);
                         c.expect_fused(2);
                         c.expect_subgroups();
                       }});
    }
    const int64_t K1 = fit(96);
    cases.push_back({strformat("fused rms_norm + one matvec %s K=%lld N=45%s", dtype_name(t), (long long)K1, on.c_str()), slot, [=](Ctx& c) {
                       Node* h = c.input(K1, 1, 2.0f);
                       Node* n = c.g().rms_norm(h, c.weight(DType::f32, K1, 1), 1e-5f);
                       c.expect(c.g().scale(c.g().mul_mat(c.weight(t, K1, 45, 0.5f), n), 1.0f), "y", lim);
                       c.expect(c.g().scale(h, 1.0f), "h", kExactLimit);
                       c.expect_fused(1);
                     }});
    cases.push_back({strformat("rms_norm, h's last reader, + one matvec %s K=%lld N=45%s", dtype_name(t), (long long)K1, on.c_str()), slot,
                     [=](Ctx& c) {
                       Node* n = c.g().rms_norm(c.input(K1, 1, 2.0f), c.weight(DType::f32, K1, 1), 1e-5f);
                       c.expect(c.g().scale(c.g().mul_mat(c.weight(t, K1, 45, 0.5f), n), 1.0f), "y", lim);
                       c.expect_subgroups();
                     }});
  }
  // Units of 4 consecutive blocks (kUnits), 2 in flight: K = 4608 is 36
  // units, so lanes 0..3 run the units-in-flight loop and the others its
  // tail; K = 4672 (146 blocks) is not whole units and runs with units of 1.
  for (DType t : {DType::q2_k, DType::q3_k, DType::q4_k, DType::q4_0}) {
    const Limit lim = product_limit(t, 1, kUnits);
    cases.push_back({strformat("fused rms_norm + matvecs of one x %s K=4608 N=96,40,40 on %s", dtype_name(t),
                               kSlotNames[kUnits]),
                     kUnits, [=](Ctx& c) {
                       Node* h = c.input(4608, 1, 2.0f);
                       Node* n = c.g().rms_norm(h, c.weight(DType::f32, 4608, 1), 1e-5f);
                       Node* q = c.g().mul_mat(c.weight(t, 4608, 96, 0.5f), n);
                       Node* k = c.g().mul_mat(c.weight(t, 4608, 40, 0.5f), n);
                       Node* v = c.g().mul_mat(c.weight(t, 4608, 40, 0.5f), n);
                       c.expect(c.g().scale(q, 1.0f), "q", lim);
                       c.expect(c.g().scale(k, 1.0f), "k", lim);
                       c.expect(c.g().scale(v, 1.0f), "v", lim);
                       c.expect(c.g().scale(h, 1.0f), "h", kExactLimit);  // h read again: the norm is fused
                       c.expect_fused(2);
                       c.expect_subgroups();
                     }});
    cases.push_back({strformat("fused swiglu of two matvecs %s K=4608 N=77 on %s", dtype_name(t), kSlotNames[kUnits]),
                     kUnits, [=](Ctx& c) {
                       Node* x = c.input(4608, 1);
                       Node* g = c.g().mul_mat(c.weight(t, 4608, 77, 0.5f), x);
                       Node* u = c.g().mul_mat(c.weight(t, 4608, 77, 0.5f), x);
                       c.expect(c.g().swiglu(g, u), "y", lim);
                       c.expect_fused(1);
                       c.expect_subgroups();
                     }});
  }
  add_mul_mat(cases, DType::q4_0, 4672, 45, 1, kUnits);

  // int8 x with workgroup-memory row totals (the slot above has f32 x):
  // both matrices' and h . h's totals, over the blocks-in-flight loop and its tail.
  cases.push_back({"fused rms_norm + swiglu of two matvecs q4_0 K=2144 N=77 (no subgroups)", kNoSubgroups,
                   [](Ctx& c) {
                     const DType t = DType::q4_0;
                     Node* h = c.input(2144, 1, 2.0f);
                     Node* n = c.g().rms_norm(h, c.weight(DType::f32, 2144, 1), 1e-5f);
                     Node* g = c.g().mul_mat(c.weight(t, 2144, 77, 0.5f), n);
                     Node* u = c.g().mul_mat(c.weight(t, 2144, 77, 0.5f), n);
                     c.expect(c.g().swiglu(g, u), "y", product_limit(t, 1, kNoSubgroups));
                     c.expect(c.g().scale(h, 1.0f), "h", kExactLimit);
                     c.expect_fused(2);
                     c.expect_subgroups();
                   }});
  cases.push_back({"rms_norm over a view D=40 T=2 of 5", kDevice, [](Ctx& c) {
                     Node* x = c.g().view_cols(c.input(40, 5), 3, 2);
                     c.expect(c.g().rms_norm(x, c.weight(DType::f32, 40, 1), 1e-6f), "y", kFloatLimit);
                   }});
  cases.push_back({"argmax over a view (last column of a matmul's output) N=301 T=4", kDevice, [](Ctx& c) {
                     Node* y = c.g().mul_mat(c.weight(DType::f32, 32, 301), c.input(32, 4));
                     c.expect(c.g().argmax(c.g().view_cols(y, 3, 1)), "id", kExactLimit);
                   }});

  // get_rows: every table type, odd widths where the type allows, repeated
  // ids and the last row.
  for (DType t : kWeightTypes) {
    add_get_rows(cases, t, is_block_quant(t) ? 96 : 37, 37, {36, 0, 5, 5, 17, 36, 1});
  }
  // get_rows with hot rows (q8_0 as quantize writes them; f16 and f32 once:
  // any flat type may be hot): ids that hit the hot table and their
  // neighbours that miss it, the first and last hot ids (the table's first
  // and last rows in places), a hot table of one row, most rows hot (the
  // search's longer walks), repeated ids; the low-bit tables of hot-row
  // files and the vq codebook's binding after the hot ones; a q8_0 table
  // beside q8_0 hot rows (both access functions in one kernel).
  add_get_rows_hot(cases, DType::q4_0, DType::q8_0, 96, 37, {0, 5, 17, 36}, {36, 0, 5, 4, 6, 17, 18, 35, 1, 5});
  add_get_rows_hot(cases, DType::q2_k, DType::q8_0, 256, 37, {3, 4, 20}, {2, 3, 4, 5, 19, 20, 21, 36, 0});
  add_get_rows_hot(cases, DType::q3_k, DType::q8_0, 512, 37, {17}, {16, 17, 18, 17, 0, 36});
  {
    std::vector<int32_t> most, all;
    for (int32_t i = 0; i < 37; ++i) {
      if (i % 5 != 2) most.push_back(i);
      all.push_back(36 - i);
    }
    add_get_rows_hot(cases, DType::q4_k, DType::q8_0, 256, 37, most, all);
  }
  add_get_rows_hot(cases, DType::wa_vq3, DType::q8_0, 768, 37, {1, 36}, {36, 0, 1, 2, 35});
  add_get_rows_hot(cases, DType::q8_0, DType::q8_0, 96, 13, {12}, {12, 11, 0});
  add_get_rows_hot(cases, DType::q4_0, DType::q8_0, 64, 37, {30}, {30});  // one token (a decode step's lookup)
  add_get_rows_hot(cases, DType::q4_0, DType::f16, 64, 37, {2, 30}, {30, 2, 3, 29, 31});
  add_get_rows_hot(cases, DType::f16, DType::f32, 37, 37, {0, 9, 10}, {9, 10, 11, 8, 0, 36});  // odd width

  // rms_norm: widths below, at and above one workgroup (256 lanes).
  for (int64_t d : {5, 13, 256, 1001}) {
    cases.push_back({strformat("rms_norm%s", shape({{"D", d}, {"T", 3}}).c_str()), kDevice, [=](Ctx& c) {
                       c.expect(c.g().rms_norm(c.input(d, 3, 2.0f), c.weight(DType::f32, d, 1), 1e-5f), "y",
                                kFloatLimit);
                     }});
  }

  // Elementwise: activation operands, broadcast columns (an activation of one
  // column, a weight bias), D below and above one workgroup.
  for (int64_t d : {13, 300}) {
    const int64_t T = d == 13 ? 7 : 3;
    const std::string s = shape({{"D", d}, {"T", T}});
    cases.push_back({"add" + s, kDevice, [=](Ctx& c) {
                       c.expect(c.g().add(c.input(d, T), c.input(d, T)), "y", kExactLimit);
                     }});
    cases.push_back({"add broadcast activation column" + s, kDevice, [=](Ctx& c) {
                       c.expect(c.g().add(c.input(d, T), c.input(d, 1)), "y", kExactLimit);
                     }});
    cases.push_back({"add weight bias" + s, kDevice, [=](Ctx& c) {
                       c.expect(c.g().add(c.input(d, T), c.weight(DType::f32, d, 1)), "y", kExactLimit);
                     }});
    cases.push_back({"mul" + s, kDevice, [=](Ctx& c) {
                       c.expect(c.g().mul(c.input(d, T), c.input(d, T)), "y", kExactLimit);
                     }});
    cases.push_back({"mul weight broadcast" + s, kDevice, [=](Ctx& c) {
                       c.expect(c.g().mul(c.input(d, T), c.weight(DType::f32, d, 1)), "y", kExactLimit);
                     }});
    cases.push_back({"scale" + s, kDevice, [=](Ctx& c) {
                       c.expect(c.g().scale(c.input(d, T), 0.37f), "y", kExactLimit);
                     }});
    cases.push_back({"silu" + s, kDevice, [=](Ctx& c) {
                       c.expect(c.g().silu(c.input(d, T, 3.0f)), "y", kFloatLimit);
                     }});
    cases.push_back({"swiglu" + s, kDevice, [=](Ctx& c) {
                       c.expect(c.g().swiglu(c.input(d, T, 3.0f), c.input(d, T)), "y", kFloatLimit);
                     }});
  }

  // rope: both modes, partial rotation (n_rot < head_dim: the rest is
  // copied), frequency factors, frequency scaling, positions up to 4095,
  // more pairs than one workgroup.
  add_rope(cases, RopeMode::normal, 3, 16, 16, false, 1.0f);
  add_rope(cases, RopeMode::normal, 3, 16, 8, true, 0.5f);
  add_rope(cases, RopeMode::neox, 3, 16, 16, false, 1.0f);
  add_rope(cases, RopeMode::neox, 3, 16, 8, true, 1.0f);
  add_rope(cases, RopeMode::neox, 5, 128, 64, false, 0.25f);
  add_rope(cases, RopeMode::normal, 2, 64, 48, true, 1.0f);

  // kv_store: f32 and f16 caches, key rows and transposed value rows, a
  // prompt at 0, a batch after an odd prefix, one token at an odd position.
  for (DType t : {DType::f32, DType::f16}) {
    for (bool transposed : {false, true}) {
      add_kv_store(cases, t, transposed, 24, 0, 5, 16);
      add_kv_store(cases, t, transposed, 24, 3, 4, 16);
      add_kv_store(cases, t, transposed, 24, 7, 1, 16);
    }
  }

  // attention: f32 and f16 caches; decode and prompts; n_past 0, small and
  // beyond one 64-key chunk; query heads per KV head 1 to 4; head_dim up to
  // the kernel's 256; T above the CPU's 64-token prefill block. Prompts run
  // attention.wgsl in blocks of 64 queries over tiles of 32 keys: odd T over
  // several blocks (a partial last one), n_past not a multiple of the tile,
  // head_dim 64 and 128 (LLaMA's) and ones that are not whole 16- or 32-dim
  // steps (80, 18); decode takes it where the split kernel can't (18).
  for (DType t : {DType::f32, DType::f16}) {
    add_attention(cases, t, 4, 4, 16, 0, 1);
    add_attention(cases, t, 4, 2, 32, 9, 1);
    add_attention(cases, t, 6, 2, 64, 70, 1);
    add_attention(cases, t, 4, 1, 80, 0, 5);
    add_attention(cases, t, 2, 2, 128, 7, 5);
    add_attention(cases, t, 2, 1, 16, 3, 70);
    add_attention(cases, t, 2, 1, 256, 1, 2);
    add_attention(cases, t, 4, 2, 64, 13, 131);
    add_attention(cases, t, 2, 1, 128, 0, 67);
    add_attention(cases, t, 4, 1, 128, 40, 33);
    add_attention(cases, t, 3, 3, 18, 5, 1);
    add_attention(cases, t, 2, 1, 18, 0, 9);
  }

  // Decode's fused RoPE(q), RoPE(k) -> key cache, v -> value cache, as a
  // model builds them: a prefix of P tokens stored first, then one token at
  // position P and one at P + 1, grouped KV heads, partial rotation, both
  // RoPE modes. With head_dim % 4 == 0 the split decode attention does all
  // of it (as_rope_kv.wgsl), else (30) rope_kv.wgsl does; P = 5 puts the new key
  // in the first chunk of 32 and an f16 value word's other half at P - 1,
  // P = 40 in the second chunk. The step at P + 1 reads what the step at P
  // stored (the outputs are the attention results).
  for (DType t : {DType::f32, DType::f16}) {
    for (RopeMode mode : {RopeMode::normal, RopeMode::neox}) {
      for (const auto& [P, hd] : {std::pair{5, 32}, {40, 32}, {5, 30}}) {
        cases.push_back(
            {strformat("fused rope + kv stores (decode) %s %s n_head=4 n_head_kv=2 head_dim=%d n_rot=24 P=%d",
                       dtype_name(t), mode == RopeMode::neox ? "neox" : "normal", hd, P),
             kDevice, [=, P = P, hd = hd](Ctx& c) {
               const int n_head = 4, n_head_kv = 2, n_rot = 24, kvw = n_head_kv * hd;
               const int n_ctx = (P + 3) & ~1;
               const float scale = 1.0f / std::sqrt(static_cast<float>(hd));
               Node* kc = c.cache(t, kvw, n_ctx);
               Node* vc = c.cache(t, n_ctx, kvw);
               Node* k_prev = c.g().kv_store(c.input(kvw, P), kc, 0);
               Node* v_prev = c.g().kv_store(c.input(kvw, P), vc, 0, true);
               c.expect(c.g().attention(c.input(n_head * hd, P), k_prev, v_prev, n_head, n_head_kv, hd, 0, scale),
                        "y (prefix)", kFloatLimit);
               for (int pos : {P, P + 1}) {
                 c.next_graph();
                 // q, k and v first, as a model's matvecs make them
                 Node* qin = c.input(n_head * hd, 1);
                 Node* kin = c.input(kvw, 1);
                 Node* vin = c.input(kvw, 1);
                 Node* ids = c.ids({pos});
                 Node* q = c.g().rope(qin, ids, n_head, hd, n_rot, mode, 10000.0f, 1.0f);
                 Node* k = c.g().rope(kin, ids, n_head_kv, hd, n_rot, mode, 10000.0f, 1.0f);
                 k_prev = c.g().kv_store(k, c.same_cache(k_prev), pos);
                 v_prev = c.g().kv_store(vin, c.same_cache(v_prev), pos, true);
                 // An f16 cache stores the rotated k once rounded: where a GPU's
                 // sin/cos differ from the CPU's in the last bits (NVIDIA's do;
                 // SwiftShader's match), a value near a rounding step lands one
                 // f16 ulp (2^-11) away. Measured on an H100: NMSE up to 1.8e-8.
                 const Limit lim = t == DType::f16 ? Limit{kF16CacheRounding, kF16CacheRounding} : kFloatLimit;
                 c.expect(c.g().attention(q, k_prev, v_prev, n_head, n_head_kv, hd, pos, scale),
                          strformat("y (decode at %d)", pos), lim);
               }
               c.expect_fused(2);
               // two per decode graph: the split attention with the rope
               // folded in + its combine (head_dim % 4 == 0), or rope_kv +
               // attention.wgsl (30); a split attention after rope_kv.wgsl
               // would take three
               c.expect_max_dispatches(16);
             }});
      }
    }
  }

  // A decode layer's attention as a model builds it: RoPE and the cache
  // stores folded into the split attention, the o projection (merging the
  // chunks itself where it takes int8 x) and the residual add; with L2
  // warming (the slot's l2_warm), extra workgroups of the attention read
  // the o projection's weights (l2_warm.wgsl), which must change nothing.
  // With the whole layer (the norm, gate/up + SwiGLU, down + residual
  // after it), the o projection's extra workgroups also read the start of
  // the gate and up matrices (mv4_warm.wgsl), which must change nothing.
  struct LayerCase {
    DType t;
    int P;
    bool whole_layer;
  };
  for (Slot slot : {kDevice, kL2Warm}) {
    for (const LayerCase& lc : {LayerCase{DType::q4_0, 5, false}, LayerCase{DType::q4_0, 40, false},
                                LayerCase{DType::f16, 40, false}, LayerCase{DType::q4_0, 5, true},
                                LayerCase{DType::q4_0, 40, true}}) {
      cases.push_back(
          {strformat(lc.whole_layer
                         ? "decode layer: attention + o projection + residual + norm + swiglu + down %s P=%d on %s"
                         : "decode layer attention: fused rope + kv stores + attention + o projection + residual %s P=%d on %s",
                     dtype_name(lc.t), lc.P, kSlotNames[slot]),
           slot, [=](Ctx& c) {
             const DType t = lc.t;
             const int P = lc.P;
             const int n_head = 4, n_head_kv = 2, hd = 32, n_rot = 32, kvw = n_head_kv * hd;
             const float scale = 1.0f / std::sqrt(static_cast<float>(hd));
             auto [kc, vc] = f16_cache_prefix(c, n_head, n_head_kv, hd, P);
             // q, k and v first, as a model's matvecs make them
             Node* qin = c.input(n_head * hd, 1);
             Node* kin = c.input(kvw, 1);
             Node* vin = c.input(kvw, 1);
             Node* ids = c.ids({P});
             Node* q = c.g().rope(qin, ids, n_head, hd, n_rot, RopeMode::normal, 10000.0f, 1.0f);
             Node* k = c.g().rope(kin, ids, n_head_kv, hd, n_rot, RopeMode::normal, 10000.0f, 1.0f);
             kc = c.g().kv_store(k, c.same_cache(kc), P);
             vc = c.g().kv_store(vin, c.same_cache(vc), P, true);
             Node* a = c.g().attention(q, kc, vc, n_head, n_head_kv, hd, P, scale);
             Node* y = c.g().add(c.input(96, 1), c.g().mul_mat(c.weight(t, n_head * hd, 96, 0.5f), a));
             if (lc.whole_layer) {
               Node* n = c.g().rms_norm(y, c.weight(DType::f32, 96, 1), 1e-5f);
               Node* g = c.g().mul_mat(c.weight(t, 96, 64, 0.5f), n);
               Node* u = c.g().mul_mat(c.weight(t, 96, 64, 0.5f), n);
               y = c.g().add(y, c.g().mul_mat(c.weight(t, 64, 96, 0.5f), c.g().swiglu(g, u)));
             }
             const Limit lim = product_limit(t, 1, slot);
             c.expect(y, lc.whole_layer ? "out" : "y",
                      {std::max(lim.exact, kF16CacheRounding), std::max(lim.cpu, kF16CacheRounding)});
             c.expect_l2_warm();
           }});
    }
  }

  // The o projection after a split decode attention merging the
  // attention's chunks itself (mvx_from_attention.wgsl; int8 x, so q8_0 and
  // q4_0 weights) with the residual add, for 1, 2 and 3 chunks of 32 keys
  // (the merge takes two chunks at a time), and not for 10 (more than the
  // backend folds). Where dot4I8Packed is missing
  // nothing is folded (the "no dot4I8Packed" slot).
  for (DType t : {DType::q8_0, DType::q4_0}) {
    for (int P : {5, 40, 70, 300}) {
      for (Slot slot : {kDevice, kNoPackedDotNoSubgroups}) {
        if (slot == kNoPackedDotNoSubgroups && (t != DType::q4_0 || P != 40)) continue;
        const std::string on = slot == kDevice ? "" : std::string(" on ") + kSlotNames[slot];
        cases.push_back(
            {strformat("decode attention + o projection + residual %s n_head=4 n_head_kv=2 head_dim=32 P=%d%s",
                       dtype_name(t), P, on.c_str()),
             slot, [=](Ctx& c) {
               const int n_head = 4, n_head_kv = 2, hd = 32, kvw = n_head_kv * hd;
               const float scale = 1.0f / std::sqrt(static_cast<float>(hd));
               const auto [k1, v1] = f16_cache_prefix(c, n_head, n_head_kv, hd, P);
               Node* k2 = c.g().kv_store(c.input(kvw, 1), c.same_cache(k1), P);
               Node* v2 = c.g().kv_store(c.input(kvw, 1), c.same_cache(v1), P, true);
               Node* a = c.g().attention(c.input(n_head * hd, 1), k2, v2, n_head, n_head_kv, hd, P, scale);
               Node* y = c.g().add(c.input(40, 1), c.g().mul_mat(c.weight(t, n_head * hd, 40, 0.5f), a));
               c.expect(y, "y", product_limit(t, 1, slot));
               // 16 with attention_combine.wgsl, 15 where the matvec merges
               if (slot == kDevice && P <= 70 && g_device_packed_dot) c.expect_max_dispatches(15);
             }});
      }
    }
  }

  // A prompt in two batches recorded into one stream, as a session evaluates
  // a long prompt: the second graph's attention reads what the first stored
  // in the caches, and its activations (a 1024 x 400 add beside the
  // attention) outgrow the arena, which is replaced mid-stream while the
  // first graph's readback still reads the old one.
  for (DType t : {DType::f32, DType::f16}) {
    cases.push_back({strformat("attention %s, a prompt in two graphs of one stream (6 + 5 tokens; arena growth)",
                               dtype_name(t)),
                     kDevice, [=](Ctx& c) {
                       const int n_head = 4, n_head_kv = 2, hd = 32, kvw = n_head_kv * hd;
                       const float scale = 1.0f / std::sqrt(static_cast<float>(hd));
                       Node* kc = c.cache(t, kvw, 12);
                       Node* vc = c.cache(t, 12, kvw);
                       Node* k1 = c.g().kv_store(c.input(kvw, 6), kc, 0);
                       Node* v1 = c.g().kv_store(c.input(kvw, 6), vc, 0, true);
                       c.expect(c.g().attention(c.input(n_head * hd, 6), k1, v1, n_head, n_head_kv, hd, 0, scale),
                                "y (first graph)", kFloatLimit);
                       c.next_graph();
                       Node* k2 = c.g().kv_store(c.input(kvw, 5), c.same_cache(k1), 6);
                       Node* v2 = c.g().kv_store(c.input(kvw, 5), c.same_cache(v1), 6, true);
                       c.expect(c.g().attention(c.input(n_head * hd, 5), k2, v2, n_head, n_head_kv, hd, 6, scale),
                                "y (second graph)", kFloatLimit);
                       c.expect(c.g().add(c.input(1024, 400), c.input(1024, 400)), "large add (second graph)",
                                kExactLimit);
                     }});
  }

  // argmax: below, at and above one workgroup's lanes; ties go to the first
  // index, as the CPU sampler decides.
  for (int64_t n : {5, 256, 4099}) {
    cases.push_back({strformat("argmax n=%lld", static_cast<long long>(n)), kDevice, [=](Ctx& c) {
                       c.expect(c.g().argmax(c.input(n, 1)), "id", kExactLimit);
                     }});
  }
  cases.push_back({"argmax ties n=1000", kDevice, [](Ctx& c) {
                     std::vector<float> v(1000);
                     for (size_t i = 0; i < v.size(); ++i) v[i] = static_cast<float>((i * 37) % 101) * 0.01f;
                     for (size_t i : {900u, 300u, 301u, 700u}) v[i] = 5.0f;
                     c.expect(c.g().argmax(c.input(1000, 1, 1.0f, &v)), "id", kExactLimit);
                   }});

  // sample (sample.wgsl against core/sampling.h): every candidate of a small
  // vocabulary; a vocabulary that fits the kernel's candidate store (sorted
  // whole) and ones that do not (the top-k cut from the histogram near the
  // largest logit, and from a wider one where logits spread over more than
  // its first range); the largest top-k the kernel takes; more near-equal
  // logits at the cut than fit (the bisection over keys); and more exact
  // ties at the cut than fit (then a bisection over ids). A draw near 1 at a
  // high temperature with top-p and min-p off picks the last candidate kept,
  // the k-th largest logit: that checks the cut itself (a wrong cut moves
  // the draw's id only there); other draws check the walk, top-p and min-p.
  struct SampleCase {
    const char* what;
    int64_t n;
    float scale;  // of the random logits
    wa::SamplingParams p;
    float u;
  };
  constexpr float kLast = 0.99999f;
  for (const SampleCase& sc : {SampleCase{"all", 5, 4.0f, {1.0f, 0, 1.0f, 0.0f}, 0.7f},
                               SampleCase{"sorted whole", 1000, 4.0f, {0.8f, 40, 0.95f, 0.05f}, 0.6f},
                               SampleCase{"sorted whole, the k-th", 1000, 4.0f, {100.0f, 40, 1.0f, 0.0f}, kLast},
                               SampleCase{"histogram", 4099, 4.0f, {1.2f, 300, 0.9f, 0.0f}, 0.3f},
                               SampleCase{"histogram, the k-th", 4099, 4.0f, {100.0f, 300, 1.0f, 0.0f}, kLast},
                               SampleCase{"histogram, small k", 4099, 4.0f, {0.7f, 7, 0.98f, 0.01f}, 0.05f},
                               SampleCase{"histogram, small k, the k-th", 4099, 4.0f, {100.0f, 7, 1.0f, 0.0f}, kLast},
                               SampleCase{"largest k, the k-th", 4099, 4.0f, {1000.0f, kDeviceSamplingMaxCandidates, 1.0f, 0.0f}, kLast},
                               SampleCase{"wider histogram, the k-th", 4099, 1000.0f, {1e5f, 300, 1.0f, 0.0f}, kLast}}) {
    cases.push_back({strformat("sample %s n=%lld T=%g top_k=%d top_p=%g min_p=%g u=%g", sc.what, static_cast<long long>(sc.n),
                               sc.p.temperature, sc.p.top_k, sc.p.top_p, sc.p.min_p, sc.u),
                     kDevice, [=](Ctx& c) {
                       c.expect(c.g().sample(c.input(sc.n, 1, sc.scale), sc.p, sc.u), "id", kExactLimit);
                     }});
  }
  cases.push_back({"sample near-equal logits past the candidate store n=3000 top_k=100", kDevice, [](Ctx& c) {
                     // 2000 distinct logits within 0.002: one histogram bin holds them all.
                     std::vector<float> v(3000);
                     for (size_t i = 0; i < v.size(); ++i) {
                       v[i] = i < 2000 ? 1.0f + static_cast<float>((i * 7919) % 2000) * 1e-6f : -static_cast<float>(i % 13);
                     }
                     for (float u : {0.705f, kLast}) {
                       c.expect(c.g().sample(c.input(3000, 1, 1.0f, &v), {0.5f, 100, 1.0f, 0.0f}, u), "id", kExactLimit);
                     }
                   }});
  cases.push_back({"sample ties past the candidate store n=3000 top_k=50", kDevice, [=](Ctx& c) {
                     // 3 larger logits, then 2000 equal ones: the cut keeps the 47 lowest ids of those.
                     std::vector<float> v(3000);
                     for (size_t i = 0; i < v.size(); ++i) v[i] = i % 3 == 2 ? -static_cast<float>(i % 17) : 1.0f;
                     for (size_t i : {2999u, 1500u, 7u}) v[i] = 2.0f + static_cast<float>(i % 5);
                     for (float u : {0.2f, 0.9f, kLast}) {
                       c.expect(c.g().sample(c.input(3000, 1, 1.0f, &v), {1.0f, 50, 1.0f, 0.0f}, u), "id", kExactLimit);
                     }
                   }});

  // sample with a repetition penalty (sample_window.wgsl against
  // core/sampling.h's apply_repetition_penalty, then sample_logits, then
  // penalty_window_append): the window's ids named by the rank of their
  // logits (0: the largest, -1: the smallest), so the penalty moves the
  // draw: the largest logit penalised away under greedy, candidates pushed
  // out of (penalty > 1) or into (< 1) the top k at the k-th draw,
  // repeated ids (penalised once per occurrence), ids of negative logits
  // (multiplied), ids outside the vocabulary (skipped), an empty window, a
  // penalty of 1, a window that wrapped (its oldest ids gone), and the
  // largest window the kernel takes, full of repeats. Each case also
  // compares the window's words after the op (the chosen id appended).
  struct PenaltyCase {
    const char* what;
    int64_t n;
    wa::SamplingParams p;
    float u;
    float penalty;
    int capacity;
    std::vector<int> ranks;     // appended to the window in order
    std::vector<int32_t> raw;   // ids appended before them, as they are
  };
  const wa::SamplingParams kGreedy{0.0f, 0, 1.0f, 0.0f};
  std::vector<int> many;  // 1500 ids of the 200 largest logits, each 7-8 times
  for (int i = 0; i < 1500; ++i) many.push_back((i * 7) % 200);
  for (const PenaltyCase& pc :
       {PenaltyCase{"greedy, the largest penalised away", 1000, kGreedy, 0.0f, 1.5f, 16, {0, 0, 5, -1, -3}, {-1, 1003}},
        PenaltyCase{"greedy, penalty below 1", 1000, kGreedy, 0.0f, 0.5f, 16, {3, -1}, {}},
        PenaltyCase{"sorted whole, the k-th", 1000, {100.0f, 40, 1.0f, 0.0f}, kLast, 1.3f, 16, {0, 1, 2, 3, 39, 39, 40, -2}, {}},
        PenaltyCase{"sorted whole, penalty below 1", 1000, {0.8f, 40, 0.95f, 0.05f}, 0.6f, 0.7f, 16, {45, 50, 60, 60, -1}, {}},
        PenaltyCase{"sorted whole, penalty below 1, the k-th", 1000, {100.0f, 40, 1.0f, 0.0f}, kLast, 0.7f, 16, {45, 50, 60, -1}, {}},
        PenaltyCase{"penalty 1", 1000, {1.0f, 40, 1.0f, 0.0f}, 0.3f, 1.0f, 16, {0, 1}, {}},
        PenaltyCase{"empty window", 1000, {0.8f, 40, 0.95f, 0.05f}, 0.6f, 1.3f, 8, {}, {}},
        PenaltyCase{"greedy, wrapped window", 1000, kGreedy, 0.0f, 3.0f, 4, {1, 0, 0, 2, 3, 4}, {}},
        PenaltyCase{"histogram, the k-th", 4099, {100.0f, 300, 1.0f, 0.0f}, kLast, 1.2f, 64, {0, 1, 1, 299, 300, 301, -1}, {}},
        PenaltyCase{"histogram, small k", 4099, {0.7f, 7, 0.98f, 0.01f}, 0.05f, 2.0f, 64, {0, 1, 1, 2, -5}, {}},
        PenaltyCase{"greedy, vocabulary past the candidate store", 4099, kGreedy, 0.0f, 1.5f, 64, {0, 1, 2}, {4099, -7}},
        PenaltyCase{"largest window, the k-th", 4099, {100.0f, 300, 1.0f, 0.0f}, kLast, 1.1f, kDevicePenaltyMaxWindow, many, {}}}) {
    cases.push_back({strformat("sample penalty %g, %s, n=%lld T=%g top_k=%d top_p=%g min_p=%g u=%g window %d of %zu ids",
                               pc.penalty, pc.what, static_cast<long long>(pc.n), pc.p.temperature, pc.p.top_k,
                               pc.p.top_p, pc.p.min_p, pc.u, pc.capacity, pc.ranks.size() + pc.raw.size()),
                     kDevice, [=](Ctx& c) {
                       // Logits N(0, 4^2), the same in every run; ids by rank.
                       std::vector<float> v(static_cast<size_t>(pc.n));
                       std::mt19937 rng(static_cast<uint32_t>(pc.n) + static_cast<uint32_t>(pc.ranks.size()));
                       std::normal_distribution<float> dist(0.0f, 4.0f);
                       for (float& x : v) x = dist(rng);
                       std::vector<int32_t> order(v.size());
                       for (size_t i = 0; i < order.size(); ++i) order[i] = static_cast<int32_t>(i);
                       std::stable_sort(order.begin(), order.end(), [&](int32_t a, int32_t b) { return v[a] > v[b]; });
                       std::vector<int32_t> ids = pc.raw;
                       for (int r : pc.ranks) ids.push_back(order[static_cast<size_t>(r >= 0 ? r : pc.n + r)]);
                       Node* w = c.window(pc.capacity, ids);
                       c.expect(c.g().sample(c.input(pc.n, 1, 1.0f, &v), pc.p, pc.u, w, pc.penalty), "id", kExactLimit);
                       c.expect(w, "window", kExactLimit);
                     }});
  }
  cases.push_back({"sample penalty 1.5, two steps: the second penalises the first's choice n=1000", kDevice, [=](Ctx& c) {
                     // Greedy picks id 17 (8 > 7.5), appends it; then 8 / 1.5 < 7.5: id 500. A sampled third
                     // step at the k-th draw sees both.
                     std::vector<float> v(1000);
                     for (size_t i = 0; i < v.size(); ++i) v[i] = static_cast<float>((i * 37) % 101) * 0.05f - 2.5f;
                     v[17] = 8.0f;
                     v[500] = 7.5f;
                     Node* w = c.window(8, {3, 3});
                     c.expect(c.g().sample(c.input(1000, 1, 1.0f, &v), kGreedy, 0.0f, w, 1.5f), "id (first step)", kExactLimit);
                     c.expect(w, "window (first step)", kExactLimit);
                     c.next_graph();
                     Node* w2 = c.same_cache(w);
                     c.expect(c.g().sample(c.input(1000, 1, 1.0f, &v), kGreedy, 0.0f, w2, 1.5f), "id (second step)", kExactLimit);
                     c.expect(w2, "window (second step)", kExactLimit);
                     c.next_graph();
                     Node* w3 = c.same_cache(w);
                     c.expect(c.g().sample(c.input(1000, 1, 1.0f, &v), {100.0f, 3, 1.0f, 0.0f}, kLast, w3, 1.5f),
                              "id (third step)", kExactLimit);
                     c.expect(w3, "window (third step)", kExactLimit);
                   }});
  // The penalised logit to the last bit: logit x of id a, penalised over a
  // window holding a 1-3 times, equals logit y of id b exactly on the CPU;
  // every other logit is far below. Greedy then picks the lower of a and b,
  // and a penalised value one ulp off picks the other: with b < a if it
  // comes out above y, with b > a if below. 128 pairs: positive x (divided:
  // the kernel's integer long division, exact where WGSL's `/` may be 2.5
  // ulp off) near logits' sizes, of any normal size over penalties of
  // 2^-30..2^30 (quotients overflowing to infinity and falling to
  // subnormals and zero among them), and subnormal; negative x (multiplied)
  // with normal products (a GPU may flush subnormal ones). SwiftShader's
  // `/` is correctly rounded, so there only a wrong integer division fails
  // this; bench/webgpu/device_ops.sh runs it where `/` is not.
  cases.push_back({"sample penalised logits equal others to the last bit (greedy ties, 128 pairs) n=64", kDevice, [=](Ctx& c) {
                     std::mt19937 rng(11);
                     std::uniform_real_distribution<float> mant(1.0f, 2.0f), pen(0.3f, 3.0f);
                     std::uniform_int_distribution<int> small_exp(-8, 8), any_exp(-126, 127), pen_exp(-30, 30);
                     std::uniform_int_distribution<uint32_t> subnormal_bits(1, 0x7fffff);
                     for (int t = 0; t < 128; ++t) {
                       float x = 0, p = pen(rng);
                       switch (t % 4) {
                         case 0: x = std::ldexp(mant(rng), small_exp(rng)); break;
                         case 1: x = std::ldexp(mant(rng), any_exp(rng)), p = std::ldexp(mant(rng), pen_exp(rng)); break;
                         case 2: {
                           const uint32_t bits = subnormal_bits(rng);
                           std::memcpy(&x, &bits, sizeof x);
                           break;
                         }
                         default: x = -std::ldexp(mant(rng), small_exp(rng) * 2); break;
                       }
                       const int times = 1 + t % 3;
                       float y = x;
                       for (int i = 0; i < times; ++i) y = penalize(y, p);
                       const int32_t a = 20 + t % 20, b = (t / 4) % 2 == 0 ? 3 : 50 + t % 10;
                       std::vector<float> v(64, -1e30f);
                       v[static_cast<size_t>(a)] = x;
                       v[static_cast<size_t>(b)] = y;
                       Node* w = c.window(4, std::vector<int32_t>(static_cast<size_t>(times), a));
                       c.expect(c.g().sample(c.input(64, 1, 1.0f, &v), kGreedy, 0.0f, w, p),
                                strformat("id (x=%a p=%a, %d times)", x, p, times), kExactLimit);
                     }
                   }});


  // Split weights: with 1 MiB bindings, tensors of more than 1 MiB are
  // split into row ranges, each its own buffer and dispatch.
  add_mul_mat(cases, DType::f32, 256, 1100, 1, kSmallBinding, 2);
  add_mul_mat(cases, DType::f32, 256, 1100, 5, kSmallBinding, 2);
  add_mul_mat(cases, DType::f16, 512, 1100, 1, kSmallBinding, 2);
  add_mul_mat(cases, DType::q8_0, 1024, 1000, 1, kSmallBinding, 2);
  add_mul_mat(cases, DType::q8_0, 1024, 1000, 3, kSmallBinding, 2);
  add_mul_mat(cases, DType::q4_0, 2048, 1000, 1, kSmallBinding, 2);
  add_get_rows(cases, DType::f32, 256, 1100, {0, 1099, 1022, 1023, 1024, 500}, kSmallBinding, 2);
  add_get_rows(cases, DType::q4_0, 2048, 1000, {999, 0, 909, 910, 911, 5}, kSmallBinding, 2);
  add_mul_mat(cases, DType::q4_k, 2048, 1000, 1, kSmallBinding, 2);
  add_mul_mat(cases, DType::q5_0, 4096, 400, 1, kSmallBinding, 2);
  add_get_rows(cases, DType::q6_k, 2048, 1000, {999, 0, 824, 825, 826, 5}, kSmallBinding, 2);
  add_mul_mat(cases, DType::wa_vq2, 4096, 1000, 1, kSmallBinding, 2);
  add_mul_mat(cases, DType::wa_vq3, 4096, 700, 3, kSmallBinding, 2);
  add_get_rows(cases, DType::wa_vq3, 4096, 700, {699, 0, 667, 668, 669, 5}, kSmallBinding, 2);
  // hot rows in both parts of the table, and at their edges (each part's
  // dispatch binds the whole hot table)
  add_get_rows_hot(cases, DType::q4_0, DType::q8_0, 2048, 1000, {0, 500, 909, 910, 999},
                   {999, 0, 909, 910, 911, 5, 500, 908}, kSmallBinding, 2);

  // Small grids: with 4 workgroups per dimension, matvec parts hold 32 rows
  // and 1-D grids fold into y (the repack of a 4096-wide q8_0 part, kv_store
  // of 70 tokens).
  add_mul_mat(cases, DType::q8_0, 4096, 40, 1, kSmallGrid, 2);
  add_mul_mat(cases, DType::q4_0, 64, 100, 3, kSmallGrid, 4);
  add_mul_mat(cases, DType::f32, 64, 100, 1, kSmallGrid, 4);
  add_get_rows(cases, DType::f16, 64, 100, {99, 0, 31, 32, 64, 65}, kSmallGrid, 4);
  add_mul_mat(cases, DType::q2_k, 4096, 40, 1, kSmallGrid, 2);  // repack_q's grid folds
  add_mul_mat(cases, DType::q3_k, 256, 100, 1, kSmallGrid, 4);
  add_get_rows(cases, DType::q5_1, 64, 100, {99, 0, 31, 32, 64, 65}, kSmallGrid, 4);
  add_mul_mat(cases, DType::wa_vq3, 4096, 40, 1, kSmallGrid, 2);  // repack_vq's grid folds
  add_mul_mat(cases, DType::wa_vq2, 256, 100, 1, kSmallGrid, 4);
  add_kv_store(cases, DType::f32, false, 64, 0, 70, 72, kSmallGrid);
  add_kv_store(cases, DType::f16, false, 64, 5, 70, 76, kSmallGrid);
  add_kv_store(cases, DType::f16, true, 64, 5, 70, 76, kSmallGrid);

  // The prompt matmul's 64 x 64 tiles, for devices with WebGPU's default
  // 16 KiB of workgroup storage: every loader, ragged N and T.
  add_mul_mat(cases, DType::f32, 45, 130, 131, kStorage16);
  add_mul_mat(cases, DType::q8_0, 64, 130, 67, kStorage16);
  add_mul_mat(cases, DType::q4_0, 96, 77, 131, kStorage16);
  add_mul_mat(cases, DType::q4_k, 256, 70, 66, kStorage16);
  add_mul_mat(cases, DType::wa_vq3, 256, 70, 66, kStorage16);
  return cases;
}

// ---- comparison --------------------------------------------------------------

std::vector<double> decode(DType type, const std::vector<uint8_t>& bytes) {
  std::vector<double> v;
  if (type == DType::f16) {
    v.resize(bytes.size() / 2);
    for (size_t i = 0; i < v.size(); ++i) {
      f16_bits h;
      std::memcpy(&h, bytes.data() + 2 * i, 2);
      v[i] = fp16_to_fp32(h);
    }
  } else if (type == DType::i32) {
    v.resize(bytes.size() / 4);
    for (size_t i = 0; i < v.size(); ++i) {
      int32_t x;
      std::memcpy(&x, bytes.data() + 4 * i, 4);
      v[i] = x;
    }
  } else {
    v.resize(bytes.size() / 4);
    for (size_t i = 0; i < v.size(); ++i) {
      float x;
      std::memcpy(&x, bytes.data() + 4 * i, 4);
      v[i] = x;
    }
  }
  return v;
}

std::string json_string(const std::string& s) {
  std::string o = "\"";
  for (char ch : s) {
    if (ch == '"' || ch == '\\') {
      o += '\\';
      o += ch;
    } else if (static_cast<unsigned char>(ch) < 0x20) {
      o += strformat("\\u%04x", ch);
    } else {
      o += ch;
    }
  }
  return o + "\"";
}

// JSON has no NaN/inf: those are written as strings.
std::string json_number(double v) {
  if (std::isnan(v)) return "\"nan\"";
  if (std::isinf(v)) return v > 0 ? "\"inf\"" : "\"-inf\"";
  return strformat("%.3g", v);
}

struct Compared {
  double nmse = 0;
  double max_abs = 0;
  size_t nonfinite = 0;  // non-finite GPU values where the reference is finite
  size_t first_bad = SIZE_MAX;
};

Compared compare(const std::vector<double>& got, const std::vector<double>& ref) {
  Compared c;
  double err = 0, norm = 0;
  for (size_t i = 0; i < ref.size() && i < got.size(); ++i) {
    if (std::isfinite(ref[i]) && !std::isfinite(got[i])) {
      ++c.nonfinite;
      if (c.first_bad == SIZE_MAX) c.first_bad = i;
      continue;
    }
    const double d = got[i] - ref[i];
    if (d != 0 && c.first_bad == SIZE_MAX) c.first_bad = i;
    err += d * d;
    norm += ref[i] * ref[i];
    c.max_abs = std::max(c.max_abs, std::fabs(d));
  }
  c.nmse = norm > 0 ? err / norm : (err > 0 ? INFINITY : 0.0);
  return c;
}

// ---- the module ----------------------------------------------------------------

struct Module {
  std::vector<Case> cases;
  std::unique_ptr<Backend> cpu;
  std::unique_ptr<gpu::WebGpuBackend> gpu[kSlots];
  std::unique_ptr<CaseState> state;  // the case between prepare and finish
  int current = -1;
  std::string error, json;
};
Module* g_module = nullptr;

Status run_cpu(Module& m, const Case& k, CaseState& st, Run run, uint64_t seed) {
  Ctx c(st, run, seed, nullptr);
  k.build(c);
  auto& out = st.out[static_cast<int>(run)];
  for (size_t gi = 0; gi < c.graphs().size(); ++gi) {
    WA_TRY(m.cpu->compute(c.graphs()[gi]));
    for (const Check& ck : c.checks()) {  // before the next step reuses the arena
      if (ck.graph != gi) continue;
      out.emplace_back(ck.node->bytes());
      WA_TRY(m.cpu->read_output(*ck.node, out.back().data(), out.back().size()));
      if (run == Run::cpu) {
        st.what.push_back(ck.what);
        st.limits.push_back(ck.limit);
        st.types.push_back(ck.node->type);
      }
    }
  }
  return Status::Ok();
}

// Records the case's GPU work; the outputs arrive when the stream has run.
Status record_gpu(gpu::WebGpuBackend& gpu, const Case& k, CaseState& st, uint64_t seed) {
  Ctx c(st, Run::gpu, seed, &gpu);
  k.build(c);
  Status s = c.status();
  auto& out = st.out[static_cast<int>(Run::gpu)];
  out.reserve(c.checks().size());  // stable: readbacks point into the vectors
  for (size_t gi = 0; gi < c.graphs().size(); ++gi) {
    if (s.ok()) s = gpu.compute(c.graphs()[gi]);
    for (const Check& ck : c.checks()) {
      if (ck.graph != gi) continue;
      out.emplace_back(ck.node->bytes(), 0);
      if (s.ok()) s = gpu.read_output(*ck.node, out.back().data(), out.back().size());
    }
  }
  st.dispatches = gpu.recorded_dispatches();
  st.fused = gpu.recorded_fused_dispatches();
  st.subgroup_dispatches = gpu.recorded_subgroup_dispatches();
  st.l2_warm_dispatches = gpu.recorded_l2_warm_dispatches();
  st.few_token_dispatches = gpu.recorded_few_token_dispatches();
  c.release_device();
  return s;
}

std::string finish_json(const Case& k, int index, CaseState& st) {
  bool ok = st.error.empty();
  std::string checks;
  for (size_t i = 0; st.error.empty() && i < st.what.size(); ++i) {
    const auto got = decode(st.types[i], st.out[2][i]);
    const auto exact = decode(st.types[i], st.out[1][i]);
    const auto cpu = decode(st.types[i], st.out[0][i]);
    const Compared ce = compare(got, exact), cc = compare(got, cpu);
    double norm = 0;
    for (double v : exact) norm += v * v;
    const Limit lim = st.limits[i];
    const bool this_ok = ce.nonfinite == 0 && cc.nonfinite == 0 && ce.nmse <= lim.exact && cc.nmse <= lim.cpu &&
                         got.size() == exact.size() && (norm > 0 || st.types[i] == DType::i32);
    ok = ok && this_ok;
    if (!checks.empty()) checks += ',';
    checks += strformat("{\"what\":%s,\"n\":%zu,\"nmse\":%s,\"limit\":%s,\"nmse_cpu\":%s,\"limit_cpu\":%s,"
                        "\"max_abs\":%s,\"nonfinite\":%zu,\"ok\":%s",
                        json_string(st.what[i]).c_str(), got.size(), json_number(ce.nmse).c_str(),
                        json_number(lim.exact).c_str(), json_number(cc.nmse).c_str(), json_number(lim.cpu).c_str(),
                        json_number(ce.max_abs).c_str(), ce.nonfinite, this_ok ? "true" : "false");
    if (ce.first_bad != SIZE_MAX && (!this_ok || st.types[i] == DType::i32)) {
      const size_t b = ce.first_bad;
      checks += strformat(",\"first_diff\":{\"index\":%zu,\"gpu\":%s,\"ref\":%s}", b, json_number(got[b]).c_str(),
                          json_number(exact[b]).c_str());
    }
    if (st.types[i] == DType::i32 && !got.empty()) {
      checks += strformat(",\"gpu\":%s,\"ref\":%s", json_number(got[0]).c_str(), json_number(exact[0]).c_str());
    }
    checks += '}';
  }
  if (st.min_fused) {
    const bool this_ok = st.fused >= st.min_fused;
    ok = ok && this_ok;
    if (!checks.empty()) checks += ',';
    checks += strformat("{\"what\":\"fused dispatches\",\"fused\":%u,\"min_fused\":%u,\"ok\":%s}", st.fused,
                        st.min_fused, this_ok ? "true" : "false");
  }
  if (st.max_dispatches) {
    const bool this_ok = st.dispatches <= st.max_dispatches;
    ok = ok && this_ok;
    if (!checks.empty()) checks += ',';
    checks += strformat("{\"what\":\"dispatches\",\"dispatches\":%u,\"max\":%u,\"ok\":%s}", st.dispatches,
                        st.max_dispatches, this_ok ? "true" : "false");
  }
  if (st.check_subgroups) {
    const bool want = slot_has_subgroups(k.slot);
    const bool this_ok = want ? st.subgroup_dispatches > 0 : st.subgroup_dispatches == 0;
    ok = ok && this_ok;
    if (!checks.empty()) checks += ',';
    checks += strformat("{\"what\":\"subgroup dispatches\",\"subgroup_dispatches\":%u,\"want\":\"%s\",\"ok\":%s}",
                        st.subgroup_dispatches, want ? "some" : "none", this_ok ? "true" : "false");
  }
  if (st.check_l2_warm) {
    const bool want = k.slot == kL2Warm;
    const bool this_ok = want ? st.l2_warm_dispatches > 0 : st.l2_warm_dispatches == 0;
    ok = ok && this_ok;
    if (!checks.empty()) checks += ',';
    checks += strformat("{\"what\":\"L2-warming dispatches\",\"l2_warm_dispatches\":%u,\"want\":\"%s\",\"ok\":%s}",
                        st.l2_warm_dispatches, want ? "some" : "none", this_ok ? "true" : "false");
  }
  if (st.want_few_token >= 0) {
    const bool want = st.want_few_token == 1;
    const bool this_ok = want ? st.few_token_dispatches > 0 : st.few_token_dispatches == 0;
    ok = ok && this_ok;
    if (!checks.empty()) checks += ',';
    checks += strformat("{\"what\":\"few-token matvec dispatches\",\"few_token_dispatches\":%u,\"want\":\"%s\",\"ok\":%s}",
                        st.few_token_dispatches, want ? "some" : "none", this_ok ? "true" : "false");
  }
  for (const CaseState::Parts& p : st.parts) {
    const bool this_ok = p.got >= p.min;
    ok = ok && this_ok;
    if (!checks.empty()) checks += ',';
    checks += strformat("{\"what\":\"parts of %s\",\"parts\":%u,\"min_parts\":%u,\"ok\":%s}", p.weight.c_str(), p.got,
                        p.min, this_ok ? "true" : "false");
  }
  return strformat("{\"index\":%d,\"name\":%s,\"slot\":%s,\"ok\":%s,\"dispatches\":%u,\"error\":%s,\"checks\":[%s]}",
                   index, json_string(k.name).c_str(), json_string(kSlotNames[k.slot]).c_str(), ok ? "true" : "false",
                   st.dispatches, json_string(st.error).c_str(), checks.c_str());
}

}  // namespace
}  // namespace wa

#define WA_TEST_API extern "C" __attribute__((used, visibility("default")))

// Creates the CPU reference backend (scalar kernels, one thread) and one
// WebGPU backend per slot; returns the number of cases, or -1 (see
// wa_gpu_ops_error).
WA_TEST_API int32_t wa_gpu_ops_init(const wa_gpu_device_config* config) {
  using namespace wa;
  delete g_module;
  g_module = new Module();
  Module& m = *g_module;
  if (!config || !cpu::force_isa(cpu::Isa::scalar)) {
    m.error = "no device config, or no scalar kernels";
    return -1;
  }
  m.cpu = make_cpu_backend({1, nullptr});
  g_device_packed_dot = config->packed_dot != 0;
  g_device_subgroups = config->subgroups != 0;
  g_device_f16 = config->shader_f16 != 0;
  for (int s = 0; s < kSlots; ++s) {
    wa_gpu_device_config c = *config;
    // Smaller limits than the device has, through the same checks the
    // engine applies (device_config_from): a test of splitting and folding.
    if (s == kSmallBinding) c.max_storage_binding = c.max_buffer_size = 1 << 20;
    if (s == kSmallGrid) c.max_workgroups_per_dim = 4;
    if (s == kNoPackedDotNoSubgroups) c.packed_dot = c.subgroups = 0;
    if (s == kNoSubgroups) c.subgroups = 0;
    if (s == kStorage16) c.max_workgroup_storage = 16384;
    if (s == kUnits) c.matvec_tuning = kUnitsTuning;
    // (the engine's choice on NVIDIA adapters: wa_gpu_device_config.l2_warm)
    c.l2_warm = s == kL2Warm ? 1 : 0;
    auto cfg = gpu::device_config_from(c);
    if (!cfg.ok()) {
      m.error = strformat("%s: %s", kSlotNames[s], cfg.status().to_string().c_str());
      return -1;
    }
    m.gpu[s] = gpu::make_webgpu_backend(cfg.value(), nullptr);
  }
  m.cases = make_cases();
  return static_cast<int32_t>(m.cases.size());
}

WA_TEST_API const char* wa_gpu_ops_error(void) { return wa::g_module ? wa::g_module->error.c_str() : "not initialized"; }

WA_TEST_API const char* wa_gpu_ops_cases_json(void) {
  using namespace wa;
  if (!g_module) return "[]";
  std::string& j = g_module->json;
  j = "[";
  for (const Case& k : g_module->cases) {
    if (j.size() > 1) j += ',';
    j += strformat("{\"name\":%s,\"slot\":%d}", json_string(k.name).c_str(), static_cast<int>(k.slot));
  }
  j += "]";
  return j.c_str();
}

// Computes case i's CPU references and records its GPU work; returns the
// slot whose stream holds it (-1: no such case).
WA_TEST_API int32_t wa_gpu_ops_prepare(int32_t i) {
  using namespace wa;
  if (!g_module || i < 0 || i >= static_cast<int32_t>(g_module->cases.size())) return -1;
  Module& m = *g_module;
  const Case& k = m.cases[static_cast<size_t>(i)];
  m.state = std::make_unique<CaseState>();
  m.current = i;
  CaseState& st = *m.state;
  const uint64_t seed = 0x9e3779b97f4a7c15ull * static_cast<uint64_t>(i + 1);
  Status s = run_cpu(m, k, st, Run::cpu, seed);
  if (s.ok()) s = run_cpu(m, k, st, Run::cpu_exact, seed);
  if (s.ok()) s = record_gpu(*m.gpu[k.slot], k, st, seed);
  if (!s.ok()) st.error = s.to_string();
  return k.slot;
}

WA_TEST_API uint32_t wa_gpu_ops_stream(int32_t slot, const uint32_t** words) {
  using namespace wa;
  if (words) *words = nullptr;
  if (!g_module || slot < 0 || slot >= kSlots || !words) return 0;
  const std::vector<uint32_t>& w = g_module->gpu[slot]->take_stream();
  *words = w.data();
  return static_cast<uint32_t>(w.size());
}

WA_TEST_API void wa_gpu_ops_stream_done(int32_t slot) {
  using namespace wa;
  if (g_module && slot >= 0 && slot < kSlots) g_module->gpu[slot]->stream_done();
}

// Case i's comparisons as JSON (valid until the next call); releases the case.
WA_TEST_API const char* wa_gpu_ops_finish(int32_t i) {
  using namespace wa;
  if (!g_module || i != g_module->current || !g_module->state) return "{\"ok\":false,\"error\":\"not prepared\"}";
  Module& m = *g_module;
  m.json = finish_json(m.cases[static_cast<size_t>(i)], i, *m.state);
  m.state.reset();
  m.current = -1;
  return m.json.c_str();
}
