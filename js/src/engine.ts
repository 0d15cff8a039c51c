// The engine on the calling thread: Node, a worker, or a page that asked for
// worker: false. Every step is one synchronous C API call; between steps it
// returns to the event loop, so aborts are seen and other work runs.
import { detectCapabilities, type Capabilities } from './capabilities.js';
import { WebAccelError, cancelled } from './errors.js';
import { MAX_MODEL_BYTES, openSource, readSourceIntoWasm, SequentialReader } from './loader.js';
import { BROWSER_PROFILES, openDevice, writeDeviceConfig } from './gpu/device.js';
import { GpuDriver, type ModelByteSource } from './gpu/driver.js';
import { isNode, loadModule, type Native } from './native.js';
import type {
  Engine,
  EngineOptions,
  GenerateOptions,
  GenerationStats,
  LoadProgress,
  MemoryReport,
  Model,
  ModelInfo,
  ModelLoadOptions,
  ModelSource,
  Prompt,
  Token,
  TokenizeOptions,
} from './types.js';

const TOKENIZE_ADD_BOS = 1;
const TOKENIZE_PARSE_SPECIAL = 2;
const TOKENIZE_DEFAULT_BOS = 4;
const PROMPT_BATCH = 512;
// Bytes of a file read first for its header (a LLaMA header with a 32k-token
// vocabulary takes about 0.5 MB; more is asked for when needed).
const HEADER_FIRST_READ = 1024 * 1024;

// A macrotask turn: lets abort events and messages be delivered.
const channel = typeof MessageChannel !== 'undefined' && !isNode ? new MessageChannel() : null;
const waiting: (() => void)[] = [];
if (channel) channel.port1.onmessage = () => waiting.shift()?.();
export function nextTurn(): Promise<void> {
  if (isNode) return new Promise((r) => setImmediate(r));
  if (channel) {
    return new Promise((r) => {
      waiting.push(r);
      channel.port2.postMessage(0);
    });
  }
  return new Promise((r) => setTimeout(r, 0));
}

const now = () => (typeof performance !== 'undefined' ? performance.now() : Date.now());

// One operation at a time per model (the session is shared state).
class Mutex {
  private tail: Promise<void> = Promise.resolve();
  async lock(): Promise<() => void> {
    let release!: () => void;
    const next = new Promise<void>((r) => (release = r));
    const prev = this.tail;
    this.tail = prev.then(() => next);
    await prev;
    return release;
  }
}

function checkNumber(name: string, v: unknown, lo: number, hi: number): void {
  if (v === undefined) return;
  if (typeof v !== 'number' || !Number.isFinite(v) || v < lo || v > hi) {
    throw new WebAccelError('invalid_argument', `${name} must be a number from ${lo} to ${hi} (got ${String(v)})`);
  }
}

export class LocalModel implements Model {
  private readonly n: Native;
  private readonly engine: LocalEngine;
  private handle: number;
  private session: number;
  private readonly mutex = new Mutex();
  private stats: GenerationStats | null = null;

  constructor(engine: LocalEngine, handle: number, session: number) {
    this.engine = engine;
    this.n = engine.native;
    this.handle = handle;
    this.session = session;
  }

  private alive(): void {
    if (!this.handle) throw new WebAccelError('invalid_argument', 'the model was unloaded');
  }
  private modelError(): string {
    return this.n.cstr(this.n.call('model_last_error', this.handle));
  }
  private sessionError(): string {
    return this.n.cstr(this.n.call('session_last_error', this.session));
  }

  private tokenizeNow(text: string, flags: number): number[] {
    const [p, len] = this.n.putString(text);
    try {
      const st = this.n.call('model_tokenize', this.handle, p, len, flags, this.n.out(0), this.n.out(1));
      this.n.check(st, () => this.modelError());
      const ptr = this.n.outU32(0);
      const count = this.n.outU32(1);
      return Array.from(this.n.i32(ptr, count));
    } finally {
      this.n.free(p);
    }
  }

