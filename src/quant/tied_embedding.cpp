#include "quant/tied_embedding.h"

#include <algorithm>
#include <cmath>

namespace wa::quant {

std::vector<int32_t> choose_hot_rows(const TiedEmbeddingStats& s, int64_t count, int64_t first_position) {
  const int64_t positions = s.positions();
  std::vector<double> inputs(static_cast<size_t>(s.n_vocab), 0.0), mass(static_cast<size_t>(s.n_vocab), 0.0);
  for (int64_t t = std::max<int64_t>(0, first_position); t < positions && t < static_cast<int64_t>(s.tokens.size()); ++t) {
    const int32_t id = s.tokens[static_cast<size_t>(t)];
    if (id >= 0 && id < s.n_vocab) inputs[static_cast<size_t>(id)] += 1.0;
  }
  if (s.n_ctx > 0) {
    for (int64_t c = std::max<int64_t>(0, first_position) / s.n_ctx;
         c < positions / s.n_ctx && (c + 1) * s.n_vocab <= static_cast<int64_t>(s.chunk_mass.size()); ++c) {
      for (int64_t v = 0; v < s.n_vocab; ++v) mass[static_cast<size_t>(v)] += s.chunk_mass[static_cast<size_t>(c * s.n_vocab + v)];
    }
  }
  std::vector<int32_t> order(static_cast<size_t>(s.n_vocab));
  for (int64_t v = 0; v < s.n_vocab; ++v) order[static_cast<size_t>(v)] = static_cast<int32_t>(v);
  const int64_t k = std::clamp<int64_t>(count, 0, s.n_vocab);
  std::partial_sort(order.begin(), order.begin() + k, order.end(), [&](int32_t a, int32_t b) {
    const auto ia = static_cast<size_t>(a), ib = static_cast<size_t>(b);
    if (inputs[ia] != inputs[ib]) return inputs[ia] > inputs[ib];
    if (mass[ia] != mass[ib]) return mass[ia] > mass[ib];
    return a < b;
  });
  order.resize(static_cast<size_t>(k));
  std::sort(order.begin(), order.end());
  return order;
}

Result<std::shared_ptr<const TiedRowMetric>> TiedRowMetric::create(std::shared_ptr<const TiedEmbeddingStats> stats,
                                                                   int64_t first_position,
                                                                   const std::vector<int32_t>& hot_ids) {
  if (!stats) return invalid_argument("tied embedding: no statistics");
  const TiedEmbeddingStats& s = *stats;
  const int64_t n = s.n, positions = s.positions();
  if (n <= 0 || s.n_vocab <= 0 || s.n_ctx <= 0 || static_cast<int64_t>(s.hidden.size()) != positions * n ||
      static_cast<int64_t>(s.tokens.size()) != positions || static_cast<int64_t>(s.predicted.size()) != s.n_vocab ||
      static_cast<int64_t>(s.chunk_mass.size()) != positions / s.n_ctx * s.n_vocab || positions % s.n_ctx != 0) {
    return invalid_argument("tied embedding '" + s.name + "': statistics of inconsistent sizes");
  }
  if (first_position < 0 || first_position >= positions || first_position % s.n_ctx != 0) {
    return invalid_argument(strformat("tied embedding '%s': no whole chunks from position %lld of %lld", s.name.c_str(),
                                      static_cast<long long>(first_position), static_cast<long long>(positions)));
  }
  std::shared_ptr<TiedRowMetric> m(new TiedRowMetric());
  m->stats_ = stats;
  m->first_position_ = first_position;

  // Hbar over the used positions (upper triangle, then mirrored).
  const int64_t used = positions - first_position;
  m->hbar_.assign(static_cast<size_t>(n * n), 0.0);
  for (int64_t t = first_position; t < positions; ++t) {
    const float* h = s.hidden.data() + t * n;
    for (int64_t i = 0; i < n; ++i) {
      const double hi = h[i];
      if (hi == 0.0) continue;
      double* row = m->hbar_.data() + i * n;
      for (int64_t j = i; j < n; ++j) row[j] += hi * h[j];
    }
  }
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t j = i; j < n; ++j) {
      const double v = m->hbar_[static_cast<size_t>(i * n + j)] / static_cast<double>(used);
      m->hbar_[static_cast<size_t>(i * n + j)] = v;
      m->hbar_[static_cast<size_t>(j * n + i)] = v;
    }
  }
  InputMoments hm;
  hm.n = n;
  hm.tokens = used;
  hm.h = m->hbar_;
  WA_ASSIGN_OR_RETURN(m->shared_, gptq_factor(hm));

  // m_v = max(predicted mass, input count) over the used positions.
  std::vector<double> mass(static_cast<size_t>(s.n_vocab), 0.0);
  for (int64_t c = first_position / s.n_ctx; c < positions / s.n_ctx; ++c) {
    const double* cm = s.chunk_mass.data() + c * s.n_vocab;
    for (int64_t v = 0; v < s.n_vocab; ++v) mass[static_cast<size_t>(v)] += cm[v];
  }
  std::vector<double> inputs(static_cast<size_t>(s.n_vocab), 0.0);
  for (int64_t t = first_position; t < positions; ++t) {
    const int32_t id = s.tokens[static_cast<size_t>(t)];
    if (id >= 0 && id < s.n_vocab) inputs[static_cast<size_t>(id)] += 1.0;
  }
  // Hot rows are looked up from their own copy: no lookup role here.
  std::vector<bool> hot(static_cast<size_t>(s.n_vocab), false);
  for (int32_t id : hot_ids) {
    if (id >= 0 && id < s.n_vocab) inputs[static_cast<size_t>(id)] = 0.0, hot[static_cast<size_t>(id)] = true;
  }
  m->m_.assign(static_cast<size_t>(s.n_vocab), 0.0);
  m->lookups_.assign(static_cast<size_t>(s.n_vocab), 0.0);
  for (int64_t v = 0; v < s.n_vocab; ++v) {
    const double mv = std::max(mass[static_cast<size_t>(v)], inputs[static_cast<size_t>(v)]);
    if (mv > kOwnRowThreshold) {
      m->m_[static_cast<size_t>(v)] = mv;
      m->lookups_[static_cast<size_t>(v)] = hot[static_cast<size_t>(v)] ? 0.0 : mv;
      ++m->own_rows_;
    }
  }
  return std::shared_ptr<const TiedRowMetric>(std::move(m));
}

