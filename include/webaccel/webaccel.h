/* webaccel public C API.
 *
 * One ABI for every embedding: native programs, and the wasm build that the
 * JS/TS package (js/) drives. Plain C, opaque handles, integer status codes;
 * nothing here aborts or throws on bad input. Every function that can fail
 * returns a wa_status and leaves a message on the handle it was called on
 * (wa_engine_last_error, wa_model_last_error, wa_session_last_error); a
 * failed wa_engine_create, which has no handle yet, leaves it in wa_last_error.
 *
 * Strings and arrays returned by pointer are owned by the handle they came
 * from and stay valid until the next call on that handle (or its release).
 * Text is UTF-8 with an explicit length; it may contain NUL bytes.
 *
 * The API is step-based, so a JS driver can await between steps (and so a
 * browser page or worker never blocks for long): load once, then evaluate a
 * prompt (in batches, cancellable between them), then alternate sample ->
 * eval(one token) -> decode. There is no callback into the caller.
 *
 * Usage (error handling shortened):
 *
 *   wa_engine* e = NULL;
 *   wa_engine_create(2, &e);                       // 2 threads; 0 = all cores
 *   uint8_t* buf = (uint8_t*)wa_alloc(size);       // the model file's bytes...
 *   fread(buf, 1, size, f);                        // ...copied in by the caller
 *   wa_model* m = NULL;
 *   if (wa_model_load(e, buf, size, &m) != WA_OK)  // takes buf, even on failure
 *     fprintf(stderr, "%s\n", wa_engine_last_error(e));
 *   const int32_t* ids; int32_t n;
 *   wa_model_tokenize(m, "Once", 4, WA_TOKENIZE_ADD_BOS, &ids, &n);
 *   wa_session* s = NULL;
 *   wa_session_create(m, 0, WA_KV_AUTO, &s);
 *   wa_session_eval(s, ids, n, 0);
 *   wa_sampler_params sp; wa_sampler_params_default(&sp); sp.temperature = 0;
 *   wa_sampler* smp = NULL; wa_sampler_create(&sp, &smp);
 *   wa_decoder* d = NULL; wa_decoder_create(m, 0, &d);
 *   for (int i = 0; i < 64; ++i) {
 *     int32_t id = wa_sampler_sample(smp, s);
 *     if (wa_model_is_end_of_generation(m, id)) break;
 *     wa_sampler_accept(smp, id);
 *     const char* text; size_t len;
 *     wa_decoder_push(d, id, &text, &len); fwrite(text, 1, len, stdout);
 *     if (wa_session_eval(s, &id, 1, 0) != WA_OK) break;
 *   }
 *   wa_decoder_release(d); wa_sampler_release(smp);
 *   wa_session_release(s); wa_model_release(m); wa_engine_release(e);
 */
#ifndef WEBACCEL_WEBACCEL_H_
#define WEBACCEL_WEBACCEL_H_

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* `used` is what EMSCRIPTEN_KEEPALIVE expands to: the wasm build exports
 * every function marked with it. */
#if defined(__EMSCRIPTEN__)
#define WA_API __attribute__((used, visibility("default")))
#else
#define WA_API __attribute__((visibility("default")))
#endif

/* Status codes: the same numbers as wa::StatusCode (src/core/status.h). */
typedef int32_t wa_status;
enum {
  WA_OK = 0,
  WA_INVALID_ARGUMENT = 1, /* the caller passed something wrong */
  WA_INVALID_FILE = 2,     /* a model file is malformed, truncated or inconsistent */
  WA_UNSUPPORTED = 3,      /* well-formed, but a type/architecture we do not run */
  WA_OUT_OF_MEMORY = 4,
  WA_IO_ERROR = 5,
  WA_CANCELLED = 6,        /* wa_session_cancel stopped an evaluation */
  WA_DEVICE_LOST = 7,
  WA_INTERNAL = 8
};
/* "ok", "invalid_argument", ...; never NULL. */
WA_API const char* wa_status_name(wa_status status);