  // Evaluates ids in batches with an abort check between them.
  private async evalPrompt(ids: ArrayLike<number>, signal?: AbortSignal): Promise<void> {
    for (let o = 0; o < ids.length; o += PROMPT_BATCH) {
      if (signal?.aborted) throw cancelled('generation');
      const part = Array.prototype.slice.call(ids, o, Math.min(ids.length, o + PROMPT_BATCH)) as number[];
      const p = this.n.putInts(part);
      try {
        const st = this.n.call('session_eval', this.session, p, part.length, 0);
        this.n.check(st, () => this.sessionError());
      } finally {
        this.n.free(p);
      }
      await this.engine.flushGpu();
      if (o + PROMPT_BATCH < ids.length) await nextTurn();
    }
  }

  private promptIds(prompt: Prompt): number[] {
    if (typeof prompt === 'string') {
      if (prompt.length === 0) return [this.n.call('model_bos', this.handle)];
      return this.tokenizeNow(prompt, TOKENIZE_DEFAULT_BOS);
    }
    const ids = Array.from(prompt);
    return ids.length ? ids : [this.n.call('model_bos', this.handle)];
  }

  private createSampler(o: GenerateOptions): number {
    checkNumber('temperature', o.temperature, 0, 100);
    checkNumber('topK', o.topK, 0, 1 << 22);
    checkNumber('topP', o.topP, 0, 1);
    checkNumber('minP', o.minP, 0, 1);
    checkNumber('repeatPenalty', o.repeatPenalty, 0, 100);
    checkNumber('repeatLastN', o.repeatLastN, 0, 1 << 20);
    checkNumber('seed', o.seed, 0, Number.MAX_SAFE_INTEGER);
    const n = this.n;
    const p = n.alloc(32);
    try {
      n.call('sampler_params_default', p);
      const f = n.f32(p, 8);
      const i = n.i32(p, 8);
      const u = new Uint32Array(n.buffer, p, 8);
      if (o.temperature !== undefined) f[0] = o.temperature;
      if (o.topK !== undefined) i[1] = Math.floor(o.topK);
      if (o.topP !== undefined) f[2] = o.topP;
      if (o.minP !== undefined) f[3] = o.minP;
      if (o.repeatPenalty !== undefined) f[4] = o.repeatPenalty;
      if (o.repeatLastN !== undefined) i[5] = Math.floor(o.repeatLastN);
      const seed = o.seed ?? Math.floor(Math.random() * 2 ** 32);
      u[6] = seed % 2 ** 32; // uint64 seed, little-endian halves
      u[7] = Math.floor(seed / 2 ** 32);
      n.check(n.call('sampler_create', p, n.out(0)), () => 'invalid sampler parameters');
      return n.outU32(0);
    } finally {
      n.free(p);
    }
  }

