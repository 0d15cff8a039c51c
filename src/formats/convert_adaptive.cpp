#include "formats/convert_adaptive.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <map>
#include <memory>

#include "formats/gguf.h"
#include "formats/hot_rows.h"
#include "quant/gptq.h"
#include "quant/planner.h"
#include "quant/vq.h"
#include "quant/weighted.h"

namespace wa {
namespace {

// The candidate ladders (convert_adaptive.h, step 1), smallest first.
const DType kSuperBlockTypes[] = {DType::wa_vq2, DType::q2_k, DType::wa_vq3, DType::q3_k, DType::q4_k,
                                   DType::q5_k,   DType::q6_k, DType::q8_0,   DType::f16};
const DType kBlock32Types[] = {DType::q4_0, DType::q4_1, DType::q5_0, DType::q5_1, DType::q8_0, DType::f16};

std::vector<DType> candidates(int64_t cols, bool own_formats) {
  std::vector<DType> out;
  if (cols % 256 == 0) {
    for (DType t : kSuperBlockTypes) {
      if (own_formats || !quant::is_vq_type(t)) out.push_back(t);
    }
  } else {
    for (DType t : kBlock32Types) {
      if (cols % block_size(t) == 0) out.push_back(t);
    }
    if (out.empty()) out.push_back(DType::f16);
  }
  return out;
}

// GgufWriter's alignment for convert's output (general.alignment is not copied).
constexpr uint64_t kAlign = 32;
uint64_t padded(uint64_t bytes) { return (bytes + kAlign - 1) / kAlign * kAlign; }

// Hot-row candidates of a tied embedding (convert_adaptive.h, step 1): the
// rows as the probes use them (chosen without the probe's chunks, as the
// per-row metric is fitted) and what they add to the budget.
struct HotCandidates {
  std::string tensor;
  int64_t count = 0;
  std::vector<int32_t> ids;      // for the probes
  QuantizeOptions qo;            // the probes' options with the metric refitted for those ids
  std::vector<uint8_t> rows;     // the hot rows in q8_0, from the input's values
  uint64_t bytes = 0;            // rows and ids as stored
  uint64_t file_bytes = 0;       // what they add to the file (tensor data with padding, header entries)
};

// The types that get a hot-row variant: beyond q4_K the matrix's own lookup error is small.
bool hot_variant(DType t) {
  return t == DType::wa_vq2 || t == DType::q2_k || t == DType::wa_vq3 || t == DType::q3_k || t == DType::q4_k ||
         t == DType::q4_0 || t == DType::q4_1;
}

// One matrix's measurements: per candidate, its bytes and errors.
struct Measured {
  const GgufTensorInfo* info = nullptr;
  std::vector<DType> types;
  std::vector<bool> hot;          // per candidate: with the hot rows of HotCandidates
  std::vector<uint64_t> bytes;    // as stored (the hot rows' bytes included)
  std::vector<double> err, werr;  // plain squared errors and the errors that scale the loss (convert_adaptive.h, step 2)
  double sum_sq = 0.0, wsum_sq = 0.0;  // the same of the original values
  double probe_kld = -1.0;
  std::vector<double> type_klds;  // a matrix probed at every candidate (a tied embedding): each one's KLD
};

Status decode_matrix(const GgufFile& f, const GgufTensorInfo& t, std::vector<float>* out) {
  const TypeTraits* from = type_traits(t.type);
  if (!from || !from->to_f32) {
    return unsupported(strformat("tensor '%s' has type %s, which this build cannot decode", t.name.c_str(),
                                 from ? from->name : "unknown"));
  }
  const int64_t cols = t.ne[0], rows = t.ne[1];
  out->resize(static_cast<size_t>(cols * rows));
  const size_t rb = row_bytes(t.type, cols);
  for (int64_t r = 0; r < rows; ++r) from->to_f32(f.tensor_data(t) + r * rb, out->data() + r * cols, cols);
  return Status::Ok();
}

// Rows used for the output error of a matrix: its error is an average over
// rows, so a regular sample of 2048 estimates it for the embedding's 32000.
int64_t output_error_step(int64_t rows) { return std::max<int64_t>(1, rows / 2048); }

// The probe's replacement of t stored as `type` in `bytes`, with the hot rows where `hot`.
quant::Calibration::Replacement replacement(const GgufTensorInfo& t, DType type, const void* bytes,
                                            const HotCandidates* hot) {
  quant::Calibration::Replacement r{t.name, type, bytes};
  if (hot) {
    r.hot_ids = hot->ids;
    r.hot_type = DType::q8_0;
    r.hot_bytes = hot->rows.data();
  }
  return r;
}

Status measure_matrix(const GgufFile& f, const GgufTensorInfo& t, const std::vector<float>* importance,
                      const QuantizeOptions& qo, const quant::InputMoments* moments, quant::Calibration* calib,
                      bool own_formats, const HotCandidates* hot, Measured* m) {
  std::vector<float> w;
  WA_TRY(decode_matrix(f, t, &w));
  const int64_t cols = t.ne[0], rows = t.ne[1];
  m->info = &t;
  m->types = candidates(cols, own_formats);
  m->hot.assign(m->types.size(), false);
  if (hot && calib && hot->tensor == t.name) {
    for (DType type : candidates(cols, own_formats)) {
      if (hot_variant(type)) m->types.push_back(type), m->hot.push_back(true);
    }
  }
  const float* imp = importance ? importance->data() : nullptr;
  // With error-compensating quantizers the loss scales with the output error (H), else with H's diagonal.
  const bool by_output = qo.gptq.count(t.name) && moments && moments->n == cols;
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t j = 0; j < cols; ++j) {
      const double v = w[static_cast<size_t>(r * cols + j)];
      m->sum_sq += v * v;
      if (!by_output) m->wsum_sq += (imp ? imp[j] : 1.0) * v * v;
    }
  }
  if (by_output) m->wsum_sq = quant::output_error(w.data(), nullptr, rows, cols, cols, *moments, output_error_step(rows));
  std::vector<uint8_t> q;
  std::vector<float> back(static_cast<size_t>(cols * rows));
  // A tied embedding with a per-row metric: its error is mostly the lookup
  // role's, which the output error does not scale (tied_embedding.h), so
  // every candidate's KLD is measured.
  const bool probe_every = calib && qo.row_metrics.count(t.name);
  for (size_t k = 0; k < m->types.size(); ++k) {
    const DType type = m->types[k];
    const size_t rb = row_bytes(type, cols);
    const QuantizeOptions& kqo = m->hot[k] ? hot->qo : qo;
    q.assign(rb * static_cast<size_t>(rows), 0);
    quantize_rows(type, w.data(), q.data(), rows, cols, imp, compensation_for(kqo, t.name, type),
                  row_metric_for(kqo, t.name, type));
    double e = 0.0, we = 0.0;
    for (int64_t r = 0; r < rows; ++r) {
      float* br = back.data() + r * cols;
      type_traits(type)->to_f32(q.data() + r * rb, br, cols);
      const float* x = w.data() + r * cols;
      e += quant::weighted_squared_error(x, br, nullptr, cols);
      if (imp && !by_output) we += quant::weighted_squared_error(x, br, imp, cols);
    }
    if (by_output) we = quant::output_error(w.data(), back.data(), rows, cols, cols, *moments, output_error_step(rows));
    m->bytes.push_back(rb * static_cast<uint64_t>(rows) + (m->hot[k] ? hot->bytes : 0));
    m->err.push_back(e);
    m->werr.push_back(imp || by_output ? we : e);
    if ((k == 0 || probe_every) && calib) {  // the smallest candidate: measure the KLD it causes alone
      WA_ASSIGN_OR_RETURN(double kld, calib->kld_with({replacement(t, type, q.data(), m->hot[k] ? hot : nullptr)}));
      if (k == 0) m->probe_kld = kld;
      if (probe_every) m->type_klds.push_back(kld);
    }
  }
  return Status::Ok();
}