typedef struct wa_engine wa_engine;
typedef struct wa_model wa_model;
typedef struct wa_session wa_session;
typedef struct wa_sampler wa_sampler;
typedef struct wa_decoder wa_decoder;

/* Build and runtime facts as JSON: version, whether the build has threads,
 * the kernel ISA in use and those available, hardware threads. */
WA_API const char* wa_build_info_json(void);
/* Forces the CPU kernel ISA ("scalar", "avx2", "avx512", "wasm_simd128") for
 * the whole process, e.g. to compare SIMD kernels with the scalar reference.
 * WA_UNSUPPORTED if this build or CPU lacks it. Not while an eval runs. */
WA_API wa_status wa_set_isa(const char* name);
WA_API const char* wa_isa(void);

/* Memory for model bytes (64-byte aligned). wa_alloc returns NULL when the
 * allocation fails (never aborts). */
WA_API void* wa_alloc(size_t bytes);
WA_API void wa_free(void* p);

/* The heap that wa_alloc and the runtime allocate from: its size now, the
 * most it can grow to, and the free bytes inside it (the allocator's free
 * lists: an upper bound on what fits without growing). So `max - size +
 * free_bytes` bounds what can still be allocated; the wasm build's JS driver
 * checks a model's size against it before copying the file in, because in
 * wasm an allocation failure inside C++ (std::bad_alloc) cannot be caught and
 * ends the module. Natively all three are 0: the operating system decides. */
WA_API void wa_heap_info(size_t* size, size_t* max, size_t* free_bytes);

/* Message of the last failed wa_engine_create on this thread. */
WA_API const char* wa_last_error(void);

/* ---- engine: threads, memory accounting; owns the CPU backend ---------- */
/* n_threads: 0 = all hardware threads. */
WA_API wa_status wa_engine_create(int32_t n_threads, wa_engine** out);
WA_API void wa_engine_release(wa_engine* engine);
WA_API int32_t wa_engine_threads(const wa_engine* engine);
WA_API const char* wa_engine_last_error(const wa_engine* engine);
/* Per-component memory (weights, KV cache, activations) as JSON:
 * {"current":N,"peak":N,"entries":[{"component","category","current","peak","mapped"}]} */
WA_API const char* wa_engine_memory_json(wa_engine* engine);

/* ---- WebGPU ------------------------------------------------------------- */
/* What the GPU device offers, filled by the JS driver from the adapter and
 * the limits it requested. Layout is part of the ABI (offsets 0, 8, 16, 20,
 * 24, ..., 68, 4 bytes apart; 72 bytes). */
typedef struct wa_gpu_device_config {
  double max_buffer_size;          /* bytes */
  double max_storage_binding;      /* maxStorageBufferBindingSize, bytes */
  uint32_t max_workgroup_storage;  /* maxComputeWorkgroupStorageSize */
  uint32_t max_invocations;        /* maxComputeInvocationsPerWorkgroup */
  uint32_t max_workgroups_per_dim; /* maxComputeWorkgroupsPerDimension */
  uint32_t min_storage_align;      /* minStorageBufferOffsetAlignment */
  uint32_t min_uniform_align;      /* minUniformBufferOffsetAlignment */
  uint32_t max_storage_buffers;    /* maxStorageBuffersPerShaderStage */
  int32_t shader_f16;              /* the device was created with shader-f16 */
  int32_t subgroups;               /* the device was created with subgroups */
  int32_t lazy_pipelines;          /* 1: no precompilation at load (for measuring it) */
  int32_t packed_dot;              /* WGSL has packed_4x8_integer_dot_product */
  uint32_t subgroup_min_size;      /* GPUAdapterInfo.subgroupMinSize; 0: unknown */
  uint32_t matvec_tuning;          /* 0: the backend's choice; else rows | blocks_in_flight << 8
                                      | groups << 16 | blocks_per_unit << 24 (0: the backend's)
                                      for every int8-x decode matvec (benchmarks: shapes compared
                                      on one machine without a rebuild) */
  int32_t l2_warm;                 /* 1: the decode attention reads the o projection's weights into
                                      the L2 cache while it runs (l2_warm.wgsl); set by the JS driver
                                      for NVIDIA adapters with large L2 caches (l2WarmFor) */
  uint32_t few_token_prompt;       /* 0: the backend's choice; else the longest prompt whose matrices
                                      run as few-token matvecs (1: none; benchmarks: the crossover
                                      with the tiled matmul measured without a rebuild) */
} wa_gpu_device_config;

