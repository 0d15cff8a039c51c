// The public API's types: shared by the in-thread implementation (engine.ts)
// and the Web Worker proxy (worker-client.ts), which behave the same.
import type { Capabilities } from './capabilities.js';

export type BackendChoice = 'auto' | 'wasm' | 'webgpu';

// A GPU object like navigator.gpu (typed loosely: Node's Dawn package and
// browsers provide it).
export interface GpuLike {
  requestAdapter(options?: unknown): Promise<unknown>;
  wgslLanguageFeatures?: ReadonlySetLike<string>;
}

// What navigator.gpu.wgslLanguageFeatures is (a set-like of names).
export interface ReadonlySetLike<T> extends Iterable<T> {
  has(value: T): boolean;
}

// A model moved to another backend while the engine ran. Today: its WebGPU
// device was lost (GPU reset, driver update, device.destroy(), the browser
// reclaiming it), and the model continues on the CPU (wasm) from the copy of
// its weights in wasm memory. A generation in progress is not interrupted:
// the tokens so far are evaluated again on the CPU and it goes on from there
// (greedy output is the same as if it had run on the CPU throughout).
export interface BackendChangeEvent {
  from: 'webgpu';
  to: 'cpu';
  reason: string; // why, e.g. "the WebGPU device was lost (destroyed: ...)"
}

// Rows per group (1..8), units in flight per lane (1..4), 32-lane groups
// per workgroup (2, 4 or 8) and consecutive blocks per unit (1, 2 or 4) of a
// decode matvec (EngineOptions.matvecTuning; groups and blocksPerUnit default
// to the backend's).
export interface MatvecTuning {
  rows: number;
  blocksInFlight: number;
  groups?: number;
  blocksPerUnit?: number;
}

export interface EngineOptions {
  backend?: BackendChoice;
  // Called when a model of this engine changes backend (see BackendChangeEvent).
  onBackendChange?: (e: BackendChangeEvent) => void;
  // CPU threads; default: the hardware's (at most 8). More than one needs
  // the pthreads build: SharedArrayBuffer, and cross-origin isolation in browsers.
  threads?: number;
  gpu?: GpuLike | null;
  // WebGPU: expose only what a browser would ('chrome', 'firefox', 'safari':
  // see BROWSER_PROFILES in gpu/device.ts), or hide features / cap limits.
  gpuProfile?: 'chrome' | 'firefox' | 'safari';
  gpuMask?: { disableFeatures?: string[]; limits?: Record<string, number> };
  // WebGPU: create every pipeline at load time (default true); false creates
  // them when first used (to measure what precompilation saves).
  precompile?: boolean;
  // WebGPU, benchmarks only: the shape of every int8-x decode matvec instead
  // of the backend's choice, to compare kernel shapes on one machine
  // without a rebuild.
  matvecTuning?: MatvecTuning;
  // WebGPU, benchmarks only: the longest prompt whose matrices run as
  // few-token matvecs (each weight read once per 8 tokens) rather than the
  // tiled matmul (1: none; default the backend's choice, 16), to measure
  // where one overtakes the other on a device.
  fewTokenPrompt?: number;
  // Browsers: run the engine in a Web Worker (default true) so the page never blocks.
  worker?: boolean;
  // The relaxed-SIMD module (int8 dot products for q4_0: faster prompt and
  // decode) where the engine has relaxed SIMD (Chrome/Edge 114+, Firefox
  // with it enabled, Node 22+), detected by a probe that validates and runs
  // the instruction. Default: used where detected; false: always the
  // SIMD128 module; true: required (unsupported where the probe fails).
  relaxedSimd?: boolean;
  // Where the wasm files are (default: ./wasm/ beside the package's index.js).
  wasmBase?: string | URL;
  // The most bytes the engine's wasm memory may grow to (default and
  // maximum: 4 GiB, what wasm32 addresses; at least 64 MiB). A model that
  // does not fit is refused with out_of_memory before its bytes are read.
  // The heap grows in steps of up to 20%, so an allocation may fail a little
  // below the limit.
  memoryLimit?: number;
}

export type ModelSource = string | URL | ArrayBuffer | ArrayBufferView | Blob | ReadableStream<Uint8Array>;

