#include "backends/webgpu/webgpu_backend.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <deque>
#include <map>
#include <unordered_map>
#include <unordered_set>

#include "backends/webgpu/fusion_plan.h"
#include "backends/webgpu/kernel_params.h"
#include "backends/webgpu/kernel_sources.h"
#include "formats/hot_rows.h"
#include "quant/vq.h"

namespace wa::gpu {
namespace {

constexpr uint32_t kInputBufferId = 2;  // ids, cos/sin tables: host data of the step
constexpr uint32_t kFirstFreeId = 3;
// A split decode attention whose chunks a matvec merges as it reads them.
struct AttentionFold {
  uint32_t head_dim;
  uint32_t n_chunks;
};

uint64_t round_up(uint64_t x, uint64_t a) { return (x + a - 1) / a * a; }
uint32_t ceil_div(uint64_t a, uint64_t b) { return static_cast<uint32_t>((a + b - 1) / b); }

// Words of values per block in the GPU layout (w_q8_0.wgsl, w_q4_0.wgsl).
uint32_t value_words(DType t) { return t == DType::q8_0 ? 8 : 4; }

// A block format's size for n 32-weight blocks (whole super-blocks for
// k-quants and vq types), in u32 words: values in groups of `group` blocks
// taking `group_words` (whole vec4s: the type's mv4_<type>.wgsl,
// block_word), then the scales (scale_word).
struct PlaneSize {
  uint64_t value_words;
  uint64_t scale_words;
};
PlaneSize plane_size(DType t, uint64_t n) {
  uint64_t group = 1, group_words = 4;  // q4_1, q4_K: a vec4 of nibbles per block
  switch (t) {
    case DType::q5_0: case DType::q5_1: case DType::q5_k: group = 4, group_words = 20; break;
    case DType::q2_k: group = 2, group_words = 4; break;
    case DType::q3_k: group = 4, group_words = 12; break;
    case DType::q6_k: group = 2, group_words = 12; break;
    case DType::wa_vq2: group = 2, group_words = 4; break;
    case DType::wa_vq3: group = 4, group_words = 12; break;
    default: break;
  }
  // f16 d and m per block; q5_0's f16 d two per word; k-quants' 5-word
  // records per 8 blocks (mv4_planes.wgsl, kq_scale_word); per pair of
  // super-blocks, wa_vq2's 2 words of 4-bit scales and a word of both d,
  // wa_vq3's word of both d (its scales are in the values)
  const uint64_t scales = t == DType::q4_1 || t == DType::q5_1 ? n
                          : t == DType::q5_0                   ? (n + 1) / 2
                          : t == DType::wa_vq2                 ? (n + 15) / 16 * 3
                          : t == DType::wa_vq3                 ? (n + 15) / 16
                                                               : n / 8 * 5;
  return {(n + group - 1) / group * group_words, scales};
}

// Where a tensor lives: a buffer and an offset in 4-byte elements.
struct Loc {
  uint32_t buffer = 0;
  uint32_t offset = 0;
};

class WebGpuBackendImpl final : public WebGpuBackend {
 public:
  WebGpuBackendImpl(const DeviceConfig& c, MemoryTracker* tracker) : cfg_(c), tracker_(tracker) {
    slot_bytes_ = static_cast<uint32_t>(round_up(kMaxParamsBytes, std::max<uint32_t>(c.min_uniform_align, 16)));
    max_binding_ = std::min<uint64_t>({c.max_storage_binding, c.max_buffer_size, 0xfffffffcull});
  }

  std::string name() const override { return "webgpu"; }

  bool supports_op(const Node& n) const override { return unsupported_reason(n).empty(); }

  Status compute(Graph& graph) override {
    WA_TRY(check(graph));
    plan_fusions(graph);
    const size_t arena_bytes = std::max<size_t>(graph.plan(), 256);
    WA_TRY(ensure_arena(arena_bytes));
    input_locs_.clear();
    rope_tables_.clear();
    active_norms_.clear();
    folded_attentions_.clear();
    const auto& nodes = graph.nodes();
    for (size_t i = 0; i < nodes.size(); ++i) {
      const Node& n = nodes[i];
      if (n.is_leaf()) continue;
      // A norm its matvecs compute themselves (FusionPlan), where h can be
      // read as vec4s; otherwise it runs, and they read its output.
      if (plan_.fusable_norms.count(&n)) {
        WA_ASSIGN_OR_RETURN(Loc h, locate(n.src[0]));
        if (h.buffer == arena_id_ && h.offset % 4 == 0) {
          active_norms_.insert(&n);
          continue;
        }
      }
      // A decode matvec whose only reader is the next node, a residual add,
      // writes the sum itself: one dispatch instead of two.
      if (i + 1 < nodes.size() && plan_.fused_adds.count(&nodes[i + 1]) && nodes[i + 1].src[1] == &n) {
        WA_TRY(encode_matvec(n, nodes[i + 1], nodes[i + 1].src[0]));
        ++i;
        continue;
      }
      // The gate and up matvecs of a fused SwiGLU run with it, at the SwiGLU.
      if (plan_.glu_inputs.count(&n) || plan_.multi_rest.count(&n) || plan_.rope_kv_rest.count(&n)) continue;
      if (auto it = plan_.rope_kv_heads.find(&n); it != plan_.rope_kv_heads.end()) {
        if (!plan_.rope_in_attention.count(it->second)) WA_TRY(encode_rope_kv(*it->second));
        continue;
      }
      if (auto it = plan_.multi_heads.find(&n); it != plan_.multi_heads.end()) {
        WA_TRY(encode_multi(it->second));
        continue;
      }
      if (plan_.fused_glus.count(&n)) {
        WA_TRY(encode_glu(n));
        continue;
      }
      WA_TRY(encode(n));
    }
    return Status::Ok();
  }

  Status read_output(const Node& node, void* dst, size_t bytes) override {
    WA_ASSIGN_OR_RETURN(Loc l, locate(&node));
    rec_.readback(l.buffer, l.offset * 4, static_cast<uint32_t>(bytes), dst);
    return Status::Ok();
  }

  Status copy_output(const Node& node, uint32_t device_buffer, size_t bytes) override {
    WA_ASSIGN_OR_RETURN(Loc l, locate(&node));
    rec_.copy_buffer(l.buffer, l.offset * 4, device_buffer, 0, static_cast<uint32_t>(round_up(bytes, 4)));
    return Status::Ok();
  }

  DeviceMemory* device_memory() override { return this; }

  // DeviceMemory
  Result<uint32_t> create_buffer(size_t bytes, const std::string& component, MemCategory category,
                                 MemoryTracker* tracker) override {
    // 16-byte multiples: kernels may view any buffer as vec4 words.
    const uint64_t size = round_up(std::max<size_t>(bytes, 16), 16);
    if (size > max_binding_) {
      return out_of_memory(strformat("%s: a %s buffer exceeds the device's largest binding (%s)", component.c_str(),
                                     format_bytes(size).c_str(), format_bytes(max_binding_).c_str()));
    }
    const uint32_t id = next_id_++;
    rec_.create_buffer(id, static_cast<uint32_t>(size), kUsageStorage | kUsageCopyDst | kUsageCopySrc);
    owned_[id] = {size, component, category, tracker};
    if (tracker) tracker->add("webgpu." + component, category, size);
    return id;
  }

  Status write_buffer(uint32_t id, const void* data, size_t bytes) override {
    auto it = owned_.find(id);
    if (it == owned_.end() || bytes > it->second.size) {
      return invalid_argument(strformat("cannot write %zu bytes to device buffer %u", bytes, id));
    }
    if (bytes == 0) return Status::Ok();
    // Staged with the step's inputs (written ahead of the stream's work),
    // then copied in stream order: a later write to the same buffer in the
    // same stream stays later.
    const uint32_t off = stage_input(data, bytes);
    rec_.copy_buffer(kInputBufferId, off * 4, id, 0, static_cast<uint32_t>(round_up(bytes, 4)));
    return Status::Ok();
  }

  void release_buffer(uint32_t id) override {
    auto it = owned_.find(id);
    if (it == owned_.end()) return;
    if (it->second.tracker) {
      it->second.tracker->release("webgpu." + it->second.component, it->second.category, it->second.size);
    }
    owned_.erase(it);
    rec_.destroy_buffer(id);
  }

  Status upload_weights(const GgufFile& file, MemoryTracker* tracker) override {
    // Every type is checked before anything is recorded: a model the kernels
    // cannot run leaves no device buffers behind.
    for (const GgufTensorInfo& t : file.tensors()) {
      if (!weight_type_supported(t.type)) {
        return unsupported(strformat("tensor '%s' has type %s, which the WebGPU kernels do not read yet",
                                     t.name.c_str(), dtype_name(t.type)));
      }
    }
    // File order: a streamed source is read front to back.
    std::vector<const GgufTensorInfo*> order;
    for (const GgufTensorInfo& t : file.tensors()) order.push_back(&t);
    std::stable_sort(order.begin(), order.end(), [](auto* a, auto* b) { return a->offset < b->offset; });
    for (const GgufTensorInfo* t : order) {
      const TensorSource src{file.tensor_data(*t), file.tensor_file_offset(*t)};
      // Hot rows (formats/hot_rows.h) are reported apart: a second copy of
      // embedding rows, not the model's weights.
      WA_TRY(upload_tensor_as(t, src, t->type, t->ne[0], t->n_elements() / t->ne[0], tracker,
                              is_hot_rows_tensor(t->name) ? "hot_rows" : "weights"));
    }
    return Status::Ok();
  }

  void release_weights(const GgufFile& file, MemoryTracker* tracker) override {
    for (const GgufTensorInfo& t : file.tensors()) release_tensor(&t);
  }

  void release_tensor(const void* id) override {
    auto it = weights_.find(id);
    if (it == weights_.end()) return;
    for (const WeightPart& p : it->second.parts) release_buffer(p.buffer);
    if (is_vq(it->second.type)) release_codebook(it->second.type);
    weights_.erase(it);
  }