/* An engine whose models run on a WebGPU device (with the CPU backend of
 * n_threads for models the GPU kernels cannot run). Work for the GPU is
 * recorded as a command stream that the caller (the JS driver) executes:
 * after every call that may record (model load, session create/eval/release,
 * model release), take the stream with wa_engine_gpu_stream, execute it,
 * wait for its readbacks, then call wa_engine_gpu_stream_done. Results such
 * as logits are valid only after that. */
WA_API wa_status wa_engine_create_webgpu(int32_t n_threads, const wa_gpu_device_config* config, wa_engine** out);
/* The pending stream: *words points at n 32-bit words (see
 * src/backends/webgpu/command_stream.h); returns n, 0 when nothing is pending. */
WA_API uint32_t wa_engine_gpu_stream(wa_engine* engine, const uint32_t** words);
WA_API void wa_engine_gpu_stream_done(wa_engine* engine);
/* Pipelines created so far and dispatches in the pending stream. */
WA_API int32_t wa_engine_gpu_pipelines(const wa_engine* engine);
WA_API int32_t wa_engine_gpu_dispatches(const wa_engine* engine);

/* ---- model -------------------------------------------------------------- */
/* Loads a GGUF file from `size` bytes at `data`, which must come from
 * wa_alloc. The model takes ownership of `data` in every case (it is freed on
 * failure too) and uses tensor data in place. On failure *out is NULL and the
 * message is on the engine. Models use the engine's backend: release them
 * before the engine. */
WA_API wa_status wa_model_load(wa_engine* engine, uint8_t* data, size_t size, wa_model** out);
/* Header-first loading, for WebGPU engines: the model is made from the GGUF
 * header (the first `size` bytes at `data` of a file of `file_size` bytes;
 * copied, the caller keeps `data`), and its weights go from the caller's
 * source straight to GPU buffers, never all into wasm memory (which cannot
 * hold a 7B file). Every count, offset and size is validated against
 * file_size. Returns WA_OK and one of:
 *  - *out set: the model runs on the GPU. The pending GPU stream (see
 *    wa_engine_create_webgpu) holds upload_from_source commands, in
 *    increasing file order, that the caller satisfies by reading the source
 *    front to back; the model has no host copy of its weights.
 *  - *out NULL, size < *need < file_size: the header goes on past `size`
 *    bytes; call again with at least *need bytes.
 *  - *out NULL, *need == file_size: the model needs its bytes in memory
 *    (the GPU kernels cannot run it, or the engine has no GPU): load it with
 *    wa_model_load, or report wa_engine_last_error (which says why) when the
 *    file cannot fit in memory.
 * Sizes are doubles (exact to 2^53) so that JS passes plain numbers. Other
 * statuses are failures (bad file: WA_INVALID_FILE), message on the engine. */
WA_API wa_status wa_model_load_header(wa_engine* engine, const uint8_t* data, size_t size, double file_size,
                                      double* need, wa_model** out);
WA_API void wa_model_release(wa_model* model);
WA_API const char* wa_model_last_error(const wa_model* model);
/* {"arch","n_vocab","n_ctx_train","n_params","file_size","n_tensors",
 *  "weight_type","has_tokenizer","streamed","tokenizer","bos_id","eos_id","hparams":{...}}
 * (streamed: the weights were loaded with wa_model_load_header, device only) */
