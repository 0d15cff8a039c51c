// The workload that `webaccel bench` and bench/wasm_model_bench.cpp time, in
// one place so that native and wasm figures measure the same thing.
#pragma once

#include "core/status.h"
#include "runtime/session.h"

namespace wa {

// A fresh context, then n_prompt pseudo-random tokens in one eval (pp) and
// n_gen single-token evals (tg; the ids fed do not change the cost), as
// llama-bench does. *seconds: the wall time of both.
Status time_prompt_and_generation(Session& s, int n_prompt, int n_gen, double* seconds);

}  // namespace wa