  Status read_tensor(const void* id, void* dst, size_t bytes) override {
    auto it = weights_.find(id);
    if (it == weights_.end()) return invalid_argument("read_tensor: the tensor is not on the device");
    const GpuWeight& w = it->second;
    if (w.parts.size() != 1 || is_block_quant(w.type) || has_block_format(w.type) || bytes > w.parts[0].bytes ||
        bytes % 4 != 0) {
      return invalid_argument(strformat("read_tensor: %zu bytes of a %s tensor in %zu buffers", bytes,
                                        dtype_name(w.type), w.parts.size()));
    }
    rec_.readback(w.parts[0].buffer, 0, static_cast<uint32_t>(bytes), dst);
    return Status::Ok();
  }

  uint32_t tensor_parts(const void* id) const override {
    auto it = weights_.find(id);
    return it == weights_.end() ? 0 : static_cast<uint32_t>(it->second.parts.size());
  }

  Status precompile(Graph& graph) override {
    WA_TRY(check(graph));
    plan_fusions(graph);
    for (const Node& n : graph.nodes()) {
      if (n.is_leaf()) continue;
      if (plan_.fused_glus.count(&n)) {
        const Node* g = n.src[0];
        pipeline(matvec4_kernel(MatvecMode::glu, plan_.fusable_norms.count(g->src[1]), g->src[0]->type, g->src[0]->ne[0], g->ne[0]));
      } else if (auto it = plan_.multi_heads.find(&n); it != plan_.multi_heads.end()) {
        uint64_t rows = 0;
        for (const Node* m : it->second) rows += m->ne[0];
        pipeline(matvec4_kernel(MatvecMode::multi, plan_.fusable_norms.count(n.src[1]), n.src[0]->type, n.src[0]->ne[0], rows));
      } else if (plan_.fusable_norms.count(&n)) {
        pipeline("rms_norm");  // in case h turns out misaligned
      } else if (n.op == Op::mul_mat && n.src[1]->ne[1] == 1 && plan_.fusable_norms.count(n.src[1])) {
        pipeline(matvec4_kernel(MatvecMode::plain, true, n.src[0]->type, n.src[0]->ne[0], n.ne[0]));
      } else if (auto rk = plan_.rope_kv_heads.find(&n); rk != plan_.rope_kv_heads.end()) {
        if (!plan_.rope_in_attention.count(rk->second)) pipeline("rope_kv");
      } else if (!plan_.glu_inputs.count(&n) && !plan_.multi_rest.count(&n) && !plan_.rope_kv_rest.count(&n)) {
        // (a prompt's matrices: the few-token matvec and the tiled matmul,
        // whichever prompt length comes first)
        if (n.op == Op::mul_mat && n.src[1]->ne[1] > 1) pipeline(matmul_kernel(n.src[0]->type));
        pipeline_for(n);
      }
    }
    // o projections that may merge their attention's chunks (short contexts)
    for (const auto& [a, m] : plan_.combine_folds) {
      const MatvecShape shape = matvec_shape_for(MatvecMode::plain, m->src[0]->type, m->src[0]->ne[0], m->ne[0]);
      if (shape.int8_x) pipeline(matvec4_kernel(MatvecMode::plain, false, m->src[0]->type, shape, true, plan_.glu_warms.count(m) != 0));
    }
    return Status::Ok();
  }

  Status check(const Graph& graph) const override {
    for (const Node& n : graph.nodes()) {
      const std::string why = unsupported_reason(n);
      if (!why.empty()) return unsupported(strformat("webgpu backend cannot run %s: %s", op_name(n.op), why.c_str()));
    }
    return Status::Ok();
  }

  int n_pipelines() const override { return static_cast<int>(pipelines_.size()); }

  const std::vector<uint32_t>& take_stream() override {
    stream_.clear();
    if (rec_.empty() && uniforms_.empty() && inputs_.empty()) return stream_;
    CommandRecorder pre;
    // Every step's parameters and host inputs go up in one write each, ahead
    // of the work that reads them (offsets are distinct within a stream).
    if (uniforms_.size() > uniform_capacity_) {
      if (uniform_capacity_) pre.destroy_buffer(kUniformBufferId);
      uniform_capacity_ = std::max<uint64_t>(round_up(uniforms_.size() * 2, 4096), 64 * 1024);
      pre.create_buffer(kUniformBufferId, static_cast<uint32_t>(uniform_capacity_), kUsageUniform | kUsageCopyDst);
    }
    if (!uniforms_.empty()) {
      pre.write_buffer(kUniformBufferId, 0, uniforms_.data(), static_cast<uint32_t>(uniforms_.size()));
    }
    if (inputs_.size() > input_capacity_) {
      if (input_capacity_) pre.destroy_buffer(kInputBufferId);
      input_capacity_ = std::max<uint64_t>(round_up(inputs_.size() * 2, 4096), 64 * 1024);
      // (CopySrc: write_buffer copies staged bytes from it into device buffers)
      pre.create_buffer(kInputBufferId, static_cast<uint32_t>(input_capacity_),
                        kUsageStorage | kUsageCopyDst | kUsageCopySrc);
    }
    if (!inputs_.empty()) pre.write_buffer(kInputBufferId, 0, inputs_.data(), static_cast<uint32_t>(inputs_.size()));
    stream_ = pre.words();
    stream_.insert(stream_.end(), rec_.words().begin(), rec_.words().end());
    for (uint32_t id : deferred_destroy_) {
      stream_.insert(stream_.end(), {static_cast<uint32_t>(Cmd::destroy_buffer), 1u, id});
    }
    return stream_;
  }

  void stream_done() override {
    rec_.clear();
    rec_.reset_counters();
    fused_dispatches_ = 0;
    subgroup_dispatches_ = 0;
    l2_warm_dispatches_ = 0;
    few_token_dispatches_ = 0;
    uniforms_.clear();
    inputs_.clear();
    deferred_destroy_.clear();
    stream_.clear();
    staged_.clear();
  }

  uint32_t recorded_dispatches() const override { return rec_.n_dispatches(); }
  uint32_t recorded_fused_dispatches() const override { return fused_dispatches_; }
  uint32_t recorded_subgroup_dispatches() const override { return subgroup_dispatches_; }
  uint32_t recorded_l2_warm_dispatches() const override { return l2_warm_dispatches_; }
  uint32_t recorded_few_token_dispatches() const override { return few_token_dispatches_; }

 private:
  struct Owned {
    uint64_t size;
    std::string component;
    MemCategory category;
    MemoryTracker* tracker;
  };

  // ---- buffers -------------------------------------------------------------

  Status ensure_arena(size_t bytes) {
    if (bytes <= arena_bytes_) return Status::Ok();
    const uint64_t size = round_up(std::max<uint64_t>(bytes + bytes / 4, 1 << 20), 4096);
    const uint64_t capped = std::min<uint64_t>(size, max_binding_);
    if (capped < bytes) {
      return out_of_memory(strformat("the step's activations need %s, more than the device's largest binding (%s); "
                                     "use a smaller batch",
                                     format_bytes(bytes).c_str(), format_bytes(max_binding_).c_str()));
    }
    // The old arena may still be read by work recorded earlier in this
    // stream: it is destroyed when the stream ends.
    if (arena_id_) {
      deferred_destroy_.push_back(arena_id_);
      if (tracker_) tracker_->release("webgpu.activations", MemCategory::activations, arena_bytes_);
    }
    arena_id_ = next_id_++;
    arena_bytes_ = capped;
    rec_.create_buffer(arena_id_, static_cast<uint32_t>(capped), kUsageStorage | kUsageCopySrc | kUsageCopyDst);
    if (tracker_) tracker_->add("webgpu.activations", MemCategory::activations, capped);
    return Status::Ok();
  }

  // The buffer of split decode attention's partial results (m, l, o per
  // head and chunk), grown like the arena.
  Status ensure_attention_scratch(uint64_t bytes) {
    if (bytes <= scratch_bytes_) return Status::Ok();
    const uint64_t size = round_up(std::max<uint64_t>(bytes + bytes / 4, 64 << 10), 4096);
    if (size > max_binding_) return out_of_memory("decode attention's scratch exceeds the device's largest binding");
    if (scratch_id_) {
      deferred_destroy_.push_back(scratch_id_);
      if (tracker_) tracker_->release("webgpu.attention_scratch", MemCategory::activations, scratch_bytes_);
    }
    scratch_id_ = next_id_++;
    scratch_bytes_ = size;
    rec_.create_buffer(scratch_id_, static_cast<uint32_t>(size), kUsageStorage);
    if (tracker_) tracker_->add("webgpu.attention_scratch", MemCategory::activations, size);
    return Status::Ok();
  }

  // Host bytes for the inputs buffer; returns their offset in 4-byte words.
  uint32_t stage_input(const void* data, size_t bytes) {
    const size_t off = round_up(inputs_.size(), 16);
    inputs_.resize(off + round_up(bytes, 4));
    std::memcpy(inputs_.data() + off, data, bytes);
    return static_cast<uint32_t>(off / 4);
  }