// What candidate k costs against the budget: its bytes as stored, for a file
// budget padded, with the hot rows' share of the file.
uint64_t option_bytes(const Measured& m, size_t k, const HotCandidates* hot, bool by_file) {
  if (!by_file) return m.bytes[k];
  if (!m.hot[k]) return padded(m.bytes[k]);
  return padded(m.bytes[k] - hot->bytes) + hot->file_bytes;
}

// Estimated loss of candidate k (convert_adaptive.h, step 2).
double loss_of(const Measured& m, size_t k) {
  if (m.type_klds.size() == m.types.size()) return m.type_klds[k];
  if (m.probe_kld >= 0.0) return m.werr[0] > 0.0 ? m.probe_kld * m.werr[k] / m.werr[0] : 0.0;
  return m.sum_sq > 0.0 ? m.err[k] / m.sum_sq : 0.0;
}

// The importance vector quantize_rows takes for t: qo's, where it has one of t's row length.
const std::vector<float>* importance_for(const QuantizeOptions& qo, const GgufTensorInfo& t) {
  auto it = qo.importance.find(t.name);
  return it != qo.importance.end() && static_cast<int64_t>(it->second.size()) == t.ne[0] ? &it->second : nullptr;
}

// Step 5 (convert_adaptive.h): the KLD of the whole model with every matrix
// quantized to its type in `choice`, measured on the calibration's probe
// tokens.
Result<double> measured_kld(const GgufFile& f, const std::vector<Measured>& measured, const std::vector<int>& choice,
                            const QuantizeOptions& qo, const HotCandidates* hot, quant::Calibration* calib) {
  std::vector<std::vector<uint8_t>> stored(measured.size());
  std::vector<quant::Calibration::Replacement> replacements;
  std::vector<float> w;
  for (size_t i = 0; i < measured.size(); ++i) {
    const GgufTensorInfo& t = *measured[i].info;
    const DType type = measured[i].types[static_cast<size_t>(choice[i])];
    const bool with_hot = measured[i].hot[static_cast<size_t>(choice[i])];
    const QuantizeOptions& kqo = with_hot ? hot->qo : qo;
    const int64_t cols = t.ne[0], rows = t.ne[1];
    WA_TRY(decode_matrix(f, t, &w));
    stored[i].assign(row_bytes(type, cols) * static_cast<size_t>(rows), 0);
    const std::vector<float>* imp = importance_for(qo, t);
    quantize_rows(type, w.data(), stored[i].data(), rows, cols, imp ? imp->data() : nullptr,
                  compensation_for(kqo, t.name, type), row_metric_for(kqo, t.name, type));
    replacements.push_back(replacement(t, type, stored[i].data(), with_hot ? hot : nullptr));
  }
  return calib->kld_with(replacements);
}

