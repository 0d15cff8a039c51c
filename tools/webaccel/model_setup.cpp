#include "model_setup.h"

#include "core/thread_pool.h"
#include "tokenizers/tokenizer.h"

namespace wa::cli {

Result<EngineOptions> engine_options(const Args& args) {
  EngineOptions o;
  o.model_path = args.get_or("-m", args.get_or("--model", ""));
  if (o.model_path.empty()) return invalid_argument("no model given (-m MODEL)");
  WA_ASSIGN_OR_RETURN(long long t, args.get_int("--threads", 0, 0, 1024));
  WA_ASSIGN_OR_RETURN(long long t2, args.get_int("-t", t, 0, 1024));
  o.n_threads = static_cast<int>(t2);
  WA_ASSIGN_OR_RETURN(long long ctx, args.get_int("--ctx", 0, 0, 1 << 20));
  o.n_ctx = static_cast<int>(ctx);
  o.kv_type = args.get_or("--kv-type", "auto");
  return o;
}

int32_t bos_id(const LoadedModel& m) {
  if (m.tokenizer && m.tokenizer->bos_id() >= 0) return m.tokenizer->bos_id();
  if (auto v = m.file->get_int("tokenizer.ggml.bos_token_id")) return static_cast<int32_t>(*v);
  return 1;
}

Result<std::unique_ptr<Engine>> open_engine(const EngineOptions& o) {
  auto e = std::make_unique<Engine>();
  LoadOptions lo;
  lo.tracker = e->tracker.get();
  lo.require_tokenizer = o.require_tokenizer;
  WA_ASSIGN_OR_RETURN(e->loaded, load_model(o.model_path, lo));
  e->n_threads = o.n_threads > 0 ? o.n_threads : ThreadPool::default_threads();
  e->backend = make_cpu_backend({e->n_threads, e->tracker.get()});
  SessionOptions so;
  so.n_ctx = o.n_ctx;
  so.tracker = e->tracker.get();
  if (o.kv_type == "auto") {
    so.kv_type = std::nullopt;  // the session decides from the model's weight type
  } else if (o.kv_type == "f32") {
    so.kv_type = DType::f32;
  } else if (o.kv_type == "f16") {
    so.kv_type = DType::f16;
  } else {
    return invalid_argument("--kv-type must be auto, f32 or f16");
  }
  WA_ASSIGN_OR_RETURN(e->session, Session::create(*e->loaded.model, *e->backend, so));
  return e;
}

}  // namespace wa::cli