  // WebGpuBackend::upload_tensor, here beside the buffer helpers it uses.
  Status upload_tensor(const void* id, const TensorSource& source, DType type, int64_t ne0, int64_t n_rows,
                       MemoryTracker* tracker) override {
    return upload_tensor_as(id, source, type, ne0, n_rows, tracker, "weights");
  }
  // ... with its buffers reported as the component webgpu.<component>.
  Status upload_tensor_as(const void* id, const TensorSource& source, DType type, int64_t ne0, int64_t n_rows,
                          MemoryTracker* tracker, const std::string& component) {
    if (!weight_type_supported(type)) {
      return unsupported(strformat("the WebGPU kernels do not read %s tensors yet", dtype_name(type)));
    }
    if (!id || ne0 <= 0 || n_rows <= 0 || ne0 % block_size(type) != 0 || ne0 > 0xffffffffll) {
      return invalid_argument(strformat("cannot upload a %s tensor of %lld x %lld", dtype_name(type),
                                        static_cast<long long>(ne0), static_cast<long long>(n_rows)));
    }
    if (weights_.count(id)) return Status::Ok();
    GpuWeight gw;
    gw.type = type;
    gw.K = static_cast<uint32_t>(ne0);
    const uint64_t rows = static_cast<uint64_t>(n_rows);
    const uint64_t row_bytes_file = row_bytes(type, ne0);
    // device bytes per row: the same as in the file for f32/f16/q8_0/q4_0
    // (q8_0/q4_0 move the scales behind the values, two per word); the
    // bit-plane types' for one row bound the average of several (their
    // groups and shared scale words round up per row)
    const PlaneSize row_planes = plane_size(type, gw.K / kBlock);
    const uint64_t row_bytes_device =
        has_block_format(type) ? 4 * (row_planes.value_words + row_planes.scale_words) : row_bytes_file;
    uint64_t max_rows = std::max<uint64_t>(1, (max_binding_ - 8) / row_bytes_device);
    max_rows = std::min<uint64_t>(max_rows, 8ull * cfg_.max_workgroups_per_dim);  // matvec: 8 rows per workgroup
    if (is_block_quant(type)) max_rows = std::max<uint64_t>(2, max_rows / 2 * 2);  // whole scale words per part
    for (uint64_t r0 = 0; r0 < rows; r0 += max_rows) {
      const uint64_t nr = std::min(max_rows, rows - r0);
      WeightPart p;
      p.row0 = static_cast<uint32_t>(r0);
      p.rows = static_cast<uint32_t>(nr);
      const uint64_t file_bytes = nr * row_bytes_file;
      // The part's bytes from wasm memory or from the source.
      auto write = [&](uint32_t buffer) {
        if (source.host) {
          rec_.write_buffer(buffer, 0, static_cast<const uint8_t*>(source.host) + r0 * row_bytes_file,
                            static_cast<uint32_t>(file_bytes));
        } else {
          rec_.upload_from_source(buffer, 0, source.file_offset + r0 * row_bytes_file, static_cast<uint32_t>(file_bytes));
        }
      };
      if (!is_block_quant(type) && !has_block_format(type)) {
        p.bytes = round_up(file_bytes, 4);
        WA_ASSIGN_OR_RETURN(p.buffer, create_buffer(p.bytes, component, MemCategory::weights, tracker));
        write(p.buffer);
      } else {
        const uint64_t n_blocks = nr * (gw.K / kBlock);
        const bool block_format = has_block_format(type);
        const PlaneSize ps = plane_size(type, n_blocks);
        const uint64_t vwords = block_format ? ps.value_words : n_blocks * value_words(type);
        p.scales_word = static_cast<uint32_t>(vwords);
        p.bytes = 4 * (vwords + (block_format ? ps.scale_words : (n_blocks + 1) / 2));
        WA_ASSIGN_OR_RETURN(p.buffer, create_buffer(p.bytes, component, MemCategory::weights, tracker));
        // The file's bytes go to a staging buffer; repack.wgsl rewrites them.
        const uint32_t raw = next_id_++;
        rec_.create_buffer(raw, static_cast<uint32_t>(round_up(file_bytes, 4)), kUsageStorage | kUsageCopyDst);
        write(raw);
        RepackParams rp;
        rp.n_blocks = static_cast<u32>(n_blocks);
        rp.block_bytes = static_cast<u32>(type_traits(type)->block_bytes);
        rp.w_scales = p.scales_word;
        // repack.wgsl: an invocation per pair of blocks; repack_q.wgsl, repack_vq.wgsl: per block
        const uint32_t groups = ceil_div(block_format ? n_blocks : ceil_div(n_blocks, 2), 256);
        const uint32_t gx = std::min(groups, cfg_.max_workgroups_per_dim);
        const uint32_t bufs[] = {raw, p.buffer};
        const uint32_t pipe = pipeline(!block_format ? std::string("repack")
                                       : is_vq(type) ? std::string("repack_vq.") + dtype_name(type)
                                                     : std::string("repack_q.") + dtype_name(type));
        rec_.dispatch(pipe, gx, ceil_div(groups, gx), 1, push_params(rp), bufs);
        // At once, not at the end of the stream: a model's staging buffers
        // would otherwise all live until its upload ends (twice its size).
        rec_.destroy_buffer(raw);
      }
      gw.parts.push_back(p);
    }
    if (is_vq(type)) {
      const Status st = acquire_codebook(type);
      if (!st.ok()) {
        for (const WeightPart& p : gw.parts) release_buffer(p.buffer);
        return st;
      }
    }
    weights_[id] = std::move(gw);
    return Status::Ok();
  }

  // The codebook of a vq type on the device (quant::vq_codebook_words, read
  // by mv4_vq.wgsl): one buffer per type, uploaded with the first tensor of
  // the type and released with the last, bound to every pipeline that
  // decodes the type (codebook_pipelines_, dispatch()).
  Status acquire_codebook(DType type) {
    VqCodebook& cb = vq_codebooks_[type];
    if (cb.users++ > 0) return Status::Ok();
    const std::span<const uint32_t> words = quant::vq_codebook_words(type);
    auto id = create_buffer(words.size_bytes(), "vq_codebook", MemCategory::weights, tracker_);
    if (!id.ok()) {
      cb.users = 0;
      return id.status();
    }
    cb.buffer = id.value();
    rec_.write_buffer(cb.buffer, 0, words.data(), static_cast<uint32_t>(words.size_bytes()));
    return Status::Ok();
  }
  void release_codebook(DType type) {
    auto it = vq_codebooks_.find(type);
    if (it == vq_codebooks_.end() || --it->second.users > 0) return;
    release_buffer(it->second.buffer);
    vq_codebooks_.erase(it);
  }

  const GpuWeight* weight_of(const Node* n) const {
    if (!n || !n->is_leaf() || n->storage != Storage::external || !n->weight_id) return nullptr;
    auto it = weights_.find(n->weight_id);
    return it == weights_.end() ? nullptr : &it->second;
  }

  // Buffer and element offset of a tensor in device memory.
  Result<Loc> locate(const Node* n) {
    switch (n->storage) {
      case Storage::arena:
        return Loc{arena_id_, static_cast<uint32_t>(n->arena_offset / 4)};
      case Storage::view: {
        WA_ASSIGN_OR_RETURN(Loc l, locate(n->src[0]));
        l.offset += static_cast<uint32_t>(static_cast<uint64_t>(n->view_first) * n->src[0]->nb[1] / 4);
        return l;
      }
      case Storage::alias:
        return locate(n->src[1]);
      case Storage::external: {
        if (n->device_buffer) return Loc{n->device_buffer, 0};
        if (const GpuWeight* w = weight_of(n)) {
          if (w->parts.size() != 1) return unsupported("a split weight used as an elementwise operand");
          return Loc{w->parts[0].buffer, 0};
        }
        // A host input of this step (token ids): staged once per graph.
        auto it = input_locs_.find(n);
        if (it != input_locs_.end()) return it->second;
        if (!n->data) return internal_error(strformat("leaf '%s' has no data", n->name.c_str()));
        const Loc l{kInputBufferId, stage_input(n->data, n->bytes())};
        input_locs_[n] = l;
        return l;
      }
    }
    return internal_error("unknown storage");
  }

  static uint32_t stride(const Node* n) { return static_cast<uint32_t>(n->nb[1] / 4); }

  // The fusions of `graph` (fusion_plan.h), against this device's weights and limits.
  void plan_fusions(Graph& graph) {
    plan_.build(graph, {cfg_.l2_warm, cfg_.max_storage_buffers}, [this](const Node* n) { return weight_of(n); });
  }

  // ---- pipelines -----------------------------------------------------------

  // The pipeline of `key` (kernel[.variant], made by the *_kernel()
  // functions below), created on first use from its program
  // (kernel_sources.cpp).
  uint32_t pipeline(const std::string& key) {
    auto it = pipelines_.find(key);
    if (it != pipelines_.end()) return it->second;
    KernelSourceInputs in;
    if (auto m = matvec4_shapes_.find(key); m != matvec4_shapes_.end()) in.matvec4 = &m->second;
    if (auto a = attention_split_shapes_.find(key); a != attention_split_shapes_.end()) in.attention_split = &a->second;
    in.subgroup_min_size = cfg_.subgroup_min_size;
    in.matmul_tile = matmul_tile();
    KernelSource ks = kernel_source(key, in);
    std::string& src = ks.src;
    const KernelLayout layout = ks.layout;
    const uint32_t id = static_cast<uint32_t>(pipelines_.size()) + 1;
    if (ks.codebook != DType::f32) codebook_pipelines_[id] = ks.codebook;
    sources_.push_back(std::move(src));
    labels_.push_back(key);
    rec_.create_pipeline(id, layout.rw_mask, layout.n_storage, sources_.back(), labels_.back());
    pipelines_[key] = id;
    if (sources_.back().rfind("enable subgroups;", 0) == 0) subgroup_pipelines_.insert(id);
    return id;
  }

  // matmul.wgsl's output tile (weight rows x tokens; multiples of 64, the
  // loaders' and the invocation grid's unit): 128 x 64 where its two k-step
  // tiles (32 values deep, f32: 24 KiB) fit the device's workgroup storage,
  // else 64 x 64 (16 KiB, WebGPU's default limit). Measured on an H200
  // (7B q4_0 pp512, 2026-11-27): 345 ms in matmuls at 128 x 64, 358 ms at
  // 128 x 128 (twice the registers, half the workgroups: a 4096-row matrix
  // of 512 tokens is one wave of 128), 475 ms at 64 x 64.
  MatmulTile matmul_tile() const {
    constexpr MatmulTile kLarge{128, 64};
    const uint32_t value_bytes = cfg_.shader_f16 ? 2 : 4;  // matmul_kernel()'s tiles
    if ((kLarge.rows + kLarge.tokens) * 32 * value_bytes <= cfg_.max_workgroup_storage) return kLarge;
    return {64, 64};
  }
  // The prompt matmul's pipeline: f16 tiles where the device has shader-f16
  // (twice the multiply-add rate; activations rounded to f16, sums over 32
  // terms in f16, then f32), else f32.
  std::string matmul_kernel(DType w) const {
    return std::string(cfg_.shader_f16 ? "matmul_h." : "matmul.") + dtype_name(w);
  }

