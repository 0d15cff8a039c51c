// Loading a model for a command: the file, a CPU backend, a session, and the
// memory tracker they all report to.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "backends/backend.h"
#include "cli.h"
#include "core/memory.h"
#include "runtime/model.h"
#include "runtime/session.h"

namespace wa::cli {

struct Engine {
  std::unique_ptr<MemoryTracker> tracker = std::make_unique<MemoryTracker>();
  LoadedModel loaded;
  std::unique_ptr<Backend> backend;
  std::unique_ptr<Session> session;
  int n_threads = 1;
};

struct EngineOptions {
  std::string model_path;
  int n_threads = 0;        // 0: all hardware threads
  int n_ctx = 0;            // 0: the model's default
  std::string kv_type = "auto";
  bool require_tokenizer = false;
};

// Reads -m/--model, --threads/-t, --ctx, --kv-type from args.
Result<EngineOptions> engine_options(const Args& args);
Result<std::unique_ptr<Engine>> open_engine(const EngineOptions& options);
// BOS id from the tokenizer, else from metadata, else 1 (the LLaMA convention).
int32_t bos_id(const LoadedModel& m);

}  // namespace wa::cli