// Step 5's alternative to the plan: one precision for every matrix. For a
// level L (a candidate type's bits per weight), each matrix takes its
// largest candidate of at most L bits per weight (its smallest if none is);
// of the levels whose assignment fits the budget, the largest. Empty when
// none fits.
std::vector<int> uniform_alternative(const std::vector<Measured>& measured, uint64_t budget, bool by_file) {
  auto bpw = [](const Measured& m, size_t k) {
    return 8.0 * static_cast<double>(m.bytes[k]) / static_cast<double>(m.info->n_elements());
  };
  std::vector<double> levels;
  for (const Measured& m : measured) {
    for (size_t k = 0; k < m.types.size(); ++k) {
      if (!m.hot[k]) levels.push_back(bpw(m, k));
    }
  }
  std::sort(levels.begin(), levels.end());
  std::vector<int> best;
  uint64_t best_bytes = 0;
  for (double level : levels) {
    std::vector<int> choice;
    uint64_t total = 0;
    for (const Measured& m : measured) {
      size_t pick = 0;
      for (size_t k = 0; k < m.types.size(); ++k) {
        if (!m.hot[k] && bpw(m, k) <= level + 1e-9 && m.bytes[k] >= m.bytes[pick]) pick = k;
      }
      choice.push_back(static_cast<int>(pick));
      total += by_file ? padded(m.bytes[pick]) : m.bytes[pick];
    }
    if (total <= budget && (best.empty() || total > best_bytes)) best = std::move(choice), best_bytes = total;
  }
  return best;
}