  // get_rows' pipeline: get_rows.<table's type>, or with hot rows
  // get_rows_hot_<hot rows' type>.<table's type>.
  static std::string get_rows_kernel(const Node& n) {
    const std::string table = dtype_name(n.src[0]->type);
    return n.src[2] ? std::string(kGetRowsHot) + dtype_name(n.src[2]->type) + "." + table : "get_rows." + table;
  }

  // attention_split.wgsl's pipeline for node n: one per head size and cache
  // type (pipeline() makes them constants), with RoPE and the cache stores
  // folded in or not.

  std::string attention_split_kernel(const Node& n, bool rope) const {
    const bool warm = rope && plan_.warm_targets.count(&n) != 0;
    const AttentionSplitShape shape{static_cast<uint32_t>(n.ip[2]), n.src[1]->type == DType::f16, warm};
    std::string k = std::string(rope ? "attention_split_rope" : "attention_split") +
                    strformat(".h%u%s%s", shape.head_dim, shape.f16 ? "f16" : "f32", warm ? ".warm" : "");
    attention_split_shapes_.emplace(k, shape);
    return k;
  }
  // attention.wgsl's blocks of 64 queries, and its pipeline: one per count of
  // 32-dim chunks of a head, which sizes each invocation's output registers.
  static constexpr uint32_t kAttentionQueries = 64;
  static std::string attention_kernel(const Node& n) { return "attention." + std::to_string(ceil_div(n.ip[2], 32)); }

  // The pipeline a node runs on (its kernel and variant).
  uint32_t pipeline_for(const Node& n) {
    switch (n.op) {
      case Op::mul_mat:
        if (few_token_matvec(n)) return pipeline(matvec_tokens_kernel(n.src[0]->type));
        if (n.src[1]->ne[1] != 1) return pipeline(matmul_kernel(n.src[0]->type));
        // encode_matvec's choice where x is 16-byte aligned, as arena tensors are
        if (n.src[0]->ne[0] % kBlock != 0) return pipeline(std::string("matvec.") + dtype_name(n.src[0]->type));
        return pipeline(matvec4_kernel(MatvecMode::plain, false, n.src[0]->type, n.src[0]->ne[0], n.ne[0]));
      case Op::get_rows: return pipeline(get_rows_kernel(n));
      case Op::rms_norm: return pipeline("rms_norm");
      case Op::add: case Op::mul:
        return pipeline(weight_of(n.src[1]) ? "elementwise.w" : "elementwise.act");
      case Op::scale: case Op::silu: case Op::swiglu: return pipeline("elementwise.act");
      case Op::rope: return pipeline("rope");
      case Op::kv_store: return pipeline("kv_store");
      case Op::attention:
        if (split_decode_attention(n)) {
          pipeline("attention_combine");
          return pipeline(attention_split_kernel(n, plan_.rope_in_attention.count(&n) != 0));
        }
        return pipeline(attention_kernel(n));
      case Op::argmax: return pipeline("argmax");
      case Op::sample: return pipeline(n.src[1] ? "sample.window" : "sample");
      default: return 0;
    }
  }

  template <class P>
  uint32_t push_params(const P& p) {
    const size_t off = uniforms_.size();
    uniforms_.resize(off + slot_bytes_);
    std::memcpy(uniforms_.data() + off, &p, sizeof(P));
    return static_cast<uint32_t>(off);
  }

  // ---- ops -----------------------------------------------------------------

  std::string unsupported_reason(const Node& n) const {
    auto f32 = [](const Node* x) { return x && x->type == DType::f32; };
    switch (n.op) {
      case Op::none: return {};
      case Op::mul_mat: {
        const GpuWeight* w = weight_of(n.src[0]);
        if (!w || !matrix_type_supported(w->type)) return "the matrix is not a device weight";
        if (!f32(n.src[1])) return "activations must be f32";
        return {};
      }
      case Op::get_rows: {
        const GpuWeight* table = weight_of(n.src[0]);
        if (!table || !matrix_type_supported(table->type)) return "the table is not a device weight";
        if (n.src[1]->type != DType::i32) return "ids must be i32";
        return n.src[2] ? hot_rows_reason(n, *table) : "";
      }
      case Op::rms_norm:
        if (!f32(n.src[0])) return "input must be f32";
        if (!n.src[1] || !weight_of(n.src[1]) || n.src[1]->type != DType::f32) return "needs an f32 weight";
        return {};
      case Op::add: case Op::mul: case Op::swiglu:
        if (!f32(n.src[0]) || !f32(n.src[1])) return "operands must be f32";
        if (n.src[1]->ne[0] != n.src[0]->ne[0]) return "operand widths differ";
        if (n.op == Op::swiglu && weight_of(n.src[1])) return "swiglu operands must be activations";
        return {};
      case Op::scale: case Op::silu: case Op::argmax:
        return f32(n.src[0]) ? "" : "input must be f32";
      case Op::sample: {
        if (!f32(n.src[0])) return "input must be f32";
        if (sampling_candidates(sampling_of(n), static_cast<int>(n.src[0]->ne[0])) > kDeviceSamplingMaxCandidates) {
          return strformat("more than %d candidates (top-k)", kDeviceSamplingMaxCandidates);
        }
        const Node* w = n.src[1];
        if (!w) return {};
        if (w->type != DType::i32 || !w->device_buffer) return "the penalty window must be i32 words in device memory";
        const int64_t capacity = w->ne[0] - kPenaltyWindowHeader;
        if (capacity < 1 || capacity > kDevicePenaltyMaxWindow ||
            !device_penalty_supported(n.fp[4], static_cast<int>(capacity))) {
          return strformat("a repetition penalty of %g over %lld ids (the kernel takes positive normal penalties over "
                           "windows of 1 to %d ids)",
                           static_cast<double>(n.fp[4]), static_cast<long long>(capacity), kDevicePenaltyMaxWindow);
        }
        return {};
      }
      case Op::rope:
        if (!f32(n.src[0])) return "input must be f32";
        if (n.src[2] && (!n.src[2]->data || n.src[2]->type != DType::f32)) return "frequency factors must be f32 host data";
        return n.src[1]->data ? "" : "positions must be host data";
      case Op::kv_store: {
        const Node* c = cache_leaf(n);
        if (!c->device_buffer) return "the cache is not in device memory";
        if (c->type == DType::f16 && n.src[0]->ne[0] % 2 != 0) return "f16 cache rows must be even";
        if (c->type == DType::f16 && n.ip[1] && c->ne[0] % 2 != 0) return "f16 transposed cache needs an even n_ctx";
        return (c->type == DType::f32 || c->type == DType::f16) ? "" : "cache must be f32 or f16";
      }
      case Op::attention:
        if (n.ip[2] > 256) return "head_dim above 256";
        if (n.src[1]->type != n.src[2]->type) return "K and V caches differ in type";
        return {};
      default: return "no WebGPU kernel";
    }
  }

  // Why get_rows node n cannot read its hot rows (get_rows_hot.wgsl), or "".
  std::string hot_rows_reason(const Node& n, const GpuWeight& table) const {
    const GpuWeight* rows = weight_of(n.src[2]);
    const GpuWeight* ids = weight_of(n.src[3]);
    if (!rows || !ids) return "the hot rows or their ids are not device weights";
    if (!has_flat_access(rows->type)) {
      return strformat("hot rows of type %s (the lookup reads f32, f16, q8_0 or q4_0 hot rows)",
                       dtype_name(rows->type));
    }
    if (ids->type != DType::i32 || ids->parts.size() != 1 || ids->parts[0].rows != 1) {
      return "hot ids must be one i32 row";
    }
    if (rows->K != table.K) return "the hot rows are not as wide as the table";
    // One buffer each: the kernel binds the whole hot table beside every
    // part of the table (1024 q8_0 rows of 4096 are 4.25 MiB).
    if (rows->parts.size() != 1) return "the hot rows exceed one device buffer";
    if (ids->K != rows->parts[0].rows) return "hot ids and hot rows differ in count";
    const uint32_t bindings = 5 + (is_vq(table.type) ? 1 : 0);  // (+ the vq codebook)
    if (bindings > cfg_.max_storage_buffers) {
      return strformat("hot rows need %u storage buffers per kernel, the device has %u", bindings,
                       cfg_.max_storage_buffers);
    }
    return {};
  }

  void dispatch(uint32_t pipe, uint32_t x, uint32_t y, uint32_t uniform, std::span<const uint32_t> bufs) {
    if (auto it = codebook_pipelines_.find(pipe); it != codebook_pipelines_.end()) {
      // the vq type's codebook, after the kernel's own buffers (pipeline())
      auto cb = vq_codebooks_.find(it->second);
      WA_ASSERT(cb != vq_codebooks_.end() && bufs.size() < kMaxStorageBindings);  // a weight of the type is on the device
      uint32_t with[kMaxStorageBindings];
      std::copy(bufs.begin(), bufs.end(), with);
      with[bufs.size()] = cb->second.buffer;
      rec_.dispatch(pipe, x, y, 1, uniform, std::span<const uint32_t>(with, bufs.size() + 1));
    } else {
      rec_.dispatch(pipe, x, y, 1, uniform, bufs);
    }
    if (subgroup_pipelines_.count(pipe)) ++subgroup_dispatches_;
  }
  void dispatch(uint32_t pipe, uint32_t x, uint32_t y, uint32_t uniform, std::initializer_list<uint32_t> bufs) {
    dispatch(pipe, x, y, uniform, std::span<const uint32_t>(bufs.begin(), bufs.size()));
  }