  async *generate(prompt: Prompt, options: GenerateOptions = {}): AsyncGenerator<Token> {
    const unlock = await this.mutex.lock();
    const n = this.n;
    let sampler = 0;
    let decoder = 0;
    try {
      this.alive();
      const signal = options.signal;
      if (signal?.aborted) throw cancelled('generation');
      const maxTokens = options.maxTokens ?? 256;
      checkNumber('maxTokens', maxTokens, 0, 1 << 20);
      const stops = (options.stop ?? []).filter((s) => s.length > 0);
      sampler = this.createSampler(options);
      const ids = this.promptIds(prompt);
      const hasTokenizer = this.info_().has_tokenizer;
      if (hasTokenizer) {
        const startsText = ids.length === 1 && ids[0] === n.call('model_bos', this.handle);
        n.check(n.call('decoder_create', this.handle, startsText ? 1 : 0, n.out(0)), () => this.modelError());
        decoder = n.outU32(0);
      }
      n.call('session_reset', this.session);
      for (const id of ids) n.call('sampler_accept', sampler, id);
      // Greedy decoding on the GPU reads back the chosen id, not the logits.
      const gpuGreedy =
        this.onGpu && (options.temperature ?? 0.8) <= 0 && (options.repeatPenalty ?? 1) === 1;
      const t0 = now();
      if (gpuGreedy) await this.evalArgmax(ids, signal);
      else await this.evalPrompt(ids, signal);
      const t1 = now();
      this.stats = { promptTokens: ids.length, promptMs: t1 - t0, generatedTokens: 0, generateMs: 0 };
      const nCtx = n.call('session_n_ctx', this.session);
      const tokBuf = n.alloc(4);
      let pending = ''; // text held back while it may be the start of a stop string
      try {
        for (let generated = 0; generated < maxTokens; ) {
          const id = gpuGreedy ? n.call('session_argmax', this.session) : n.call('sampler_sample', sampler, this.session);
          if (id < 0) throw new WebAccelError('internal', 'no logits to sample from');
          this.stats.firstTokenMs ??= now() - t0;
          if (!options.ignoreEos && n.call('model_is_end_of_generation', this.handle, id)) break;
          n.call('sampler_accept', sampler, id);
          ++generated;
          let text = '';
          if (decoder) {
            n.call('decoder_push', decoder, id, n.out(0), n.out(1));
            text = n.text(n.outU32(0), n.outU32(1));
          }
          this.stats.generatedTokens = generated;
          this.stats.generateMs = now() - t1;
          if (stops.length) {
            pending += text;
            const hit = stops.map((s) => pending.indexOf(s)).filter((i) => i >= 0);
            if (hit.length) {
              const cut = Math.min(...hit);
              if (cut > 0) yield { id, text: pending.slice(0, cut) };
              return;
            }
            // Emit all but the longest suffix that could begin a stop string.
            let keep = 0;
            for (const s of stops) {
              for (let k = Math.min(s.length - 1, pending.length); k > keep; --k) {
                if (s.startsWith(pending.slice(pending.length - k))) {
                  keep = k;
                  break;
                }
              }
            }
            text = pending.slice(0, pending.length - keep);
            pending = pending.slice(pending.length - keep);
          }
          yield { id, text };
          if (generated >= maxTokens) break;
          if (n.call('session_n_past', this.session) >= nCtx) break; // context full
          if (signal?.aborted) throw cancelled('generation');
          n.i32(tokBuf, 1)[0] = id;
          n.check(n.call(gpuGreedy ? 'session_eval_argmax' : 'session_eval', this.session, tokBuf, 1, 0), () => this.sessionError());
          await this.engine.flushGpu();
          this.stats.generateMs = now() - t1;
          await nextTurn();
          if (signal?.aborted) throw cancelled('generation');
        }
        if (decoder) {
          n.call('decoder_flush', decoder, n.out(0), n.out(1));
          pending += n.text(n.outU32(0), n.outU32(1));
        }
        if (pending) yield { id: -1, text: pending };
      } finally {
        n.free(tokBuf);
      }
    } finally {
      if (decoder) n.call('decoder_release', decoder);
      if (sampler) n.call('sampler_release', sampler);
      unlock();
    }
  }

  async complete(prompt: Prompt, options: GenerateOptions = {}): Promise<string> {
    let out = '';
    for await (const t of this.generate(prompt, options)) out += t.text;
    return out;
  }

  async tokenize(text: string, options: TokenizeOptions = {}): Promise<number[]> {
    const unlock = await this.mutex.lock();
    try {
      this.alive();
      if (typeof text !== 'string') throw new WebAccelError('invalid_argument', 'tokenize needs a string');
      let flags = options.addBos === undefined ? TOKENIZE_DEFAULT_BOS : options.addBos ? TOKENIZE_ADD_BOS : 0;
      if (options.special) flags |= TOKENIZE_PARSE_SPECIAL;
      return this.tokenizeNow(text, flags);
    } finally {
      unlock();
    }
  }