WA_API const char* wa_model_info_json(wa_model* model);
/* The backend the model's sessions run on ("webgpu" or "cpu") and why. */
WA_API const char* wa_model_backend(const wa_model* model);
WA_API const char* wa_model_backend_reason(const wa_model* model);
/* Moves a WebGPU model to the CPU backend (the device was lost): its device
 * buffers are forgotten; sessions created before must be released and
 * recreated (their KV caches were on the device). A streamed model has no
 * weights left: new sessions fail with WA_DEVICE_LOST. */
WA_API void wa_model_use_cpu(wa_model* model);
WA_API int32_t wa_model_n_vocab(const wa_model* model);
/* The BOS id (tokenizer, else metadata, else 1). */
WA_API int32_t wa_model_bos(const wa_model* model);
/* EOS/EOT and chat end-of-turn markers; 0 when the model has no tokenizer. */
WA_API int32_t wa_model_is_end_of_generation(const wa_model* model, int32_t id);

enum { WA_TOKENIZE_ADD_BOS = 1, WA_TOKENIZE_PARSE_SPECIAL = 2, WA_TOKENIZE_DEFAULT_BOS = 4 };
/* Text -> ids (owned by the model). WA_TOKENIZE_DEFAULT_BOS adds BOS when the
 * tokenizer does so by default. WA_INVALID_ARGUMENT without a tokenizer. */
WA_API wa_status wa_model_tokenize(wa_model* model, const char* text, size_t len, int32_t flags,
                                   const int32_t** ids, int32_t* n_ids);
/* Ids -> text (owned by the model); control tokens are skipped unless
 * keep_special. */
WA_API wa_status wa_model_detokenize(wa_model* model, const int32_t* ids, int32_t n_ids, int32_t keep_special,
                                     const char** text, size_t* len);

/* ---- session: KV cache, position, logits ------------------------------- */
enum { WA_KV_AUTO = 0, WA_KV_F32 = 1, WA_KV_F16 = 2 };
/* n_ctx: 0 = min(training context, 4096). WA_KV_AUTO keeps f32 keys/values
 * for f32 models (exact references) and f16 otherwise. */
WA_API wa_status wa_session_create(wa_model* model, int32_t n_ctx, int32_t kv_type, wa_session** out);
WA_API void wa_session_release(wa_session* session);
WA_API const char* wa_session_last_error(const wa_session* session);
/* Appends tokens at the current position. With all_logits, logits for every
 * token are kept; otherwise only the last token's, and the prompt is run in
 * batches with a cancellation check between them. */
WA_API wa_status wa_session_eval(wa_session* session, const int32_t* ids, int32_t n_ids, int32_t all_logits);
/* As wa_session_eval (last-token logits), but the result is only the next
 * token, chosen by the backend, read with wa_session_chosen: the largest
 * logit when sampler is NULL or greedy, else the token the sampler's next
 * random draw picks from its distribution (temperature, top-k, top-p, min-p;
 * the same draw wa_sampler_sample would make). A repetition penalty applies
 * over the ids given to wa_sampler_accept so far, as in wa_sampler_sample
 * (a window of at most 1024 ids: WA_INVALID_ARGUMENT for more). On WebGPU
 * one word is read back instead of the logits. WA_UNSUPPORTED where the
 * backend cannot make the sampler's choice (see wa_sampler_on_device). */
WA_API wa_status wa_session_eval_choose(wa_session* session, wa_sampler* sampler, const int32_t* ids, int32_t n_ids);
WA_API int32_t wa_session_chosen(const wa_session* session);
/* Decoding with the chosen id left on the device: evaluates one token, the
 * id the last wa_session_eval_choose (or chained step) chose, without
 * reading it back first, so on WebGPU the next step runs while the host
 * still waits for this one's id; this step's id is chosen as
 * wa_session_eval_choose would; a repetition penalty's window is the
 * previous step's with that step's id appended on the device, so the ids of
 * steps in flight count before the host accepts them (accept every id the
 * steps choose, as with host sampling, so that a later unchained step starts
 * from the same window). It is written to *id_out when its work completes
 * (keep it valid until then; one per step in flight). WA_UNSUPPORTED on the
 * CPU backend; WA_INVALID_ARGUMENT without a previous choice (with a
 * penalty: one made with the same window size). */
