#include "quant/vq.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <limits>
#include <unordered_map>
#include <vector>

#include "core/fp16.h"
#include "core/status.h"
#include "quant/blocks.h"
#include "quant/gptq.h"
#include "quant/pack.h"
#include "quant/unpack.h"

namespace wa::quant {
namespace {

// A multiset of 8 odd magnitudes m = 2a (decreasing) and what the search needs of it.
struct Multiset {
  uint8_t m[8];
  float a[8];   // m / 2
  float norm;   // |a|
  float norm2;  // |a|^2
  int par;      // parity of the number of negative signs that puts the point in C
};

struct Codebook {
  int bits = 0;                 // K: index bits of the magnitude pattern
  std::vector<uint8_t> mag;     // 2^K x 8 odd magnitudes, by index
  std::vector<uint8_t> par;     // 2^K: the sign parity of each pattern
  std::vector<uint64_t> packed; // 2^K: mag and par as the kernels read them (vq.h)
  std::vector<Multiset> sets;   // the codebook's multisets, by increasing norm
  std::unordered_map<uint64_t, uint32_t> index;  // packed magnitudes -> index
  float rms = 0.0f;             // rms coordinate over the codebook's points
};

uint64_t pack8(const uint8_t m[8]) {
  uint64_t k = 0;
  for (int i = 0; i < 8; ++i) k |= static_cast<uint64_t>(m[i]) << (8 * i);
  return k;
}

// Every decreasing sequence of 8 odd values with sum of squares <= budget.
void enumerate(std::vector<std::array<uint8_t, 8>>* out, std::array<uint8_t, 8>& cur, int pos, int maxv, int budget) {
  if (pos == 8) {
    out->push_back(cur);
    return;
  }
  for (int v = maxv; v >= 1; v -= 2) {
    if (v * v + (7 - pos) > budget) continue;
    cur[static_cast<size_t>(pos)] = static_cast<uint8_t>(v);
    enumerate(out, cur, pos + 1, v, budget - v * v);
  }
}

int sumsq(const std::array<uint8_t, 8>& m) {
  int s = 0;
  for (uint8_t v : m) s += v * v;
  return s;
}

// The codebook of vq.h with 2^bits magnitude patterns.
Codebook make_codebook(int bits) {
  Codebook cb;
  cb.bits = bits;
  const size_t size = size_t{1} << bits;
  // The budget grows until the whole multisets below it hold 2^bits patterns.
  std::vector<std::array<uint8_t, 8>> all;
  for (int budget = 64;; budget *= 2) {
    all.clear();
    std::array<uint8_t, 8> cur{};
    enumerate(&all, cur, 0, 63, budget);
    size_t total = 0;
    for (const auto& m : all) {
      std::array<uint8_t, 8> p = m;
      std::sort(p.begin(), p.end());
      size_t c = 0;
      do ++c; while (std::next_permutation(p.begin(), p.end()));
      total += c;
    }
    if (total >= 2 * size) break;
  }
  std::sort(all.begin(), all.end(), [](const std::array<uint8_t, 8>& x, const std::array<uint8_t, 8>& y) {
    const int sx = sumsq(x), sy = sumsq(y);
    return sx != sy ? sx < sy : x < y;
  });
  double sum_sq = 0.0;  // over the points: every pattern stands for 128 of them
  for (const auto& m : all) {
    std::array<uint8_t, 8> p = m;
    std::sort(p.begin(), p.end());
    size_t c = 0;
    do ++c; while (std::next_permutation(p.begin(), p.end()));
    if (cb.mag.size() / 8 + c > size) continue;  // skipped whole (vq.h)
    Multiset s;
    int msum = 0;
    for (int i = 0; i < 8; ++i) {
      s.m[i] = m[static_cast<size_t>(i)];
      s.a[i] = 0.5f * static_cast<float>(m[static_cast<size_t>(i)]);
      msum += m[static_cast<size_t>(i)];
    }
    s.norm2 = 0.25f * static_cast<float>(sumsq(m));
    s.norm = std::sqrt(s.norm2);
    // sum(s_i m_i) = 0 mod 4 with one sign flip changing it by 2 mod 4.
    s.par = (msum / 2) & 1;
    cb.sets.push_back(s);
    do {
      cb.index.emplace(pack8(p.data()), static_cast<uint32_t>(cb.mag.size() / 8));
      cb.mag.insert(cb.mag.end(), p.begin(), p.end());
      cb.par.push_back(static_cast<uint8_t>(s.par));
      sum_sq += static_cast<double>(s.norm2);
    } while (std::next_permutation(p.begin(), p.end()));
    if (cb.mag.size() / 8 == size) break;
  }
  const size_t used = cb.mag.size() / 8;
  cb.rms = static_cast<float>(std::sqrt(sum_sq / static_cast<double>(used) / 8.0));
  while (cb.mag.size() / 8 < size) {
    cb.mag.insert(cb.mag.end(), cb.mag.begin(), cb.mag.begin() + 8);
    cb.par.push_back(cb.par[0]);
  }
  cb.packed.resize(size);
  for (size_t i = 0; i < size; ++i) cb.packed[i] = pack8(cb.mag.data() + 8 * i) | static_cast<uint64_t>(cb.par[i]) << 63;
  return cb;
}

// vq.h's signs[256]: key = 7 sign bits | pattern parity << 7.
const uint64_t* sign_table() {
  static const std::vector<uint64_t> t = [] {
    std::vector<uint64_t> v(256);
    for (uint32_t key = 0; key < 256; ++key) {
      int neg = 0;
      uint64_t s = 0;
      for (int i = 0; i < 8; ++i) {
        bool n;
        if (i < 7) {
          n = (key >> i) & 1u;
          neg += n;
        } else {
          n = (neg & 1) != static_cast<int>(key >> 7);  // decode()'s rule
        }
        s |= static_cast<uint64_t>(n ? 0xffu : 0x01u) << (8 * i);
      }
      v[key] = s;
    }
    return v;
  }();
  return t.data();
}

const Codebook& codebook(DType t) {
  static const Codebook k2 = make_codebook(kVqIndexBits<DType::wa_vq2>);
  static const Codebook k3 = make_codebook(kVqIndexBits<DType::wa_vq3>);
  return t == DType::wa_vq2 ? k2 : k3;
}

// vq.h's packed word of every pattern.
std::vector<uint32_t> pack_words(const Codebook& cb) {
  std::vector<uint32_t> words(cb.par.size());
  for (size_t p = 0; p < words.size(); ++p) {
    uint32_t w = static_cast<uint32_t>(cb.par[p] & 1u) << 3;
    for (uint32_t i = 0; i < 8; ++i) {
      const uint32_t m = cb.mag[8 * p + i];
      WA_ASSERT(m % 2 == 1 && m <= 15);  // 3 bits of (m - 1) / 2
      w |= ((m - 1) / 2) << (8 * (i & 3) + 4 * (i >> 2));
    }
    words[p] = w;
  }
  return words;
}

// The nearest point of the codebook to y (in its units) in the metric
// sum_i wt_i (y_i - q_i)^2 (wt null: all 1): returns the code (index | sign
// bits << K) and the point in q. Unweighted, the sorted match of each
// multiset is its best ordering; weighted, it is the start of a pairwise-swap
// descent on the best multiset's ordering.
uint32_t nearest(const Codebook& cb, const float y[8], const float* wt, float q[8]) {
  float s[8], ws[8];
  int ord[8];
  int neg = 0;
  float nx2 = 0.0f, wmin = 1.0f;
  for (int i = 0; i < 8; ++i) {
    const float v = std::fabs(y[i]);
    neg += y[i] < 0.0f;
    nx2 += v * v;
    int j = i;
    while (j > 0 && s[j - 1] < v) {
      s[j] = s[j - 1];
      ord[j] = ord[j - 1];
      --j;
    }
    s[j] = v;
    ord[j] = i;
  }
  if (wt) {
    for (int r = 0; r < 8; ++r) ws[r] = wt[ord[r]];
    wmin = *std::min_element(ws, ws + 8);
  }
  const float nx = std::sqrt(nx2);
  float best = std::numeric_limits<float>::infinity();
  const Multiset* bs = &cb.sets[0];
  for (const Multiset& m : cb.sets) {
    const float gap = m.norm - nx;
    if (wmin * gap * gap >= best) {
      if (gap > 0.0f) break;
      continue;
    }
    const bool flip = (neg & 1) != m.par;
    float cost;
    if (!wt) {
      float dot = 0.0f;
      for (int r = 0; r < 8; ++r) dot += s[r] * m.a[r];
      cost = nx2 - 2.0f * dot + m.norm2 + (flip ? 4.0f * s[7] * m.a[7] : 0.0f);
    } else {
      cost = 0.0f;
      float fl = std::numeric_limits<float>::infinity();
      for (int r = 0; r < 8; ++r) {
        const float d = s[r] - m.a[r];
        cost += ws[r] * d * d;
        fl = std::min(fl, ws[r] * s[r] * m.a[r]);
      }
      if (flip) cost += 4.0f * fl;
    }
    if (cost < best) {
      best = cost;
      bs = &m;
    }
  }
  float a[8];
  for (int r = 0; r < 8; ++r) a[r] = bs->a[r];
  if (wt) {  // pairwise swaps of the magnitudes while one lowers the weighted error
    for (int pass = 0; pass < 4; ++pass) {
      bool moved = false;
      for (int r1 = 0; r1 < 8; ++r1) {
        for (int r2 = r1 + 1; r2 < 8; ++r2) {
          if (a[r1] == a[r2]) continue;
          const float d11 = s[r1] - a[r1], d22 = s[r2] - a[r2], d12 = s[r1] - a[r2], d21 = s[r2] - a[r1];
          if (ws[r1] * (d12 * d12 - d11 * d11) + ws[r2] * (d21 * d21 - d22 * d22) < 0.0f) {
            std::swap(a[r1], a[r2]);
            moved = true;
          }
        }
      }
      if (!moved) break;
    }
  }
  // The sign to flip when the parity is wrong: the least weighted cost 4 w s a.
  const bool flip = (neg & 1) != bs->par;
  int fr = 7;
  if (flip && wt) {
    float fl = std::numeric_limits<float>::infinity();
    for (int r = 0; r < 8; ++r) {
      if (ws[r] * s[r] * a[r] < fl) {
        fl = ws[r] * s[r] * a[r];
        fr = r;
      }
    }
  }
  uint8_t mag[8];
  bool negs[8];
  for (int r = 0; r < 8; ++r) mag[ord[r]] = static_cast<uint8_t>(2.0f * a[r]);
  for (int i = 0; i < 8; ++i) negs[i] = y[i] < 0.0f;
  if (flip) negs[ord[fr]] = !negs[ord[fr]];
  const uint32_t idx = cb.index.at(pack8(mag));
  uint32_t sg = 0;
  for (int i = 0; i < 8; ++i) {
    if (i < 7 && negs[i]) sg |= 1u << i;
    q[i] = (negs[i] ? -0.5f : 0.5f) * static_cast<float>(mag[i]);
  }
  return idx | (sg << cb.bits);
}

// The 8 signed odd integers (2 x the point) of a code.
void decode(const Codebook& cb, uint32_t code, int8_t out[8]) {
  const uint32_t idx = code & ((1u << cb.bits) - 1), sg = (code >> cb.bits) & 127u;
  const uint8_t* m = cb.mag.data() + idx * 8;
  int neg = 0;
  for (int i = 0; i < 7; ++i) {
    const bool n = (sg >> i) & 1u;
    neg += n;
    out[i] = static_cast<int8_t>(n ? -m[i] : m[i]);
  }
  out[7] = static_cast<int8_t>((neg & 1) != cb.par[idx] ? -m[7] : m[7]);
}

// One super-block as the quantizer decides it.
struct VqSuper {
  f16_bits d;
  int sc[8];
  uint32_t code[32];
};

// Weighted squared error of 32 values at step h (codes into `codes` when not null).
double block_error(const Codebook& cb, const float* x, const float* w, float h, uint32_t* codes) {
  double e = 0.0;
  for (int v = 0; v < 4; ++v) {
    float y[8], q[8];
    for (int i = 0; i < 8; ++i) y[i] = h > 0.0f ? x[8 * v + i] / h : 0.0f;
    const uint32_t c = nearest(cb, y, w ? w + 8 * v : nullptr, q);
    if (codes) codes[v] = c;
    for (int i = 0; i < 8; ++i) {
      const double d = static_cast<double>(x[8 * v + i]) - static_cast<double>(h) * q[i];
      e += (w ? w[8 * v + i] : 1.0) * d * d;
    }
  }
  return e;
}

// Steps 1 and 2 of vq.h (and 3 when codes is true).
void fit_super(const Codebook& cb, const float* x, const float* w, VqSuper* o, bool codes) {
  constexpr int ncand = 14;
  constexpr float fmax = 2.5f;
  float h[8], hmax = 0.0f;
  for (int b = 0; b < 8; ++b) {
    const float* xb = x + 32 * b;
    const float* wb = w ? w + 32 * b : nullptr;
    double ss = 0.0;
    for (int i = 0; i < 32; ++i) ss += static_cast<double>(xb[i]) * xb[i];
    const float h0 = static_cast<float>(std::sqrt(ss / 32.0)) / cb.rms;
    float best_h = h0;
    double best = std::numeric_limits<double>::infinity();
    if (h0 > 0.0f) {
      for (int k = 0; k < ncand; ++k) {
        const float f = 0.6f + (fmax - 0.6f) * static_cast<float>(k) / static_cast<float>(std::max(1, ncand - 1));
        const double e = block_error(cb, xb, wb, f * h0, nullptr);
        if (e < best) {
          best = e;
          best_h = f * h0;
        }
      }
    }
    h[b] = best_h;
    hmax = std::max(hmax, best_h);
  }
  o->d = fp32_to_fp16(hmax / 16.0f);
  const float D = fp16_to_fp32(o->d);
  for (int b = 0; b < 8; ++b) {
    const float* xb = x + 32 * b;
    const float* wb = w ? w + 32 * b : nullptr;
    int sc = 0;
    if (D > 0.0f) {
      const int lo = clampi(static_cast<int>(std::floor(h[b] / D)) - 1, 0, 15), hi = clampi(lo + 1, 0, 15);
      sc = lo;
      if (hi != lo && block_error(cb, xb, wb, D * static_cast<float>(hi + 1), nullptr) <
                          block_error(cb, xb, wb, D * static_cast<float>(lo + 1), nullptr)) {
        sc = hi;
      }
    }
    o->sc[b] = sc;
    if (codes) block_error(cb, xb, wb, D * static_cast<float>(sc + 1), o->code + 4 * b);
  }
}

// Bits [pos, pos + n) of a little-endian byte string.
void put_bits(uint8_t* p, int pos, int n, uint32_t v) {
  for (int i = 0; i < n; ++i, ++pos) {
    if ((v >> i) & 1u) p[pos / 8] = static_cast<uint8_t>(p[pos / 8] | (1u << (pos % 8)));
  }
}

void pack(DType t, const VqSuper& s, void* dst) {
  if (t == DType::wa_vq2) {
    auto* o = static_cast<BlockWaVq2*>(dst);
    for (int v = 0; v < 32; ++v) o->qs[v] = static_cast<uint16_t>(s.code[v]);
    for (int j = 0; j < 4; ++j) o->scales[j] = static_cast<uint8_t>(s.sc[2 * j] | (s.sc[2 * j + 1] << 4));
    o->d = s.d;
  } else {
    auto* o = static_cast<BlockWaVq3*>(dst);
    std::memset(o->qs, 0, sizeof o->qs);
    for (int b = 0; b < 8; ++b) {
      for (int v = 0; v < 4; ++v) put_bits(o->qs[b], 23 * v, 23, s.code[4 * b + v]);
      put_bits(o->qs[b], 92, 4, static_cast<uint32_t>(s.sc[b]));
    }
    o->d = s.d;
  }
}

// Scales and codes of super-block b of a row (quant/unpack.h reads the bits).
void unpack(DType t, const void* row, int64_t b, float* D, int sc[8], uint32_t code[32]) {
  if (t == DType::wa_vq2) {
    const auto& o = static_cast<const BlockWaVq2*>(row)[b];
    for (int j = 0; j < 8; ++j) quant::vq_block_codes<DType::wa_vq2>(&o, j, code + 4 * j, sc + j);
    *D = fp16_to_fp32(o.d);
  } else {
    const auto& o = static_cast<const BlockWaVq3*>(row)[b];
    for (int j = 0; j < 8; ++j) quant::vq_block_codes<DType::wa_vq3>(&o, j, code + 4 * j, sc + j);
    *D = fp16_to_fp32(o.d);
  }
}

size_t block_bytes(DType t) { return t == DType::wa_vq2 ? sizeof(BlockWaVq2) : sizeof(BlockWaVq3); }

void dequantize_row(DType t, const void* src, float* dst, int64_t n) {
  const Codebook& cb = codebook(t);
  for (int64_t b = 0; b < n / QK_K; ++b) {
    float D;
    int sc[8];
    uint32_t code[32];
    unpack(t, src, b, &D, sc, code);
    for (int v = 0; v < 32; ++v) {
      int8_t c[8];
      decode(cb, code[v], c);
      const float h = 0.5f * D * static_cast<float>(sc[v / 4] + 1);
      for (int i = 0; i < 8; ++i) dst[b * QK_K + 8 * v + i] = h * static_cast<float>(c[i]);
    }
  }
}

void quantize_row(DType t, const float* src, void* dst, int64_t n, const float* w) {
  const Codebook& cb = codebook(t);
  for (int64_t b = 0; b < n / QK_K; ++b) {
    VqSuper s;
    fit_super(cb, src + b * QK_K, w ? w + b * QK_K : nullptr, &s, true);
    pack(t, s, static_cast<uint8_t*>(dst) + b * static_cast<int64_t>(block_bytes(t)));
  }
}

float dot_row(DType t, const void* w, const void* x, int64_t nb) {
  const Codebook& cb = codebook(t);
  const auto* xb = static_cast<const BlockQ8_K*>(x);
  float acc = 0.0f;
  for (int64_t b = 0; b < nb; ++b) {
    float D;
    int sc[8];
    uint32_t code[32];
    unpack(t, w, b, &D, sc, code);
    int32_t sum = 0;
    for (int j = 0; j < 8; ++j) {
      int32_t isum = 0;
      for (int v = 4 * j; v < 4 * j + 4; ++v) {
        int8_t c[8];
        decode(cb, code[v], c);
        for (int i = 0; i < 8; ++i) isum += c[i] * xb[b].qs[8 * v + i];
      }
      sum += (sc[j] + 1) * isum;
    }
    acc += 0.5f * D * xb[b].d * static_cast<float>(sum);
  }
  return acc;
}

// Rounds super-block b of the row w on the scales of s, vector by vector,
// each column's error spread over the columns after it (gptq.h); the codes
// into s, and (seen not null) each column's value when it was rounded.
void super_pass(const Codebook& cb, float* w, int64_t n, const GptqFactor& f, int64_t b, int iters, VqSuper* s,
                float* seen) {
  const float* xb = w + b * QK_K;
  const float D = fp16_to_fp32(s->d);
  for (int v = 0; v < 32; ++v) {
    const float h = D * static_cast<float>(s->sc[v / 4] + 1);
    const int64_t j0 = b * QK_K + 8 * v;
    // The point is chosen for the values as the compensation inside the
    // vector will leave them: column i's value moves with the errors of
    // columns 0..i-1, which depend on the point. Candidates: the nearest
    // point to the values before compensation, then (a few rounds) the
    // nearest to the values that the last candidate leaves; the one with
    // the least loss sum_i (e_i / U_ii)^2 (e_i: column i's error after
    // the compensation of the columns before it) is kept.
    float y[8], q[8], cur[8];
    for (int i = 0; i < 8; ++i) y[i] = h > 0.0f ? xb[8 * v + i] / h : 0.0f;
    // The metric of column i's loss: 1 / U_ii^2.
    float gw[8];
    for (int i = 0; i < 8; ++i) {
      const float uii = f.u[static_cast<size_t>((j0 + i) * n + j0 + i)];
      gw[i] = 1.0f / (uii * uii);
    }
    const float* vw = gw;
    uint32_t code = nearest(cb, y, vw, q);
    auto vec_loss = [&](const float* qq, float* after) {
      double loss = 0.0;
      for (int i = 0; i < 8; ++i) after[i] = w[j0 + i];
      for (int i = 0; i < 8; ++i) {
        const float* row = f.u.data() + (j0 + i) * n;
        const float e = (after[i] - h * qq[i]) / row[j0 + i];
        loss += static_cast<double>(e) * e;
        for (int k = i + 1; k < 8; ++k) after[k] -= e * row[j0 + k];
      }
      return loss;
    };
    if (h > 0.0f && iters > 0) {
      double best = vec_loss(q, cur);
      float qc[8];
      std::memcpy(qc, q, sizeof qc);
      uint32_t last = code;
      for (int it = 0; it < iters; ++it) {
        for (int i = 0; i < 8; ++i) y[i] = cur[i] / h;
        const uint32_t c2 = nearest(cb, y, vw, qc);
        if (c2 == last) break;
        last = c2;
        const double l2 = vec_loss(qc, cur);
        if (l2 < best) {
          best = l2;
          code = c2;
          std::memcpy(q, qc, sizeof q);
        }
      }
    }
    s->code[v] = code;
    for (int i = 0; i < 8; ++i) {
      const int64_t j = j0 + i;
      const float* row = f.u.data() + j * n;
      if (seen) seen[8 * v + i] = w[j];
      const float e = (w[j] - h * q[i]) / row[j];
      for (int64_t k = j + 1; k < n; ++k) w[k] -= e * row[k];
    }
  }
}

}  // namespace

bool is_vq_type(DType type) { return type == DType::wa_vq2 || type == DType::wa_vq3; }

int vq_code_bits(DType type) { return codebook(type).bits + 7; }
void vq_point(DType type, uint32_t code, int8_t out[8]) { decode(codebook(type), code, out); }
uint32_t vq_nearest(DType type, const float y[8], float q[8]) { return nearest(codebook(type), y, nullptr, q); }
VqCodebookView vq_codebook(DType type) {
  const Codebook& cb = codebook(type);
  return {cb.bits, cb.mag.data(), cb.par.data(), cb.packed.data(), sign_table()};
}
std::span<const uint32_t> vq_codebook_words(DType type) {
  static const std::vector<uint32_t> k2 = pack_words(codebook(DType::wa_vq2));
  static const std::vector<uint32_t> k3 = pack_words(codebook(DType::wa_vq3));
  return type == DType::wa_vq2 ? k2 : k3;
}

void dequantize_row_wa_vq2(const void* src, float* dst, int64_t n) { dequantize_row(DType::wa_vq2, src, dst, n); }
void quantize_row_wa_vq2(const float* src, void* dst, int64_t n) { quantize_row(DType::wa_vq2, src, dst, n, nullptr); }
void dequantize_row_wa_vq3(const void* src, float* dst, int64_t n) { dequantize_row(DType::wa_vq3, src, dst, n); }
void quantize_row_wa_vq3(const float* src, void* dst, int64_t n) { quantize_row(DType::wa_vq3, src, dst, n, nullptr); }
float dot_wa_vq2_q8_k(const void* w, const void* x, int64_t nb) { return dot_row(DType::wa_vq2, w, x, nb); }
float dot_wa_vq3_q8_k(const void* w, const void* x, int64_t nb) { return dot_row(DType::wa_vq3, w, x, nb); }

bool quantize_row_vq_weighted(DType type, const float* x, void* dst, int64_t n, const float* col_weights) {
  if (!is_vq_type(type)) return false;
  quantize_row(type, x, dst, n, col_weights);
  return true;
}

bool quantize_row_vq_gptq(DType type, float* w, const float* col_weights, void* dst, int64_t n, const GptqFactor& f) {
  if (!is_vq_type(type) || f.n != n) return false;
  constexpr int iters = 3;  // candidates after the first point (vq.h)
  const Codebook& cb = codebook(type);
  std::vector<float> saved;
  for (int64_t b = 0; b < n / QK_K; ++b) {
    float* xb = w + b * QK_K;
    const float* cwb = col_weights ? col_weights + b * QK_K : nullptr;
    VqSuper s;
    fit_super(cb, xb, cwb, &s, false);
    // The values each column had when it was rounded (the compensation moves
    // them after the fit): one pass on a copy, then the scales fitted to
    // those values, then the pass that counts.
    saved.assign(w + b * QK_K, w + n);
    float seen[QK_K];
    super_pass(cb, w, n, f, b, iters, &s, seen);
    std::copy(saved.begin(), saved.end(), w + b * QK_K);
    fit_super(cb, seen, cwb, &s, false);
    super_pass(cb, w, n, f, b, iters, &s, nullptr);
    pack(type, s, static_cast<uint8_t*>(dst) + b * static_cast<int64_t>(block_bytes(type)));
  }
  return true;
}

}  // namespace wa::quant

