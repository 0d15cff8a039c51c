#include "quant/planner.h"

#include <algorithm>
#include <numeric>

namespace wa::quant {
namespace {

// The options of one item worth considering: the Pareto front by increasing
// bytes (each one strictly lower in loss than every cheaper one).
std::vector<int> pareto_front(const std::vector<PlanOption>& o) {
  std::vector<int> idx(o.size());
  std::iota(idx.begin(), idx.end(), 0);
  std::stable_sort(idx.begin(), idx.end(), [&](int a, int b) {
    if (o[a].bytes != o[b].bytes) return o[a].bytes < o[b].bytes;
    return o[a].loss < o[b].loss;
  });
  std::vector<int> front;
  for (int i : idx) {
    if (front.empty() || o[static_cast<size_t>(i)].loss < o[static_cast<size_t>(front.back())].loss) {
      if (!front.empty() && o[static_cast<size_t>(front.back())].bytes == o[static_cast<size_t>(i)].bytes) continue;
      front.push_back(i);
    }
  }
  return front;
}

}  // namespace

Result<Plan> plan_precision(const std::vector<PlanItem>& items, uint64_t budget) {
  if (items.empty()) return invalid_argument("nothing to plan: no tensors");
  std::vector<std::vector<int>> fr;
  Plan plan;
  plan.choice.resize(items.size());
  uint64_t used = 0;
  size_t n_options = 0;
  for (size_t i = 0; i < items.size(); ++i) {
    if (items[i].options.empty()) return invalid_argument("tensor '" + items[i].name + "' has no storage option");
    fr.push_back(pareto_front(items[i].options));
    plan.choice[i] = fr.back()[0];
    used += items[i].options[static_cast<size_t>(plan.choice[i])].bytes;
    n_options += fr.back().size();
  }
  if (used > budget) {
    return invalid_argument(strformat("the budget (%llu bytes) is below the smallest plan: %llu bytes with every "
                                      "tensor in its smallest type",
                                      static_cast<unsigned long long>(budget), static_cast<unsigned long long>(used)));
  }
  auto opt = [&](size_t i, int k) -> const PlanOption& { return items[i].options[static_cast<size_t>(k)]; };

  // Multiple-choice knapsack by dynamic programming over the bytes above
  // every item's smallest option, in units of g bytes. Each option's extra
  // bytes are rounded up to whole units and the budget down, so the plan
  // fits in true bytes; g = 1 (exact) unless that would take more than about
  // 2^24 steps, then as small as that allows (the rounding loses at most one
  // unit per item, which the local improvement below takes back where it can).
  const uint64_t spare = budget - used;
  const uint64_t max_units = std::clamp<uint64_t>((uint64_t{1} << 24) / std::max<size_t>(n_options, 1), 4096, 1u << 18);
  const uint64_t g = std::max<uint64_t>(1, (spare + max_units - 1) / max_units);
  const size_t S = static_cast<size_t>(spare / g);
  std::vector<double> best(S + 1, 0.0), next(S + 1);
  std::vector<std::vector<uint8_t>> pick(items.size(), std::vector<uint8_t>(S + 1, 0));
  auto units = [&](size_t i, int k) {
    return static_cast<size_t>((opt(i, k).bytes - opt(i, fr[i][0]).bytes + g - 1) / g);
  };
  for (size_t i = 0; i < items.size(); ++i) {
    const size_t K = std::min<size_t>(fr[i].size(), 255);
    for (size_t s = 0; s <= S; ++s) {
      double b = best[s] + opt(i, fr[i][0]).loss;
      uint8_t p = 0;
      for (size_t k = 1; k < K; ++k) {
        const size_t u = units(i, fr[i][k]);
        if (u > s) break;  // the front is sorted by bytes
        const double v = best[s - u] + opt(i, fr[i][k]).loss;
        if (v < b) b = v, p = static_cast<uint8_t>(k);
      }
      next[s] = b;
      pick[i][s] = p;
    }
    best.swap(next);
  }
  used = 0;
  for (size_t i = items.size(), s = S; i-- > 0;) {
    const int k = fr[i][pick[i][s]];
    plan.choice[i] = k;
    s -= units(i, k);
    used += opt(i, k).bytes;
  }

  // Local improvement over the whole Pareto fronts: the single change, or the
  // pair of changes (one item down, another up), that fits and lowers the
  // total loss most, until none does (after an exact program, none; with a
  // rounding unit, the bytes it left). Bounded, so a large model's plan stays quick.
  for (int round = 0; round < 64; ++round) {
    double total = 0.0;
    for (size_t i = 0; i < items.size(); ++i) total += opt(i, plan.choice[i]).loss;
    // Gains below rounding noise of the total are no gains (no cycling between equal plans).
    double best_gain = 1e-12 * std::max(total, 0.0);
    size_t bi = 0, bj = 0;
    int bk = -1, bl = -1;
    for (size_t i = 0; i < items.size(); ++i) {
      const PlanOption& cur_i = opt(i, plan.choice[i]);
      for (int k : fr[i]) {
        if (k == plan.choice[i]) continue;
        const PlanOption& ni = opt(i, k);
        const int64_t di = static_cast<int64_t>(ni.bytes) - static_cast<int64_t>(cur_i.bytes);
        const double gi = cur_i.loss - ni.loss;
        if (di <= static_cast<int64_t>(budget - used) && gi > best_gain) {
          best_gain = gi, bi = i, bk = k, bl = -1;
        }
        if (di >= 0) continue;  // pairs: i gives bytes up, j takes them
        for (size_t j = 0; j < items.size(); ++j) {
          if (j == i) continue;
          const PlanOption& cur_j = opt(j, plan.choice[j]);
          for (int l : fr[j]) {
            const PlanOption& nj = opt(j, l);
            if (nj.bytes <= cur_j.bytes) continue;
            const int64_t d = di + static_cast<int64_t>(nj.bytes - cur_j.bytes);
            const double gain = gi + (cur_j.loss - nj.loss);
            if (d <= static_cast<int64_t>(budget - used) && gain > best_gain) {
              best_gain = gain, bi = i, bk = k, bj = j, bl = l;
            }
          }
        }
      }
    }
    if (bk < 0) break;
    used = used - opt(bi, plan.choice[bi]).bytes + opt(bi, bk).bytes;
    plan.choice[bi] = bk;
    if (bl >= 0) {
      used = used - opt(bj, plan.choice[bj]).bytes + opt(bj, bl).bytes;
      plan.choice[bj] = bl;
    }
  }

  plan.bytes = 0;
  plan.loss = 0.0;
  for (size_t i = 0; i < items.size(); ++i) {
    plan.bytes += opt(i, plan.choice[i]).bytes;
    plan.loss += opt(i, plan.choice[i]).loss;
  }
  return plan;
}

}  // namespace wa::quant