  // A 1-D grid of `items` invocations in groups of 256, folded into y when it
  // exceeds the per-dimension limit (kernels rebuild the index from num_workgroups).
  std::pair<uint32_t, uint32_t> grid_1d(uint64_t items) const {
    const uint32_t groups = std::max<uint32_t>(1, ceil_div(items, 256));
    const uint32_t gx = std::min(groups, cfg_.max_workgroups_per_dim);
    return {gx, ceil_div(groups, gx)};
  }


  // Whether reductions run on subgroup operations (the `_sg` pipelines:
  // matvec4's row totals, mv4_sum_sg.wgsl) rather than through workgroup
  // memory: wherever the device has subgroups. Measured on an H200 (7B
  // q4_0 decode, GPU time per token, 2026-11-27): the matvec4 kernels took
  // 3.48 ms with subgroups and 3.72 without (gate/up + SwiGLU with the norm
  // 1.18 vs 1.32, Q/K/V 0.97 vs 1.04). Not used for rms_norm.wgsl and
  // argmax.wgsl (one dispatch each per token): subgroup variants measured
  // the same there (argmax 44 us, rms_norm 15 us either way; their time is
  // loads, not the reduction).
  bool subgroup_reductions() const { return cfg_.subgroups; }

  // How a decode matvec of `rows` rows (summed over a multi dispatch's
  // matrices) and row length K runs: int8 x where the type has the dot, the
  // WGSL has dot4I8Packed and x fits the workgroup's memory.
  MatvecShape matvec_shape_for(MatvecMode mode, DType t, uint64_t K, uint64_t rows) const {
    MatvecShape s = matvec_shape(mode, t, rows, false);
    if (cfg_.packed_dot && has_int8_dot(t)) {
      const MatvecShape s8 = matvec_shape(mode, t, rows, true);
      const uint32_t capacity = int8_x_capacity(s8, mode, cfg_.max_workgroup_storage);
      const uint64_t nb = K / kBlock;
      if (nb <= capacity) {
        s = s8;
        if (cfg_.matvec_rows != 0) {
          s.rows = cfg_.matvec_rows;
          s.blocks_in_flight = cfg_.matvec_blocks_in_flight;
          if (cfg_.matvec_groups != 0) s.groups = cfg_.matvec_groups;
          if (cfg_.matvec_unit != 0) s.unit = cfg_.matvec_unit;
        }
        if (nb % s.unit != 0) s.unit = 1;
        // Only as much workgroup memory as x needs (in steps of 32 blocks: a
        // model has two or three row lengths, so few pipelines): Dawn
        // zero-fills a kernel's workgroup memory at the start of every
        // workgroup, and smaller allocations let more workgroups share a GPU
        // core. Measured on the H100 (7B q4_0 decode, 2026-11-27): Q/K/V +
        // norm 0.55 -> 0.37 ms per token, gate/up + norm 0.92 -> 0.74 with
        // K = 4096 at 128 blocks instead of 512. SwiftShader compiles the
        // zero-fill per element (a q4_0 matvec at 512 blocks: 8.9 s, at 16: 2.0 s).
        s.x_blocks = std::min<uint32_t>(capacity, static_cast<uint32_t>(round_up(nb, 32)));
      }
    }
    s.subgroups = subgroup_reductions();
    return s;
  }
  // The pipeline key of a matvec4.wgsl instance, e.g. matvec4_glu_norm_x8_sg_r4u2c128.q4_0 (c: x_blocks, int8 x
  // only; then w: groups other than 8, k: units of more than one block, t: tokens per dispatch).
  std::string matvec4_kernel(MatvecMode mode, bool norm, DType t, uint64_t K, uint64_t rows) const {
    return matvec4_kernel(mode, norm, t, matvec_shape_for(mode, t, K, rows));
  }
  // (from_attention: x merged from a split decode attention's chunks,
  // mvx_from_attention.wgsl; int8 x only)
  // The key names the whole shape (pipelines are cached by key), and the
  // shape is recorded beside it for pipeline() to build the source from.
  std::string matvec4_kernel(MatvecMode mode, bool norm, DType t, const MatvecShape& s,
                             bool from_attention = false, bool warm = false) const {
    std::string k = mode == MatvecMode::glu ? "matvec4_glu" : mode == MatvecMode::multi ? "matvec4_multi" : "matvec4";
    k += (norm ? "_norm" : "") + std::string(from_attention ? "_attn" : "") + (warm ? "_warm" : "") +
         (s.int8_x ? "_x8" : "") +
         (s.subgroups ? "_sg" : "") + "_r" + std::to_string(s.rows) + "u" + std::to_string(s.blocks_in_flight) +
         (s.int8_x ? strformat("c%u", s.x_blocks) : std::string()) +
         (s.groups != 8 ? strformat("w%u", s.groups) : std::string()) +
         (s.unit != 1 ? strformat("k%u", s.unit) : std::string()) +
         (s.tokens != 1 ? strformat("t%u", s.tokens) : std::string()) + "." + dtype_name(t);
    matvec4_shapes_.emplace(k, s);
    return k;
  }

  // The x a decode matvec reads: its input node, or for a norm its
  // matvecs compute (active_norms_), the norm's input h, weight and eps.
  struct MatvecInput {
    Loc x;
    bool norm = false;
    Loc g;
    float eps = 0;
    const AttentionFold* attention = nullptr;  // x is merged from these chunks instead
  };
  Result<MatvecInput> matvec_input(const Node* x) {
    MatvecInput in;
    if (active_norms_.count(x)) {
      WA_ASSIGN_OR_RETURN(in.x, locate(x->src[0]));
      WA_ASSIGN_OR_RETURN(in.g, locate(x->src[1]));
      in.norm = true;
      in.eps = x->fp[0];
    } else {
      WA_ASSIGN_OR_RETURN(in.x, locate(x));
    }
    return in;
  }

  // One matvec4.wgsl dispatch over `rows` rows (all matrices' in MODE 2):
  // mp's matrix fields filled by the caller, wg1/wg2 in rows (MODE 2); with
  // `warm`, kGluWarmGroups more workgroups warm the L2 (mv4_warm.wgsl).
  void dispatch_matvec4(MatvecMode mode, DType t, const MatvecInput& in, MatvecParams mp, uint64_t rows,
                        const uint32_t (&w)[3], uint32_t act, const GluWarm* warm = nullptr) {
    const MatvecShape shape = matvec_shape_for(mode, t, mp.K, rows);
    const uint32_t per_wg = shape.rows_per_workgroup();
    mp.x_off = in.x.offset;
    if (in.norm) {
      mp.norm_off = in.g.offset;
      mp.eps = in.eps;
    }
    uint32_t groups = ceil_div(mp.n0, per_wg);
    if (mode == MatvecMode::multi) {
      mp.wg1 = ceil_div(mp.n0, per_wg);
      mp.wg2 = mp.wg1 + ceil_div(mp.n1, per_wg);
      groups = mp.wg2 + ceil_div(mp.n2, per_wg);
    } else {
      mp.wg1 = mp.wg2 = ~0u;
    }
    uint32_t third = in.norm ? in.g.buffer : w[0];  // nw: the norm's weights, or the attention's chunks
    if (in.attention) {
      mp.head_dim = in.attention->head_dim;
      mp.n_chunks = in.attention->n_chunks;
      third = scratch_id_;
    }
    if (warm) {  // (mv4_warm.wgsl's workgroups after the rows')
      ++l2_warm_dispatches_;
      mp.warm_wg = groups;
      mp.warm_groups = kGluWarmGroups;
      mp.warm_words = warm->words;
      groups += kGluWarmGroups;
    }
    const uint32_t pipe = pipeline(matvec4_kernel(mode, in.norm, t, shape, in.attention != nullptr, warm != nullptr));
    const Matvec4Bindings binds = matvec4_bindings(mode, in.norm || in.attention);
    uint32_t bufs[7];
    uint32_t nb = 0;
    bufs[nb++] = w[0];
    if (binds.w1) bufs[nb++] = w[1];
    if (binds.w2) bufs[nb++] = w[2];
    if (binds.nw) bufs[nb++] = third;
    if (warm) {
      bufs[nb++] = warm->gate;
      bufs[nb++] = warm->up;
    }
    bufs[nb++] = act;
    dispatch(pipe, groups, 1, push_params(mp), std::span<const uint32_t>(bufs, nb));
    if (in.norm || in.attention) ++fused_dispatches_;
  }

  // Whether split decode attention `a` (its chunks just recorded) leaves
  // the merge to the o projection that is its only reader
  // (mvx_from_attention.wgsl): where that matvec takes int8 x from a
  // vec4-aligned x, and for few chunks (each of its workgroups merges
  // every head: n_chunks * n_head * (head_dim + 4) floats).
  bool fold_attention_combine(const Node& a, const AttentionParams& p, const Loc& y) {
    static constexpr uint32_t kMaxFoldedChunks = 8;
    auto it = plan_.combine_folds.find(&a);
    if (it == plan_.combine_folds.end() || p.n_chunks > kMaxFoldedChunks || y.offset % 4 != 0) return false;
    const GpuWeight& w = *weight_of(it->second->src[0]);
    uint64_t rows = 0;
    for (const WeightPart& part : w.parts) rows = std::max<uint64_t>(rows, part.rows);
    if (!matvec_shape_for(MatvecMode::plain, w.type, w.K, rows).int8_x) return false;
    folded_attentions_[&a] = AttentionFold{p.head_dim, p.n_chunks};
    return true;
  }

