// Factories of the architecture files. Listed explicitly in registry.cpp
// (self-registering statics would be dropped by the linker from a static lib).
#pragma once

#include "runtime/model.h"

namespace wa {

// LLaMA family: llama (LLaMA 1/2/3, Mistral-style files), mistral, qwen2.
Result<std::unique_ptr<Model>> create_llama_model(const GgufFile& file, MemoryTracker* tracker);

}  // namespace wa