  async detokenize(ids: ArrayLike<number>): Promise<string> {
    const unlock = await this.mutex.lock();
    const n = this.n;
    try {
      this.alive();
      const p = n.putInts(ids);
      try {
        n.check(n.call('model_detokenize', this.handle, p, ids.length, 0, n.out(0), n.out(1)), () => this.modelError());
        return n.text(n.outU32(0), n.outU32(1));
      } finally {
        n.free(p);
      }
    } finally {
      unlock();
    }
  }

  async logits(ids: ArrayLike<number>): Promise<Float32Array> {
    const unlock = await this.mutex.lock();
    const n = this.n;
    try {
      this.alive();
      if (!ids || ids.length === 0) throw new WebAccelError('invalid_argument', 'logits needs at least one token id');
      n.call('session_reset', this.session);
      const p = n.putInts(ids);
      try {
        n.check(n.call('session_eval', this.session, p, ids.length, 1), () => this.sessionError());
      } finally {
        n.free(p);
      }
      await this.engine.flushGpu();
      const nv = n.call('model_n_vocab', this.handle);
      const out = new Float32Array(nv * ids.length);
      for (let i = 0; i < ids.length; ++i) out.set(n.f32(n.call('session_logits', this.session, i), nv), i * nv);
      n.call('session_reset', this.session);
      return out;
    } finally {
      unlock();
    }
  }

  private info_(): ModelInfo {
    const info = this.n.json<Omit<ModelInfo, 'n_ctx' | 'backend' | 'backend_reason'>>(this.n.call('model_info_json', this.handle));
    return {
      ...info,
      n_ctx: this.n.call('session_n_ctx', this.session),
      backend: this.onGpu ? 'webgpu' : 'cpu',
      backend_reason: this.n.cstr(this.n.call('model_backend_reason', this.handle)),
    };
  }

  get onGpu(): boolean {
    return this.n.cstr(this.n.call('model_backend', this.handle)) === 'webgpu';
  }

  // The whole prompt, then the greedy choice of the next token (on the GPU).
  private async evalArgmax(ids: number[], signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) throw cancelled('generation');
    const p = this.n.putInts(ids);
    try {
      this.n.check(this.n.call('session_eval_argmax', this.session, p, ids.length), () => this.sessionError());
    } finally {
      this.n.free(p);
    }
    await this.engine.flushGpu();
  }

  async info(): Promise<ModelInfo> {
    this.alive();
    return this.info_();
  }

  async lastStats(): Promise<GenerationStats | null> {
    return this.stats;
  }

  async unload(): Promise<void> {
    const unlock = await this.mutex.lock();
    try {
      this.release();
    } finally {
      unlock();
    }
  }

  // Also called by the engine's dispose.
  release(): void {
    if (!this.handle) return;
    this.n.call('session_release', this.session);
    this.n.call('model_release', this.handle);
    this.engine.forget(this);
    this.handle = 0;
    this.session = 0;
    // Destroys the model's GPU buffers (recorded by the release).
    void this.engine.flushGpu().catch(() => {});
  }
}

export class LocalEngine implements Engine {
  readonly native: Native;
  private handle: number;
  private readonly caps: Capabilities;
  private readonly models = new Set<LocalModel>();
  readonly gpu: GpuDriver | null;
  private gpuTail: Promise<void> = Promise.resolve();

  private constructor(native: Native, handle: number, caps: Capabilities, gpu: GpuDriver | null) {
    this.native = native;
    this.handle = handle;
    this.caps = caps;
    this.gpu = gpu;
  }

  // Executes what the C++ WebGPU backend recorded since the last flush and
  // waits for its readbacks. Flushes run one at a time, in call order.
  // `source`: the model file that a streamed load's uploads read.
  flushGpu(source?: ModelByteSource): Promise<void> {
    if (!this.gpu) return Promise.resolve();
    const run = async () => {
      const n = this.native;
      const count = n.call('engine_gpu_stream', this.handle, n.out(0));
      if (!count) return;
      const words = new Uint32Array(n.buffer, n.outU32(0), count).slice();
      try {
        await this.gpu!.execute(words, () => n.buffer, source);
      } finally {
        n.call('engine_gpu_stream_done', this.handle);
      }
    };
    const p = this.gpuTail.then(run);
    this.gpuTail = p.catch(() => {});
    return p;
  }