WA_API wa_status wa_session_eval_choose_chained(wa_session* session, wa_sampler* sampler, int32_t* id_out);
/* Forgets the last n evaluated tokens (say, chained steps whose ids were not
 * used); the next evaluation continues from the earlier position. */
WA_API wa_status wa_session_rewind(wa_session* session, int32_t n);
/* Logits (n_vocab floats) after token i of the last eval (i < 0: the last);
 * NULL when there are none. */
WA_API const float* wa_session_logits(const wa_session* session, int32_t i);
WA_API int32_t wa_session_n_logits(const wa_session* session);
WA_API int32_t wa_session_n_past(const wa_session* session);
WA_API int32_t wa_session_n_ctx(const wa_session* session);
/* Drops the context (n_past = 0). */
WA_API void wa_session_reset(wa_session* session);
/* Asks a running or the next wa_session_eval to stop at its next batch
 * boundary with WA_CANCELLED; safe from any thread. The request is consumed
 * by the eval it stops. */
WA_API void wa_session_cancel(wa_session* session);

/* ---- sampler ------------------------------------------------------------ */
/* Layout is part of the ABI (the JS driver writes it into wasm memory):
 * offsets 0, 4, 8, 12, 16, 20, 24; 32 bytes. */
typedef struct wa_sampler_params {
  float temperature;    /* <= 0: greedy */
  int32_t top_k;        /* <= 0: off */
  float top_p;          /* >= 1: off */
  float min_p;          /* <= 0: off */
  float repeat_penalty; /* 1: off */
  int32_t repeat_last_n;
  uint64_t seed;
} wa_sampler_params;
WA_API void wa_sampler_params_default(wa_sampler_params* params);
WA_API wa_status wa_sampler_create(const wa_sampler_params* params, wa_sampler** out);
WA_API void wa_sampler_release(wa_sampler* sampler);
/* Picks the next token from the session's last logits; -1 without logits. */
WA_API int32_t wa_sampler_sample(wa_sampler* sampler, const wa_session* session);
/* Records a prompt or generated token (repetition penalty). */
WA_API void wa_sampler_accept(wa_sampler* sampler, int32_t id);
WA_API void wa_sampler_reset(wa_sampler* sampler);
/* 1 when a session's backend steps can make this sampler's choices
 * (wa_session_eval_choose): always for greedy samplers without a repetition
 * penalty; not with more than 1024 candidates after top-k (top-k off on a
 * larger vocabulary), nor with a repetition penalty over more than 1024 ids
 * (repeat_last_n) or one that is not a positive normal float (1 is off). */
WA_API int32_t wa_sampler_on_device(const wa_sampler* sampler, const wa_session* session);

/* ---- streaming decoder: ids -> complete UTF-8 characters ---------------- */
/* at_sequence_start: the first id pushed starts the text (SPM's leading space
 * is then stripped, like detokenize does). */
WA_API wa_status wa_decoder_create(wa_model* model, int32_t at_sequence_start, wa_decoder** out);
WA_API void wa_decoder_release(wa_decoder* decoder);
/* Text completed by this id (owned by the decoder). */
WA_API void wa_decoder_push(wa_decoder* decoder, int32_t id, const char** text, size_t* len);
/* Bytes of an incomplete final character, if any. */
WA_API void wa_decoder_flush(wa_decoder* decoder, const char** text, size_t* len);

#ifdef __cplusplus
}
#endif

#endif /* WEBACCEL_WEBACCEL_H_ */