  // The fused RoPE + cache stores of attention node `a` (FusionPlan).
  Status encode_rope_kv(const Node& a) {
    const Node& qr = *a.src[0];
    const Node& ks = *a.src[1];
    const Node& vs = *a.src[2];
    const Node& kr = *ks.src[0];
    const Node* kc = cache_leaf(ks);
    const Node* vc = cache_leaf(vs);
    WA_ASSIGN_OR_RETURN(Loc q, locate(qr.src[0]));
    WA_ASSIGN_OR_RETURN(Loc qy, locate(&qr));
    WA_ASSIGN_OR_RETURN(Loc k, locate(kr.src[0]));
    WA_ASSIGN_OR_RETURN(Loc v, locate(vs.src[0]));
    RopeKvParams p;
    p.n_head = static_cast<u32>(qr.ip[0]);
    p.n_head_kv = static_cast<u32>(kr.ip[0]);
    p.head_dim = static_cast<u32>(qr.ip[1]);
    p.n_rot = static_cast<u32>(qr.ip[2]);
    p.neox = qr.ip[3] == static_cast<int32_t>(RopeMode::neox) ? 1 : 0;
    p.q_off = q.offset;
    p.qy_off = qy.offset;
    p.k_off = k.offset;
    p.v_off = v.offset;
    p.cs_q = rope_table(qr);
    p.cs_k = rope_table(kr);
    p.pos = static_cast<u32>(ks.ip[0]);
    p.n_ctx_v = static_cast<u32>(vc->ne[0]);
    p.f16 = kc->type == DType::f16 ? 1 : 0;
    const uint64_t items = uint64_t{p.n_head + p.n_head_kv} * (p.head_dim / 2) + uint64_t{p.n_head_kv} * p.head_dim;
    const auto [gx, gy] = grid_1d(items);
    dispatch(pipeline("rope_kv"), gx, gy, push_params(p), {qy.buffer, kInputBufferId, kc->device_buffer, vc->device_buffer});
    ++fused_dispatches_;
    return Status::Ok();
  }

  // Matvecs of one x fused by the FusionPlan, at the first's place. Where x
  // cannot be read as vec4s, one matvec each.
  Status encode_multi(const std::vector<const Node*>& group) {
    WA_ASSIGN_OR_RETURN(MatvecInput in, matvec_input(group[0]->src[1]));
    if (in.x.offset % 4 != 0) {
      for (const Node* m : group) WA_TRY(encode_matvec(*m, *m, nullptr));
      return Status::Ok();
    }
    const DType type = weight_of(group[0]->src[0])->type;
    MatvecParams mp;
    mp.K = weight_of(group[0]->src[0])->K;
    uint32_t n[3] = {0, 0, 0}, scales[3] = {0, 0, 0}, y[3] = {0, 0, 0}, bufs[3] = {0, 0, 0}, act = 0;
    for (size_t k = 0; k < 3; ++k) {
      const Node& m = *group[std::min(k, group.size() - 1)];
      const WeightPart& p = weight_of(m.src[0])->parts[0];
      WA_ASSIGN_OR_RETURN(Loc l, locate(&m));
      n[k] = k < group.size() ? p.rows : 0;
      scales[k] = p.scales_word;
      y[k] = l.offset;
      bufs[k] = p.buffer;
      act = l.buffer;
    }
    mp.n0 = n[0], mp.n1 = n[1], mp.n2 = n[2];
    mp.s0 = scales[0], mp.s1 = scales[1], mp.s2 = scales[2];
    mp.y0 = y[0], mp.y1 = y[1], mp.y2 = y[2];
    dispatch_matvec4(MatvecMode::multi, type, in, mp, uint64_t{n[0]} + n[1] + n[2], bufs, act);
    ++fused_dispatches_;
    return Status::Ok();
  }

  // A fused SwiGLU (FusionPlan): y = silu(G x) * (U x) into U x's memory.
  // Where x cannot be read as vec4s, the two matvecs run on their own and
  // the SwiGLU in place on U x (each element reads only its own index).
  Status encode_glu(const Node& n) {
    const Node& g = *n.src[0];
    const Node& u = *n.src[1];
    WA_ASSIGN_OR_RETURN(MatvecInput in, matvec_input(g.src[1]));
    if (in.x.offset % 4 != 0) {
      WA_TRY(encode_matvec(g, g, nullptr));
      WA_TRY(encode_matvec(u, u, nullptr));
      return encode(n);
    }
    WA_ASSIGN_OR_RETURN(Loc y, locate(&u));
    const GpuWeight& wg = *weight_of(g.src[0]);
    const GpuWeight& wu = *weight_of(u.src[0]);
    MatvecParams mp;
    mp.K = wg.K;
    mp.n0 = wg.parts[0].rows;
    mp.s0 = wg.parts[0].scales_word;
    mp.s1 = wu.parts[0].scales_word;
    mp.y0 = y.offset;
    dispatch_matvec4(MatvecMode::glu, wg.type, in, mp, mp.n0,
                     {wg.parts[0].buffer, wu.parts[0].buffer, wg.parts[0].buffer}, y.buffer);
    ++fused_dispatches_;
    return Status::Ok();
  }

  // A prompt's matrix product of at most kFewTokenPrompt tokens (or the
  // device config's few_token_prompt, for benchmarks), as matvec4
  // dispatches of up to kMatvecTokens columns each per weight part (x read
  // as f32 vec4s: whole 32-weight blocks; encode_few_token_matvec checks
  // x's alignment, which only the arena knows).
  bool few_token_matvec(const Node& n) const {
    if (n.op != Op::mul_mat) return false;
    const int64_t T = n.src[1]->ne[1];
    const uint32_t longest = cfg_.few_token_prompt != 0 ? cfg_.few_token_prompt : kFewTokenPrompt;
    return T > 1 && T <= longest && n.src[0]->ne[0] % kBlock == 0;
  }
  std::string matvec_tokens_kernel(DType t) const {
    MatvecShape s = matvec_tokens_shape(t);
    s.subgroups = subgroup_reductions();
    return matvec4_kernel(MatvecMode::plain, false, t, s);
  }
  // false where x's columns are not 16-byte aligned (the tiled matmul then
  // takes the product).
  Result<bool> encode_few_token_matvec(const Node& n) {
    const GpuWeight& w = *weight_of(n.src[0]);
    WA_ASSIGN_OR_RETURN(Loc x, locate(n.src[1]));
    WA_ASSIGN_OR_RETURN(Loc y, locate(&n));
    const uint32_t x_stride = stride(n.src[1]);
    if (x.offset % 4 != 0 || x_stride % 4 != 0) return false;
    const MatvecShape shape = matvec_tokens_shape(w.type);
    const uint32_t pipe = pipeline(matvec_tokens_kernel(w.type));
    const uint32_t T = static_cast<uint32_t>(n.src[1]->ne[1]);
    const uint32_t y_stride = stride(&n);
    for (uint32_t t0 = 0; t0 < T; t0 += kMatvecTokens) {
      for (const WeightPart& p : w.parts) {
        MatvecParams mp;
        mp.K = w.K;
        mp.x_off = x.offset + t0 * x_stride;
        mp.n0 = p.rows;
        mp.s0 = p.scales_word;
        mp.y0 = y.offset + t0 * y_stride + p.row0;
        mp.wg1 = mp.wg2 = ~0u;
        mp.T = std::min(kMatvecTokens, T - t0);
        mp.x_stride = x_stride;
        mp.y_stride = y_stride;
        const uint32_t bufs[2] = {p.buffer, y.buffer};
        dispatch(pipe, ceil_div(p.rows, shape.rows_per_workgroup()), 1, push_params(mp), bufs);
        ++few_token_dispatches_;
      }
    }
    return true;
  }

  // Decode matvec y = W x (+ r): `out` is the node whose memory receives y
  // (the matvec itself, or the residual add it absorbed, with r its other
  // operand). matvec4.wgsl where x can be read as vec4s and rows hold whole
  // 32-weight blocks, matvec.wgsl otherwise.
  Status encode_matvec(const Node& m, const Node& out, const Node* residual) {
    const GpuWeight& w = *weight_of(m.src[0]);
    WA_ASSIGN_OR_RETURN(MatvecInput in, matvec_input(m.src[1]));
    if (auto f = folded_attentions_.find(m.src[1]); f != folded_attentions_.end()) in.attention = &f->second;
    WA_ASSIGN_OR_RETURN(Loc y, locate(&out));
    Loc r{};
    if (residual) {
      WA_ASSIGN_OR_RETURN(r, locate(residual));
    }
    if (w.K % kBlock == 0 && in.x.offset % 4 == 0) {
      for (const WeightPart& p : w.parts) {
        MatvecParams mp;
        mp.K = w.K;
        mp.n0 = p.rows;
        mp.s0 = p.scales_word;
        mp.y0 = y.offset + p.row0;
        mp.add_r = residual ? 1 : 0;
        mp.r_off = residual ? r.offset + p.row0 : 0;
        const auto gw = plan_.glu_warms.find(&m);
        dispatch_matvec4(MatvecMode::plain, w.type, in, mp, p.rows, {p.buffer, p.buffer, p.buffer}, y.buffer,
                         in.attention && gw != plan_.glu_warms.end() ? &gw->second : nullptr);
      }
      return Status::Ok();
    }
    WA_ASSERT(!in.norm && !in.attention);  // fused norms, folded attentions: only where x is vec4-aligned
    const uint32_t pipe = pipeline(std::string("matvec.") + dtype_name(w.type));
    for (const WeightPart& p : w.parts) {
      MatmulParams mp;
      mp.K = w.K;
      mp.N = p.rows;
      mp.T = 1;
      mp.w_scales = p.scales_word;
      mp.x_off = in.x.offset;
      mp.x_stride = stride(m.src[1]);
      mp.y_off = y.offset + p.row0;
      mp.y_stride = stride(&out);
      mp.add_r = residual ? 1 : 0;
      mp.r_off = residual ? r.offset + p.row0 : 0;
      dispatch(pipe, ceil_div(p.rows, 8), 1, push_params(mp), {p.buffer, y.buffer});
    }
    return Status::Ok();
  }