  static async create(options: EngineOptions = {}, caps?: Capabilities): Promise<LocalEngine> {
    caps ??= await detectCapabilities({ ...options, worker: false });
    const variant = caps.profile.build === 'wasm-simd128-mt' ? 'mt' : 'st';
    const native = await loadModule({ variant, threads: caps.profile.threads, wasmBase: options.wasmBase });
    let driver: GpuDriver | null = null;
    let st: number;
    if (caps.profile.backend === 'webgpu') {
      const g = globalThis as unknown as { navigator?: { gpu?: unknown } };
      const gpu = (options.gpu === undefined ? g.navigator?.gpu : options.gpu) as Parameters<typeof openDevice>[0];
      const mask = options.gpuMask ?? (options.gpuProfile ? BROWSER_PROFILES[options.gpuProfile] : undefined);
      const opened = await openDevice(gpu, mask);
      caps.profile.reasons.push(...opened.reasons.map((r) => `webgpu ${r}`));
      caps.webgpu.features = opened.features;
      driver = new GpuDriver(opened.device);
      const cfg = native.alloc(56);
      writeDeviceConfig(native.buffer, cfg, opened.device, options.precompile === false);
      st = native.call('engine_create_webgpu', caps.profile.threads, cfg, native.out(0));
      native.free(cfg);
    } else {
      st = native.call('engine_create', caps.profile.threads, native.out(0));
    }
    native.check(st, () => native.cstr(native.call('last_error')));
    caps.profile.isa = native.buildInfo().isa;
    return new LocalEngine(native, native.outU32(0), caps, driver);
  }

  capabilities(): Capabilities {
    return structuredClone(this.caps);
  }

  private alive(): void {
    if (!this.handle) throw new WebAccelError('invalid_argument', 'the engine was disposed');
  }

  async load(source: ModelSource, options: ModelLoadOptions = {}): Promise<Model> {
    this.alive();
    const n = this.native;
    const { onProgress, signal } = options;
    checkNumber('nCtx', options.nCtx, 0, 1 << 20);
    if (signal?.aborted) throw cancelled('loading the model');
    const src = await openSource(source, signal);
    const errorOf = () => `${src.name}: ${n.cstr(n.call('engine_last_error', this.handle)).replace(/^[a-z_]+: model: /, '')}`;
    // WebGPU: the header first; the weights then stream to the GPU.
    const reader = this.gpu && options.streamWeights !== false ? new SequentialReader(src, signal, onProgress) : null;
    let model = 0;
    let size = src.total;
    try {
      if (reader) {
        let uploading: Promise<void> | undefined;
        [model, size, uploading] = await this.loadHeader(reader, errorOf, onProgress);
        // Nothing may record while the upload's stream runs (its end clears
        // the recording), so the session comes after it.
        try {
          await uploading;
        } catch (e) {
          n.call('model_release', model); // destroys the buffers it made
          void this.flushGpu().catch(() => {});
          throw e;
        }
        // A stream of unannounced length: as far as the weights go.
        if (model) size ??= reader.total ?? reader.position;
      }
      if (!model) {
        // wa_model_load owns ptr from here on, also when it fails.
        const [ptr, loaded] = await readSourceIntoWasm(n, reader ? reader.rest() : src, onProgress, signal);
        this.alive();
        size = loaded;
        n.check(n.call('model_load', this.handle, ptr, loaded, n.out(0)), errorOf);
        model = n.outU32(0);
      }
    } finally {
      await reader?.close();
    }
    const sst = n.call('session_create', model, options.nCtx ?? 0, 0, n.out(0));
    if (sst !== 0) {
      const msg = n.cstr(n.call('model_last_error', model));
      n.call('model_release', model);
      void this.flushGpu().catch(() => {});
      n.check(sst, () => msg);
    }
    const m = new LocalModel(this, model, n.outU32(0));
    this.models.add(m);
    if (this.gpu) {
      // Weights go up and pipelines compile (in parallel) before the first token.
      try {
        const pipelines = n.call('engine_gpu_pipelines', this.handle);
        if (!reader) onProgress?.({ phase: 'upload', loaded: 0, total: size });
        await this.flushGpu();
        onProgress?.({ phase: 'upload', loaded: size ?? 0, total: size });
        onProgress?.({ phase: 'compile', loaded: 0, total: pipelines });
        await this.gpu.pipelinesReady();
        onProgress?.({ phase: 'compile', loaded: pipelines, total: pipelines });
      } catch (e) {
        m.release();
        throw e;
      }
    }
    return m;
  }