export interface LoadProgress {
  // 'read': bytes of the file; 'upload': weights to the GPU; 'compile': GPU pipelines
  phase?: 'read' | 'upload' | 'compile';
  loaded: number;
  total: number | undefined;
}

export interface ModelLoadOptions {
  onProgress?: (p: LoadProgress) => void;
  signal?: AbortSignal;
  // Context size of the model's session; default min(training context, 4096).
  nCtx?: number;
  // WebGPU: weights go from the source straight to GPU buffers, never all in
  // wasm memory (default true; files over 4 GB load only so). If the device
  // is lost, the source is read again into wasm memory and the model goes on
  // on the CPU (not possible for a ReadableStream: device_lost). false reads
  // the file into wasm memory first and keeps it there (twice the memory).
  streamWeights?: boolean;
}

export interface GenerateOptions {
  maxTokens?: number; // default 256
  temperature?: number; // default 0.8; 0 = greedy
  topK?: number; // default 40; 0 = off
  topP?: number; // default 0.95; 1 = off
  minP?: number; // default 0.05; 0 = off
  repeatPenalty?: number; // default 1 (off)
  repeatLastN?: number; // default 64
  seed?: number; // default: random
  stop?: string[]; // generation ends before the first occurrence of any
  ignoreEos?: boolean; // keep generating past end-of-generation tokens (benchmarks)
  signal?: AbortSignal;
  // Called when this generation's model moves from WebGPU to the CPU
  // mid-way (also EngineOptions.onBackendChange); the generation continues.
  onBackendChange?: (e: BackendChangeEvent) => void;
}

export interface Token {
  id: number;
  text: string;
}

export interface TokenizeOptions {
  // default: the tokenizer's own choice (true for LLaMA's SentencePiece)
  addBos?: boolean;
  // match control tokens written in the text ("<s>", "<|im_end|>")
  special?: boolean;
}

export interface ModelInfo {
  arch: string;
  n_vocab: number;
  n_ctx_train: number;
  n_ctx: number;
  n_params: number;
  file_size: number;
  n_tensors: number;
  weight_type: string;
  has_tokenizer: boolean;
  tokenizer: string;
  bos_id: number;
  eos_id: number;
  hparams: Record<string, string>;
  backend: 'webgpu' | 'cpu'; // where this model runs
  backend_reason: string;
}

export interface GenerationStats {
  promptTokens: number;
  promptMs: number;
  generatedTokens: number;
  generateMs: number;
  // Time from the start of generate() to the first generated token.
  firstTokenMs?: number;
  // Time spent in the C++ step call while decoding (on WebGPU: building the
  // graph and recording its commands).
  recordMs?: number;
}

export interface MemoryReport {
  current: number;
  peak: number;
  entries: { owner: string; component: string; category: string; current: number; peak: number; mapped: boolean }[];
  // The wasm heap: its size now, the most it may grow to (memoryLimit or
  // the wasm32 maximum), and an upper bound on what can still be allocated.
  heap: { size: number; limit: number; available: number };
}

// A prompt: text, or token ids (fed as they are).
export type Prompt = string | ArrayLike<number>;

export interface Model {
  generate(prompt: Prompt, options?: GenerateOptions): AsyncIterable<Token>;
  complete(prompt: Prompt, options?: GenerateOptions): Promise<string>;
  tokenize(text: string, options?: TokenizeOptions): Promise<number[]>;
  detokenize(ids: ArrayLike<number>): Promise<string>;
  // Teacher-forced logits: n_vocab floats per position, positions in order.
  logits(ids: ArrayLike<number>): Promise<Float32Array>;
  info(): Promise<ModelInfo>;
  // Timings of the last generate/complete.
  lastStats(): Promise<GenerationStats | null>;
  unload(): Promise<void>;
}

// Errors of a stopped module: when the wasm module runs out of memory inside
// C++ or traps, the operation fails with out_of_memory or internal, every
// model loaded in that module then fails with device_lost (load it again),
// and the engine's next load() or memory() starts a fresh module.
export interface Engine {
  capabilities(): Capabilities;
  load(source: ModelSource, options?: ModelLoadOptions): Promise<Model>;
  memory(): Promise<MemoryReport>;
  dispose(): Promise<void>;
}