  Status encode(const Node& n) {
    // A decode matvec picks its own kernel (a fused norm's variant, or matvec.wgsl).
    if (n.op == Op::mul_mat && n.src[1]->ne[1] == 1) return encode_matvec(n, n, nullptr);
    if (few_token_matvec(n)) {
      WA_ASSIGN_OR_RETURN(bool done, encode_few_token_matvec(n));
      if (done) return Status::Ok();
    }
    const uint32_t pipe = n.op == Op::mul_mat ? pipeline(matmul_kernel(n.src[0]->type)) : pipeline_for(n);
    WA_ASSIGN_OR_RETURN(Loc y, locate(&n));
    switch (n.op) {
      case Op::mul_mat: {
        const uint32_t T = static_cast<uint32_t>(n.src[1]->ne[1]);
        const GpuWeight& w = *weight_of(n.src[0]);
        WA_ASSIGN_OR_RETURN(Loc x, locate(n.src[1]));
        for (const WeightPart& p : w.parts) {
          MatmulParams mp;
          mp.K = w.K;
          mp.N = p.rows;
          mp.T = T;
          mp.w_scales = p.scales_word;
          mp.x_off = x.offset;
          mp.x_stride = stride(n.src[1]);
          mp.y_off = y.offset + p.row0;
          mp.y_stride = stride(&n);
          const MatmulTile tile = matmul_tile();
          dispatch(pipe, ceil_div(p.rows, tile.rows), ceil_div(T, tile.tokens), push_params(mp), {p.buffer, y.buffer});
        }
        return Status::Ok();
      }
      case Op::get_rows: {
        const GpuWeight& w = *weight_of(n.src[0]);
        WA_ASSIGN_OR_RETURN(Loc ids, locate(n.src[1]));
        // With hot rows (one buffer each: hot_rows_reason), every part's
        // dispatch binds them: a hot id is read there by the part that holds it.
        const WeightPart* hot = n.src[2] ? &weight_of(n.src[2])->parts[0] : nullptr;
        const uint32_t hot_ids = n.src[2] ? weight_of(n.src[3])->parts[0].buffer : 0;
        for (const WeightPart& p : w.parts) {
          GetRowsParams gp;
          gp.K = w.K;
          gp.row0 = p.row0;
          gp.n_rows = p.rows;
          gp.w_scales = p.scales_word;
          gp.ids_off = ids.offset;
          gp.y_off = y.offset;
          gp.y_stride = stride(&n);
          const uint32_t gx = ceil_div(w.K, 256), gy = static_cast<uint32_t>(n.ne[1]);
          if (hot) {
            gp.n_hot = hot->rows;
            gp.hot_scales = hot->scales_word;
            dispatch(pipe, gx, gy, push_params(gp), {p.buffer, y.buffer, ids.buffer, hot_ids, hot->buffer});
          } else {
            dispatch(pipe, gx, gy, push_params(gp), {p.buffer, y.buffer, ids.buffer});
          }
        }
        return Status::Ok();
      }
      case Op::rms_norm: {
        WA_ASSIGN_OR_RETURN(Loc x, locate(n.src[0]));
        WA_ASSIGN_OR_RETURN(Loc w, locate(n.src[1]));
        RmsNormParams p;
        p.D = static_cast<u32>(n.ne[0]);
        p.x_off = x.offset;
        p.x_stride = stride(n.src[0]);
        p.y_off = y.offset;
        p.y_stride = stride(&n);
        p.w_off = w.offset;
        p.eps = n.fp[0];
        dispatch(pipe, static_cast<uint32_t>(n.ne[1]), 1, push_params(p), {y.buffer, w.buffer});
        return Status::Ok();
      }
      case Op::add: case Op::mul: case Op::scale: case Op::silu: case Op::swiglu: {
        WA_ASSIGN_OR_RETURN(Loc a, locate(n.src[0]));
        ElementwiseParams p;
        p.D = static_cast<u32>(n.ne[0]);
        p.op = n.op == Op::add ? 0 : n.op == Op::mul ? 1 : n.op == Op::scale ? 2 : n.op == Op::silu ? 3 : 4;
        p.a_off = a.offset;
        p.a_stride = stride(n.src[0]);
        p.y_off = y.offset;
        p.y_stride = stride(&n);
        p.f = n.fp[0];
        const Node* b = n.src[1];
        if (b) {
          WA_ASSIGN_OR_RETURN(Loc bl, locate(b));
          p.b_off = bl.offset;
          p.b_stride = b->ne[1] == 1 ? 0 : stride(b);
          if (weight_of(b)) {
            dispatch(pipe, ceil_div(n.ne[0], 256), static_cast<uint32_t>(n.ne[1]), push_params(p), {y.buffer, bl.buffer});
            return Status::Ok();
          }
        }
        dispatch(pipe, ceil_div(n.ne[0], 256), static_cast<uint32_t>(n.ne[1]), push_params(p), {y.buffer});
        return Status::Ok();
      }
      case Op::rope: {
        WA_ASSIGN_OR_RETURN(Loc x, locate(n.src[0]));
        RopeParams p;
        p.n_head = static_cast<u32>(n.ip[0]);
        p.head_dim = static_cast<u32>(n.ip[1]);
        p.n_rot = static_cast<u32>(n.ip[2]);
        p.neox = n.ip[3] == static_cast<int32_t>(RopeMode::neox) ? 1 : 0;
        p.x_off = x.offset;
        p.x_stride = stride(n.src[0]);
        p.y_off = y.offset;
        p.y_stride = stride(&n);
        p.cs_off = rope_table(n);
        dispatch(pipe, ceil_div(static_cast<uint64_t>(p.n_head) * p.head_dim / 2, 256), static_cast<uint32_t>(n.ne[1]),
                 push_params(p), {y.buffer, kInputBufferId});
        return Status::Ok();
      }
      case Op::kv_store: {
        const Node* x = n.src[0];
        const Node* c = cache_leaf(n);
        WA_ASSIGN_OR_RETURN(Loc xl, locate(x));
        KvStoreParams p;
        p.width = static_cast<u32>(x->ne[0]);
        p.T = static_cast<u32>(x->ne[1]);
        p.pos = static_cast<u32>(n.ip[0]);
        p.transposed = n.ip[1] ? 1 : 0;
        p.n_ctx = static_cast<u32>(p.transposed ? c->ne[0] : c->ne[1]);
        p.f16 = c->type == DType::f16 ? 1 : 0;
        p.x_off = xl.offset;
        p.x_stride = stride(x);
        const uint64_t n_words_t = (uint64_t{p.pos} + p.T + 1) / 2 - p.pos / 2;
        const uint64_t items = !p.f16 ? uint64_t{p.width} * p.T
                               : !p.transposed ? uint64_t{p.width / 2} * p.T
                                               : uint64_t{p.width} * n_words_t;
        p.n_items = static_cast<u32>(items);
        const auto [gx, gy] = grid_1d(items);
        dispatch(pipe, gx, gy, push_params(p), {xl.buffer, c->device_buffer});
        return Status::Ok();
      }
      case Op::attention: {
        WA_ASSIGN_OR_RETURN(Loc q, locate(n.src[0]));
        WA_ASSIGN_OR_RETURN(Loc k, locate(n.src[1]));
        WA_ASSIGN_OR_RETURN(Loc v, locate(n.src[2]));
        AttentionParams p;
        p.n_head = static_cast<u32>(n.ip[0]);
        p.n_head_kv = static_cast<u32>(n.ip[1]);
        p.head_dim = static_cast<u32>(n.ip[2]);
        p.n_past = static_cast<u32>(n.ip[3]);
        p.q_off = q.offset;
        p.q_stride = stride(n.src[0]);
        p.y_off = y.offset;
        p.y_stride = stride(&n);
        p.k_row = static_cast<u32>(n.src[1]->ne[0]);
        p.v_row = static_cast<u32>(n.src[2]->ne[0]);
        p.f16 = n.src[1]->type == DType::f16 ? 1 : 0;
        p.scale = n.fp[0];
        if (split_decode_attention(n)) {
          // One query: split over chunks of 32 keys, then merged.
          p.n_chunks = ceil_div(p.n_past + 1, 32);
          // (+ 1 word: l2_warm.wgsl's sink)
          WA_TRY(ensure_attention_scratch((uint64_t{p.n_head} * p.n_chunks * (p.head_dim + 4) + 1) * 4));
          if (plan_.rope_in_attention.count(&n)) {
            // RoPE and the cache stores in the split kernel: q, k, v as the
            // matvecs left them (FusionPlan), read through one binding;
            // else rope_kv.wgsl first, here (as safe as in the kernel).
            const Node& qr = *n.src[0];
            const Node& kr = *n.src[1]->src[0];
            WA_ASSIGN_OR_RETURN(Loc qx, locate(qr.src[0]));
            WA_ASSIGN_OR_RETURN(Loc kx, locate(kr.src[0]));
            WA_ASSIGN_OR_RETURN(Loc vx, locate(n.src[2]->src[0]));
            if (qx.buffer == kx.buffer && qx.buffer == vx.buffer) {
              p.q_off = qx.offset;
              p.k_off = kx.offset;
              p.v_off = vx.offset;
              p.n_rot = static_cast<u32>(qr.ip[2]);
              p.neox = qr.ip[3] == static_cast<int32_t>(RopeMode::neox) ? 1 : 0;
              p.cs_q = rope_table(qr);
              p.cs_k = rope_table(kr);
              // (a row of workgroups after the chunks' stores the new key
              // and value; then kWarmRows rows warm the L2 for the next matvec)
              const auto warm = plan_.warm_targets.find(&n);
              if (warm != plan_.warm_targets.end()) {
                p.warm_groups = p.n_head * kWarmRows;
                p.warm_sink = p.n_head * p.n_chunks * (p.head_dim + 4);
              }
              const uint32_t u = push_params(p);
              const uint32_t pipe_split = pipeline(attention_split_kernel(n, true));
              if (warm != plan_.warm_targets.end()) {
                dispatch(pipe_split, p.n_head, p.n_chunks + 1 + kWarmRows, u,
                         {qx.buffer, k.buffer, v.buffer, scratch_id_, kInputBufferId, warm->second});
                ++l2_warm_dispatches_;
              } else {
                dispatch(pipe_split, p.n_head, p.n_chunks + 1, u, {qx.buffer, k.buffer, v.buffer, scratch_id_, kInputBufferId});
              }
              if (!fold_attention_combine(n, p, y)) dispatch(pipeline("attention_combine"), p.n_head, 1, u, {y.buffer, scratch_id_});
              ++fused_dispatches_;
              return Status::Ok();
            }
            WA_TRY(encode_rope_kv(n));
          }
          const uint32_t u = push_params(p);
          dispatch(pipeline(attention_split_kernel(n, false)), p.n_head, p.n_chunks, u, {q.buffer, k.buffer, v.buffer, scratch_id_});
          if (!fold_attention_combine(n, p, y)) dispatch(pipeline("attention_combine"), p.n_head, 1, u, {y.buffer, scratch_id_});
          return Status::Ok();
        }
        p.T = static_cast<u32>(n.ne[1]);
        dispatch(pipe, ceil_div(p.T, kAttentionQueries), p.n_head, push_params(p), {q.buffer, k.buffer, v.buffer});
        return Status::Ok();
      }
      case Op::argmax: {
        WA_ASSIGN_OR_RETURN(Loc x, locate(n.src[0]));
        ArgmaxParams p;
        p.n = static_cast<u32>(n.src[0]->ne[0]);
        p.x_off = x.offset;
        p.y_off = y.offset;
        dispatch(pipe, 1, 1, push_params(p), {y.buffer});
        return Status::Ok();
      }
      case Op::sample: {
        WA_ASSIGN_OR_RETURN(Loc x, locate(n.src[0]));
        const SamplingParams sp = sampling_of(n);
        SampleParams p;
        p.n = static_cast<u32>(n.src[0]->ne[0]);
        p.x_off = x.offset;
        p.y_off = y.offset;
        p.k = static_cast<u32>(sampling_candidates(sp, static_cast<int>(p.n)));
        p.temperature = sp.temperature;
        p.top_p = sp.top_p;
        p.min_p = sp.min_p;
        p.u = n.fp[3];
        p.penalty = n.fp[4];
        if (n.src[1]) {  // the window (its words say how many ids it holds)
          WA_ASSIGN_OR_RETURN(Loc w, locate(n.src[1]));
          dispatch(pipe, 1, 1, push_params(p), {y.buffer, w.buffer});
        } else {
          dispatch(pipe, 1, 1, push_params(p), {y.buffer});
        }
        return Status::Ok();
      }
      default:
        return unsupported(strformat("no WebGPU kernel for %s", op_name(n.op)));
    }
  }