// The type most of the weights take in `choice`.
DType main_type(const std::vector<Measured>& measured, const std::vector<int>& choice) {
  std::map<DType, int64_t> n;
  for (size_t i = 0; i < measured.size(); ++i) n[measured[i].types[static_cast<size_t>(choice[i])]] += measured[i].info->n_elements();
  DType most = DType::f32;
  int64_t most_n = -1;
  for (const auto& [type, count] : n) {
    if (count > most_n) most = type, most_n = count;
  }
  return most;
}

}  // namespace

Result<QuantizeMethod> parse_quantize_method(const std::string& name) {
  if (name == "gptq") return QuantizeMethod::gptq;
  if (name == "weighted") return QuantizeMethod::weighted;
  if (name == "rtn") return QuantizeMethod::rtn;
  return invalid_argument("unknown quantization method '" + name + "' (gptq, weighted, rtn)");
}

const char* quantize_method_name(QuantizeMethod m) {
  switch (m) {
    case QuantizeMethod::gptq: return "gptq";
    case QuantizeMethod::weighted: return "weighted";
    case QuantizeMethod::rtn: return "rtn";
  }
  return "?";
}

Status calibrated_options(const quant::Calibration& calib, QuantizeMethod method, const GgufFile& file,
                          QuantizeOptions* qo) {
  if (method == QuantizeMethod::rtn) return Status::Ok();
  for (const auto& [name, v] : calib.importance()) {
    if (file.find_tensor(name)) qo->importance.emplace(name, v);
  }
  if (method != QuantizeMethod::gptq) return Status::Ok();
  qo->lookup_tables = calib.lookup_tables();
  if (calib.moments().empty()) return internal_error("--method gptq: the calibration collected no input moments");
  WA_ASSIGN_OR_RETURN(auto factors, quant::gptq_factors(calib.moments()));
  for (auto& [name, f] : factors) {
    if (file.find_tensor(name)) qo->gptq.emplace(name, std::move(f));
  }
  // A tied embedding: its per-row metric, whose shared factor (Hbar, the
  // same moments) compensates the rows without their own H.
  if (const auto& tied = calib.tied_embedding(); tied && file.find_tensor(tied->name)) {
    WA_ASSIGN_OR_RETURN(auto metric, quant::TiedRowMetric::create(tied));
    qo->gptq[tied->name] = metric->shared_factor();
    qo->row_metrics[tied->name] = std::move(metric);
  }
  return Status::Ok();
}

Status calibrated_hot_rows(const quant::Calibration& calib, int64_t count, QuantizeOptions* qo) {
  const auto& tied = calib.tied_embedding();
  if (!tied) {
    return invalid_argument("hot rows need a token embedding tied to the output, calibrated with --method gptq "
                            "(this model's has none, or the calibration collected no statistics of it)");
  }
  if (count < 1) return invalid_argument("hot rows: the count must be at least 1");
  qo->hot_rows = quant::choose_hot_rows(*tied, count);
  qo->hot_rows_type = DType::q8_0;
  if (qo->row_metrics.count(tied->name)) {
    WA_ASSIGN_OR_RETURN(auto metric, quant::TiedRowMetric::create(tied, 0, qo->hot_rows));
    qo->gptq[tied->name] = metric->shared_factor();
    qo->row_metrics[tied->name] = std::move(metric);
  }
  return Status::Ok();
}