  // wa_model_load_header with as much of the file's start as it asks for:
  // [model, file size if known, the flush that uploads its weights], or
  // model 0 when the model needs its bytes in wasm memory (nothing of the
  // source consumed then).
  private async loadHeader(
    reader: SequentialReader,
    errorOf: () => string,
    onProgress?: (p: LoadProgress) => void,
  ): Promise<[number, number | undefined, Promise<void> | undefined]> {
    const n = this.native;
    const unknownSize = 2 ** 53; // a stream of unannounced length: checked as it is read
    let want = HEADER_FIRST_READ;
    for (;;) {
      const head = await reader.prefix(want);
      this.alive();
      const total = reader.total ?? unknownSize;
      // The stream this call records reads the source: no flush queued before
      // may take it, so it starts with nothing pending and is flushed at once.
      for (let t = this.gpuTail; ; t = this.gpuTail) {
        await t;
        if (t === this.gpuTail) break;
      }
      const ptr = n.alloc(Math.max(1, head.byteLength));
      let st: number;
      let need: number;
      try {
        n.u8(ptr, head.byteLength).set(head);
        const needAt = n.alloc(8);
        try {
          st = n.call('model_load_header', this.handle, ptr, head.byteLength, total, needAt, n.out(0));
          need = new Float64Array(n.buffer, needAt, 1)[0];
        } finally {
          n.free(needAt);
        }
      } finally {
        n.free(ptr);
      }
      n.check(st, errorOf);
      const model = n.outU32(0);
      if (model) {
        onProgress?.({ phase: 'upload', loaded: 0, total: reader.total });
        const uploading = this.flushGpu(reader);
        uploading.catch(() => {}); // awaited by load, which reports it
        return [model, reader.total, uploading];
      }
      if (need >= total) {
        // The CPU would run it: the whole file in wasm memory, if it fits.
        if (reader.total !== undefined && reader.total > MAX_MODEL_BYTES) {
          const why = n.cstr(n.call('engine_last_error', this.handle)).replace(/^CPU: /, '');
          throw new WebAccelError(
            'unsupported',
            `${reader.name}: the WebGPU kernels cannot run this model (${why}), and its ${reader.total} bytes do not fit in wasm memory for the CPU`,
          );
        }
        return [0, reader.total, undefined];
      }
      if (need <= head.byteLength) throw new WebAccelError('internal', `model_load_header asked for ${need} bytes, having ${head.byteLength}`);
      want = Math.max(need, 2 * head.byteLength);
    }
  }

  forget(m: LocalModel): void {
    this.models.delete(m);
  }

  async memory(): Promise<MemoryReport> {
    this.alive();
    return this.native.json<MemoryReport>(this.native.call('engine_memory_json', this.handle));
  }

  async dispose(): Promise<void> {
    if (!this.handle) return;
    for (const m of [...this.models]) m.release();
    await this.gpuTail;
    this.native.call('engine_release', this.handle);
    this.handle = 0;
    this.gpu?.destroy();
  }
}