  // cos/sin of every (token, frequency) of a rope node, computed on the host
  // exactly as the CPU reference computes them, staged once per graph for
  // nodes with the same positions and frequencies (q and k of every layer).
  uint32_t rope_table(const Node& n) {
    const int n_rot = n.ip[2];
    const float base = n.fp[0], fscale = n.fp[1];
    const float* freq_div = n.src[2] ? static_cast<const float*>(n.src[2]->data) : nullptr;
    const RopeTableKey key{n.src[1]->data, n_rot, base, fscale, freq_div};
    auto it = rope_tables_.find(key);
    if (it != rope_tables_.end()) return it->second;
    const int64_t T = n.ne[1];
    const int32_t* pos = static_cast<const int32_t*>(n.src[1]->data);
    std::vector<float> inv_freq(static_cast<size_t>(n_rot / 2));
    for (int i = 0; i < n_rot / 2; ++i) {
      float f = 1.0f / std::pow(base, 2.0f * static_cast<float>(i) / static_cast<float>(n_rot));
      if (freq_div) f /= freq_div[i];
      inv_freq[static_cast<size_t>(i)] = f;
    }
    std::vector<float> cs(static_cast<size_t>(T) * static_cast<size_t>(n_rot));
    for (int64_t t = 0; t < T; ++t) {
      const float p = static_cast<float>(pos[t]) * fscale;
      for (int i = 0; i < n_rot / 2; ++i) {
        const float theta = p * inv_freq[static_cast<size_t>(i)];
        cs[static_cast<size_t>((t * (n_rot / 2) + i) * 2)] = std::cos(theta);
        cs[static_cast<size_t>((t * (n_rot / 2) + i) * 2 + 1)] = std::sin(theta);
      }
    }
    const uint32_t off = stage_input(cs.data(), cs.size() * sizeof(float));
    rope_tables_[key] = off;
    return off;
  }

  DeviceConfig cfg_;
  MemoryTracker* tracker_;
  uint32_t slot_bytes_ = 256;
  uint64_t max_binding_ = 0;
  CommandRecorder rec_;
  std::vector<uint32_t> stream_;
  std::vector<uint8_t> uniforms_, inputs_;
  std::vector<std::vector<uint8_t>> staged_;
  uint64_t uniform_capacity_ = 0, input_capacity_ = 0;
  uint32_t next_id_ = kFirstFreeId;
  uint32_t arena_id_ = 0;
  uint64_t arena_bytes_ = 0;
  uint32_t scratch_id_ = 0;  // ensure_attention_scratch
  uint64_t scratch_bytes_ = 0;
  std::vector<uint32_t> deferred_destroy_;
  std::unordered_map<const void*, GpuWeight> weights_;  // by weight_id
  std::unordered_map<uint32_t, Owned> owned_;
  std::map<std::string, uint32_t> pipelines_;
  // The shape of every matvec4 key matvec4_kernel() has made (mutable: keys
  // are made on const paths too).
  mutable std::map<std::string, MatvecShape> matvec4_shapes_;
  mutable std::map<std::string, AttentionSplitShape> attention_split_shapes_;  // likewise, attention_split_kernel()
  std::deque<std::string> sources_, labels_;  // stable: the stream points into them
  std::unordered_map<const Node*, Loc> input_locs_;
  // Staged cos/sin tables of this stream, by what they are computed from.
  struct RopeTableKey {
    const void* positions;
    int n_rot;
    float base, freq_scale;
    const void* freq_div;
    auto operator<=>(const RopeTableKey&) const = default;
  };
  std::map<RopeTableKey, uint32_t> rope_tables_;
  FusionPlan plan_;  // of the graph being recorded (compute, precompile)
  // Split decode attentions whose o projection merges their chunks in this
  // stream (fold_attention_combine), and norms their matvecs compute (h is
  // vec4-aligned) in this stream.
  std::unordered_map<const Node*, AttentionFold> folded_attentions_;
  std::unordered_set<const Node*> active_norms_;
  uint32_t fused_dispatches_ = 0;  // recorded in this stream
  uint32_t subgroup_dispatches_ = 0;  // recorded in this stream
  uint32_t l2_warm_dispatches_ = 0;  // recorded in this stream
  uint32_t few_token_dispatches_ = 0;  // recorded in this stream
  std::unordered_set<uint32_t> subgroup_pipelines_;  // of `_sg` keys
  // Device codebooks of the vq types with tensors on the device (acquire_codebook).
  struct VqCodebook {
    uint32_t buffer = 0;
    uint32_t users = 0;  // tensors of the type
  };
  std::map<DType, VqCodebook> vq_codebooks_;
  std::unordered_map<uint32_t, DType> codebook_pipelines_;  // pipelines that read a codebook, by id
};

}  // namespace

Result<DeviceConfig> device_config_from(const wa_gpu_device_config& config) {
  DeviceConfig c;
  c.max_buffer_size = static_cast<uint64_t>(config.max_buffer_size);
  c.max_storage_binding = static_cast<uint64_t>(config.max_storage_binding);
  c.max_workgroup_storage = config.max_workgroup_storage;
  c.max_invocations = config.max_invocations;
  c.max_workgroups_per_dim = config.max_workgroups_per_dim;
  c.min_storage_align = config.min_storage_align;
  c.min_uniform_align = config.min_uniform_align;
  c.max_storage_buffers = config.max_storage_buffers;
  c.shader_f16 = config.shader_f16 != 0;
  c.subgroups = config.subgroups != 0;
  c.packed_dot = config.packed_dot != 0;
  c.subgroup_min_size = config.subgroup_min_size;
  c.l2_warm = config.l2_warm != 0;
  c.few_token_prompt = config.few_token_prompt;
  if (config.matvec_tuning != 0) {
    c.matvec_rows = config.matvec_tuning & 0xff;
    c.matvec_blocks_in_flight = (config.matvec_tuning >> 8) & 0xff;
    c.matvec_groups = (config.matvec_tuning >> 16) & 0xff;
    c.matvec_unit = config.matvec_tuning >> 24;
    if (c.matvec_rows < 1 || c.matvec_rows > 8 || c.matvec_blocks_in_flight < 1 || c.matvec_blocks_in_flight > 4 ||
        (c.matvec_groups != 0 && c.matvec_groups != 2 && c.matvec_groups != 4 && c.matvec_groups != 8) ||
        (c.matvec_unit != 0 && c.matvec_unit != 1 && c.matvec_unit != 2 && c.matvec_unit != 4)) {
      return invalid_argument(
          "matvec_tuning: rows must be 1..8, blocks in flight 1..4, groups 2, 4 or 8, blocks per unit 1, 2 or 4");
    }
  }
  if (c.max_storage_binding < (1u << 20) || c.max_workgroups_per_dim < 1 || c.min_uniform_align < 1 ||
      c.max_invocations < 256 || c.max_workgroup_storage < 16384 || c.max_storage_buffers < 4) {
    return unsupported("the WebGPU device's limits are below what the kernels need "
                       "(256 invocations, 16 KiB workgroup storage, 4 storage buffers, 1 MiB bindings)");
  }
  return c;
}

std::unique_ptr<WebGpuBackend> make_webgpu_backend(const DeviceConfig& config, MemoryTracker* tracker) {
  return std::make_unique<WebGpuBackendImpl>(config, tracker);
}

}  // namespace wa::gpu