Status quantize_adaptive(const std::string& in, const std::string& out, const AdaptiveOptions& o, ConvertReport* report,
                         AdaptivePlan* plan) {
  const auto t0 = std::chrono::steady_clock::now();
  const bool by_file = o.budget_bytes > 0, by_bpw = o.bits_per_weight > 0.0;
  if (by_file == by_bpw) return invalid_argument("an adaptive plan needs one budget: a file size or bits per weight");
  if (by_bpw && !(o.bits_per_weight <= 64.0)) return invalid_argument("bits per weight must be at most 64");
  // Everything quantize_model checks (a GGUF input of known types), before any long measurement.
  WA_TRY(quantized_file_size(in, DType::q8_0).status());
  WA_ASSIGN_OR_RETURN(auto file, GgufFile::open(in));

  // The budget for the matrices, checked before anything is measured. For a
  // file budget, what is not a matrix (header, metadata, vectors, padding
  // before the data) is measured from the writer with every matrix at its
  // smallest type; its size does not depend on the types (a type is a
  // fixed-size field), only the matrices' padded bytes do.
  QuantizeOptions qo;
  int64_t n_weights = 0;
  uint64_t smallest = 0;
  for (const auto& t : file->tensors()) {
    if (!is_weight_matrix(t)) continue;
    const DType first = candidates(t.ne[0], o.own_formats)[0];
    const uint64_t bytes = row_bytes(first, t.ne[0]) * static_cast<uint64_t>(t.ne[1]);
    qo.tensor_types[t.name] = first;
    n_weights += t.n_elements();
    smallest += by_file ? padded(bytes) : bytes;
  }
  if (qo.tensor_types.empty()) return invalid_file(in + ": no weight matrices (2-D *.weight tensors) to re-encode");
  uint64_t fixed = 0, budget = 0;
  if (by_file) {
    WA_ASSIGN_OR_RETURN(uint64_t size, quantized_file_size(in, DType::q8_0, qo));
    fixed = size - smallest;
    if (o.budget_bytes < size) {
      return invalid_argument(strformat("the budget of %llu bytes is below the smallest file this model can be "
                                        "quantized to: %llu bytes (every matrix in its smallest type)",
                                        static_cast<unsigned long long>(o.budget_bytes), static_cast<unsigned long long>(size)));
    }
    budget = o.budget_bytes - fixed;
  } else {
    budget = static_cast<uint64_t>(std::floor(o.bits_per_weight * static_cast<double>(n_weights) / 8.0));
    if (budget < smallest) {
      return invalid_argument(strformat("%.4g bits per weight is below the smallest this model's matrices can be "
                                        "stored in: %.4f bits per weight (every matrix in its smallest type)",
                                        o.bits_per_weight, 8.0 * static_cast<double>(smallest) / static_cast<double>(n_weights)));
    }
  }

  std::unique_ptr<quant::Calibration> calib;
  if (!o.calib_path.empty()) {
    quant::CalibrationOptions co = o.calib;
    co.input_moments = co.input_moments || o.method == QuantizeMethod::gptq;
    WA_ASSIGN_OR_RETURN(calib, quant::Calibration::run(in, o.calib_path, co));
    WA_TRY(calibrated_options(*calib, o.method, *file, &qo));
  }
  // What the probes quantize with (steps 2 and 5): as qo, except that a tied
  // embedding's per-row metric leaves the probe's chunks out, so that the
  // probe text is as new to it as held-out text (with the probe's own input
  // tokens in the metric, story-large's probe read the embedding's error
  // low). With a single chunk there is nothing to leave out.
  QuantizeOptions probe_qo = qo;
  for (auto& [name, metric] : probe_qo.row_metrics) {
    if (calib->probe_chunks() >= calib->n_chunks()) break;
    WA_ASSIGN_OR_RETURN(metric, quant::TiedRowMetric::create(calib->tied_embedding(),
                                                             static_cast<int64_t>(calib->probe_chunks()) * calib->n_ctx()));
    probe_qo.gptq[name] = metric->shared_factor();
  }

  // Hot-row candidates (step 1): a tied embedding, own formats, a calibration
  // with its statistics. The probes' rows are chosen, and the metric refitted,
  // without the probe's chunks (as probe_qo's metric is).
  std::unique_ptr<HotCandidates> hot;
  if (o.own_formats && o.hot_rows > 0 && calib && calib->tied_embedding() && qo.row_metrics.count(calib->tied_embedding()->name)) {
    const auto& tied = calib->tied_embedding();
    const GgufTensorInfo* embd = file->find_tensor(tied->name);
    if (embd && embd->name == "token_embd.weight" && embd->ne[0] % block_size(DType::q8_0) == 0) {
      hot = std::make_unique<HotCandidates>();
      hot->tensor = tied->name;
      hot->count = std::min<int64_t>(o.hot_rows, embd->ne[1]);
      const int64_t first = calib->probe_chunks() < calib->n_chunks()
                                ? static_cast<int64_t>(calib->probe_chunks()) * calib->n_ctx() : 0;
      hot->ids = quant::choose_hot_rows(*tied, hot->count, first);
      hot->qo = probe_qo;
      WA_ASSIGN_OR_RETURN(auto metric, quant::TiedRowMetric::create(tied, first, hot->ids));
      hot->qo.gptq[tied->name] = metric->shared_factor();
      hot->qo.row_metrics[tied->name] = std::move(metric);
      const int64_t cols = embd->ne[0];
      const size_t rb = row_bytes(DType::q8_0, cols);
      std::vector<float> w;
      WA_TRY(decode_matrix(*file, *embd, &w));
      hot->rows.assign(rb * hot->ids.size(), 0);
      for (size_t i = 0; i < hot->ids.size(); ++i) {
        type_traits(DType::q8_0)->from_f32(w.data() + static_cast<int64_t>(hot->ids[i]) * cols, hot->rows.data() + i * rb, cols);
      }
      hot->bytes = rb * hot->ids.size() + sizeof(int32_t) * hot->ids.size();
      // What they add to the file: measured from the writer, with and without them.
      QuantizeOptions with = qo;
      with.hot_rows = hot->ids;
      WA_ASSIGN_OR_RETURN(uint64_t size_with, quantized_file_size(in, DType::q8_0, with));
      WA_ASSIGN_OR_RETURN(uint64_t size_without, quantized_file_size(in, DType::q8_0, qo));
      hot->file_bytes = size_with - size_without;
    }
  }

  std::vector<Measured> measured;
  for (const auto& t : file->tensors()) {
    if (!is_weight_matrix(t)) continue;
    const std::vector<float>* imp = importance_for(qo, t);
    const quant::InputMoments* moments = nullptr;
    if (calib) {
      auto mm = calib->moments().find(t.name);
      if (mm != calib->moments().end()) moments = mm->second.get();
    }
    Measured m;
    WA_TRY(measure_matrix(*file, t, imp, probe_qo, moments, calib.get(), o.own_formats, hot.get(), &m));
    measured.push_back(std::move(m));
  }

  std::vector<quant::PlanItem> items;
  for (const auto& m : measured) {
    quant::PlanItem item;
    item.name = m.info->name;
    for (size_t k = 0; k < m.types.size(); ++k) {
      item.options.push_back({m.types[k], option_bytes(m, k, hot.get(), by_file), loss_of(m, k)});
    }
    items.push_back(std::move(item));
  }
  WA_ASSIGN_OR_RETURN(quant::Plan p, quant::plan_precision(items, budget));

  AdaptivePlan result;
  if (calib) {
    // Step 5: the plan's losses were estimated matrix by matrix and summed;
    // the whole plan and the uniform alternative are measured as they would
    // be written, and the lower KLD is what gets written.
    WA_ASSIGN_OR_RETURN(result.measured_kld, measured_kld(*file, measured, p.choice, probe_qo, hot.get(), calib.get()));
    std::vector<int> uniform = uniform_alternative(measured, budget, by_file);
    if (!uniform.empty() && uniform != p.choice) {
      result.alternative = strformat("every matrix at its largest type of at most %s's bits per weight",
                                     dtype_name(main_type(measured, uniform)));
      WA_ASSIGN_OR_RETURN(result.alternative_kld, measured_kld(*file, measured, uniform, probe_qo, hot.get(), calib.get()));
      if (result.alternative_kld < result.measured_kld) {
        result.chose_alternative = true;
        std::swap(result.measured_kld, result.alternative_kld);
        p.choice = std::move(uniform);
        p.loss = 0.0;
        for (size_t i = 0; i < measured.size(); ++i) p.loss += loss_of(measured[i], static_cast<size_t>(p.choice[i]));
      }
    }
  }
  result.loss_measure = calib ? "estimated KL divergence (nats per token) added by the matrix"
                              : "relative squared error sum (w - w')^2 / sum w^2 (no calibration text)";
  result.method = calib ? quantize_method_name(o.method) : "rtn";
  result.error_measure = !qo.gptq.empty()      ? "output error sum d^T H d / sum w^T H w (H: the inputs' second moments)"
                         : !qo.importance.empty() ? "squared error weighted by each input's mean square activation"
                                                  : "squared error";
  result.budget_text = by_file ? strformat("file size <= %llu bytes", static_cast<unsigned long long>(o.budget_bytes))
                               : strformat("weight matrices <= %.4g bits per weight (%llu bytes)", o.bits_per_weight,
                                           static_cast<unsigned long long>(budget));
  result.n_weights = n_weights;
  result.loss = p.loss;
  if (calib) {
    result.calib_tokens = calib->n_tokens();
    result.calib_chunks = calib->n_chunks();
    result.probe_chunks = calib->probe_chunks();
    result.calib_ctx = calib->n_ctx();
  }
  const DType most = main_type(measured, p.choice);
  int64_t hot_chosen = 0;
  for (size_t i = 0; i < measured.size(); ++i) {
    const Measured& m = measured[i];
    const size_t k = static_cast<size_t>(p.choice[i]);
    PlannedTensor t;
    t.name = m.info->name;
    t.cols = m.info->ne[0];
    t.rows = m.info->ne[1];
    t.type = m.types[k];
    t.bytes = m.bytes[k];
    t.rel_error = m.sum_sq > 0.0 ? m.err[k] / m.sum_sq : 0.0;
    t.weighted_rel_error = m.wsum_sq > 0.0 ? m.werr[k] / m.wsum_sq : 0.0;
    t.loss = loss_of(m, k);
    t.probe_type = m.types[0];
    t.probe_kld = m.probe_kld;
    t.probed_every_type = !m.type_klds.empty();
    t.hot_rows = m.hot[k] ? hot->count : 0;
    if (m.hot[k]) hot_chosen = hot->count;
    for (size_t c = 0; c < m.types.size(); ++c) (m.hot[c] ? t.hot_losses : t.losses).push_back({m.types[c], loss_of(m, c)});
    result.matrix_bytes += t.bytes;
    qo.tensor_types[t.name] = t.type;
    result.tensors.push_back(std::move(t));
  }
  // The file's hot rows: chosen on the whole calibration text, the metric refitted for them.
  if (hot_chosen > 0) WA_TRY(calibrated_hot_rows(*calib, hot_chosen, &qo));
  WA_ASSIGN_OR_RETURN(result.file_bytes, quantized_file_size(in, most, qo));
  uint64_t predicted = fixed;
  for (size_t i = 0; i < measured.size(); ++i) predicted += option_bytes(measured[i], static_cast<size_t>(p.choice[i]), hot.get(), true);
  if (by_file && (result.file_bytes != predicted || result.file_bytes > o.budget_bytes)) {
    return internal_error(strformat("the plan's file would take %llu bytes, predicted %llu for a budget of %llu",
                                    static_cast<unsigned long long>(result.file_bytes),
                                    static_cast<unsigned long long>(predicted),
                                    static_cast<unsigned long long>(o.budget_bytes)));
  }
  calib.reset();  // its model mapping and predictions are no longer needed
  WA_TRY(quantize_model(in, out, most, report, qo));
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (plan) *plan = std::move(result);
  return Status::Ok();
}

