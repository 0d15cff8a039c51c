// Precision planning: one storage option per tensor such that the options'
// bytes fit a budget with the least total loss. A pure function of its
// inputs (no I/O, no model): `quantize --adaptive` (formats/convert_adaptive.cpp)
// measures each option's bytes and loss and calls it.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/dtype.h"
#include "core/status.h"

namespace wa::quant {

struct PlanOption {
  DType type = DType::f32;
  uint64_t bytes = 0;  // what this option costs against the budget (measured, as stored)
  double loss = 0.0;   // estimated loss when the tensor is stored so (lower is better; losses add)
};

struct PlanItem {
  std::string name;
  std::vector<PlanOption> options;  // any order; at least one
};

struct Plan {
  std::vector<int> choice;  // per item: the index of the chosen option in its `options`
  uint64_t bytes = 0;       // sum of the chosen options' bytes
  double loss = 0.0;        // sum of their losses
};

// Chooses an option per item with sum(bytes) <= budget and the least total
// loss: a multiple-choice knapsack solved by dynamic programming over the
// bytes (exact up to a rounding unit that keeps it under about 2^24 steps;
// planner.cpp), then single and paired changes that fit and lower the loss.
// Only each item's Pareto front (options lower in loss than every smaller
// one) is considered. Deterministic: ties go to the smaller option.
// Errors: no items, an item without options, or a budget below the sum of
// the smallest options (the message gives that minimum).
Result<Plan> plan_precision(const std::vector<PlanItem>& items, uint64_t budget);

}  // namespace wa::quant