std::vector<double> TiedRowMetric::row_moments(int64_t row) const {
  if (!has_own(row)) return {};
  const TiedEmbeddingStats& s = *stats_;
  const int64_t n = s.n;
  std::vector<double> h(static_cast<size_t>(n * n));
  for (size_t k = 0; k < h.size(); ++k) h[k] = kPriorPositions * hbar_[k];
  // The output role's positions: sum p h h^T (upper triangle, then mirrored).
  std::vector<double> acc(static_cast<size_t>(n * n), 0.0);
  for (const auto& [t, p] : s.predicted[static_cast<size_t>(row)]) {
    if (t < first_position_) continue;
    const float* x = s.hidden.data() + static_cast<int64_t>(t) * n;
    for (int64_t i = 0; i < n; ++i) {
      const double pi = static_cast<double>(p) * x[i];
      if (pi == 0.0) continue;
      double* a = acc.data() + i * n;
      for (int64_t j = i; j < n; ++j) a[j] += pi * x[j];
    }
  }
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t j = i; j < n; ++j) {
      h[static_cast<size_t>(i * n + j)] += acc[static_cast<size_t>(i * n + j)];
      if (j != i) h[static_cast<size_t>(j * n + i)] += acc[static_cast<size_t>(i * n + j)];
    }
  }
  // The lookup role: lambda per coordinate for each of m_v occurrences.
  const double lookup = s.lookup_sensitivity * lookups_[static_cast<size_t>(row)];
  for (int64_t i = 0; i < n; ++i) h[static_cast<size_t>(i * n + i)] += lookup;
  return h;
}

bool TiedRowMetric::quantize_row(DType type, int64_t row, const float* x, void* dst) const {
  if (!has_own(row) || !has_gptq_quantizer(type)) return false;
  InputMoments hm;
  hm.n = stats_->n;
  hm.tokens = 1;
  hm.h = row_moments(row);
  auto f = gptq_factor(hm);
  if (!f.ok()) return false;
  std::vector<float> diag(static_cast<size_t>(hm.n));
  for (int64_t i = 0; i < hm.n; ++i) diag[static_cast<size_t>(i)] = static_cast<float>(hm.h[static_cast<size_t>(i * hm.n + i)]);
  return quantize_row_gptq(type, x, dst, hm.n, *f.value(), diag.data());
}

}  // namespace wa::quant