std::string plan_markdown(const AdaptivePlan& p, const std::string& in, const std::string& out) {
  std::string s;
  s += "# Quantization plan\n\n";
  s += "Written by `webaccel quantize --adaptive`; every figure below was measured by it.\n\n";
  s += "| | |\n| --- | --- |\n";
  s += "| input | `" + in + "` |\n";
  s += "| output | `" + out + "` |\n";
  s += "| budget | " + p.budget_text + " |\n";
  s += strformat("| planned | file %llu bytes; weight matrices %llu bytes = %.4f bits per weight over %lld weights |\n",
                 static_cast<unsigned long long>(p.file_bytes), static_cast<unsigned long long>(p.matrix_bytes),
                 p.bits_per_weight(), static_cast<long long>(p.n_weights));
  s += "| loss | " + p.loss_measure + strformat("; total %.6g |\n", p.loss);
  if (p.calib_tokens > 0) {
    std::string how;
    // The own formats only where they were candidates (--own-formats).
    bool own = false;
    for (const PlannedTensor& t : p.tensors) {
      for (const auto& [ty, loss] : t.losses) own = own || quant::is_vq_type(ty);
    }
    for (DType t : {DType::wa_vq2, DType::q2_k, DType::wa_vq3, DType::q3_k, DType::q4_k, DType::q5_k, DType::q6_k, DType::q4_0, DType::q4_1,
                    DType::q5_0, DType::q5_1, DType::q8_0}) {
      if (quant::is_vq_type(t) && !own) continue;
      const bool gptq = p.method == "gptq" && quant::has_gptq_quantizer(t);
      const bool weighted = !gptq && p.method != "rtn" && quant::weighting_helps(t);
      how += strformat("%s%s %s", how.empty() ? "" : ", ", dtype_name(t),
                       gptq ? "error-compensating" : weighted ? "importance-weighted" : "round-to-nearest");
    }
    s += strformat("| calibration | %d tokens (%d chunk%s of %d), KLD probes on the first %d; --method %s: %s |\n",
                   p.calib_tokens, p.calib_chunks, p.calib_chunks == 1 ? "" : "s", p.calib_ctx,
                   p.probe_chunks * p.calib_ctx, p.method.c_str(), how.c_str());
  } else {
    s += "| calibration | none: round-to-nearest quantizers, relative squared error as the loss |\n";
  }
  if (p.measured_kld >= 0.0) {
    // (convert_adaptive.h, step 5)
    std::string check;
    if (p.alternative.empty()) {
      check = strformat("KLD on the probe tokens as written: %.6g (no uniform alternative fits the budget or it is the plan)",
                        p.measured_kld);
    } else if (p.chose_alternative) {
      check = strformat("KLD on the probe tokens as written (%s): %.6g; the planned mix: %.6g, not written",
                        p.alternative.c_str(), p.measured_kld, p.alternative_kld);
    } else {
      check = strformat("KLD on the probe tokens as written (the planned mix): %.6g; %s: %.6g, not written",
                        p.measured_kld, p.alternative.c_str(), p.alternative_kld);
    }
    s += "| check | " + check + " |\n";
  }
  s += strformat("| time | %.1f s |\n\n", p.seconds);
  s += "*rel. error*: sum (w - w')^2 / sum w^2 at the chosen type; *scaling error*: " + p.error_measure +
       ", relative. *probe KLD*: measured with this matrix alone in its smallest type; the other types' losses are\n"
       "scaled from it by their scaling error (where every type was probed, a tied embedding's, they are measured too). *loss by type*: the estimated loss of each candidate, smallest type "
       "first.\n\n";
  s += "| tensor | shape | type | bits/weight | bytes | rel. error | scaling error | probe KLD | est. loss | loss by type |\n";
  s += "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |\n";
  for (const auto& t : p.tensors) {
    std::string ladder;
    for (const auto& [type, loss] : t.losses) ladder += strformat("%s%s %.3g", ladder.empty() ? "" : ", ", dtype_name(type), loss);
    for (const auto& [type, loss] : t.hot_losses) ladder += strformat(", %s + hot rows %.3g", dtype_name(type), loss);
    const std::string type = t.hot_rows > 0 ? strformat("%s + %lld hot rows (q8_0)", dtype_name(t.type),
                                                        static_cast<long long>(t.hot_rows))
                                            : dtype_name(t.type);
    const std::string probe = t.probe_kld < 0.0 ? "-"
                              : strformat("%.3e (%s%s)", t.probe_kld, dtype_name(t.probe_type),
                                          t.probed_every_type ? "; every type probed" : "");
    s += strformat("| %s | %lld x %lld | %s | %.4f | %llu | %.3e | %.3e | %s | %.3e | %s |\n", t.name.c_str(),
                   static_cast<long long>(t.cols), static_cast<long long>(t.rows), type.c_str(), t.bits_per_weight(),
                   static_cast<unsigned long long>(t.bytes), t.rel_error, t.weighted_rel_error, probe.c_str(), t.loss,
                   ladder.c_str());
  }
  return s;
}

}  // namespace wa
