// The engine on the calling thread: Node, a worker, or a page that asked for
// worker: false. Every step is one synchronous C API call; between steps it
// returns to the event loop, so aborts are seen and other work runs.
import { detectCapabilities, type Capabilities } from './capabilities.js';
import { WebAccelError, cancelled } from './errors.js';
import { loadReserve, openSource, readSourceIntoWasm, SequentialReader } from './loader.js';
import { BROWSER_PROFILES, DEVICE_CONFIG_BYTES, l2WarmFor, openDevice, writeDeviceConfig } from './gpu/device.js';
import { GpuDriver, type ModelByteSource } from './gpu/driver.js';
import { isNode, loadModule, type LoadModuleOptions, type Native } from './native.js';
import type {
  BackendChangeEvent,
  Engine,
  EngineOptions,
  GenerateOptions,
  GenerationStats,
  LoadProgress,
  MatvecTuning,
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
  // Set when the WebGPU device was lost with a streamed model's weights.
  private weightsLost: string | null = null;
  // A streamed model's source, when it can be read again (not a
  // ReadableStream): where its weights come from if the device is lost.
  private readonly reopen: ModelSource | null;

  constructor(engine: LocalEngine, handle: number, session: number, reopen: ModelSource | null = null) {
    this.engine = engine;
    this.n = engine.native;
    this.handle = handle;
    this.session = session;
    this.reopen = reopen;
  }

  private alive(): void {
    if (!this.handle) throw new WebAccelError('invalid_argument', 'the model was unloaded');
    if (this.n.dead) throw this.n.lost('the model');
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
      await this.leaveLostGpu(options.onBackendChange);
      n.call('session_reset', this.session);
      for (const id of ids) n.call('sampler_accept', sampler, id);
      // On the GPU the steps choose their tokens there (greedy, or the
      // sampler's draw: sample.wgsl; a repetition penalty over the window
      // of the ids accepted above, which the GPU extends with each id it
      // chooses: sample_window.wgsl) and read back the id, not the logits;
      // the host samples where the GPU cannot (top-k off on a large
      // vocabulary, a penalty window above 1024 ids: sampler_on_device).
      let gpuChoice = this.onGpu && n.call('sampler_on_device', sampler, this.session) === 1;
      // Every id in the KV cache (prompt, then generated ones): what a CPU
      // session evaluates again when the GPU is lost mid-way.
      const history = [...ids];
      // Runs a step; when the WebGPU device was lost during it, the model
      // moves to the CPU, replays `history` (so the logits of its last id
      // are there to sample from) and the loop samples on the CPU from then on.
      const step = async (run: () => Promise<void>) => {
        try {
          await run();
        } catch (e) {
          if (!this.gpuLossRecoverable(e)) throw e;
          await this.moveToCpu(history, signal, options.onBackendChange);
          gpuChoice = false;
        }
      };
      const t0 = now();
      await step(() => (gpuChoice ? this.evalChoose(ids, sampler, signal) : this.evalPrompt(ids, signal)));
      const t1 = now();
      this.stats = { promptTokens: ids.length, promptMs: t1 - t0, generatedTokens: 0, generateMs: 0 };
      const nCtx = n.call('session_n_ctx', this.session);
      const tokBuf = n.alloc(4);
      let pending = ''; // text held back while it may be the start of a stop string
      // Pipelined decoding on the GPU: a chained step takes its token from
      // the previous step's choice on the device
      // (session_eval_choose_chained) and reads its own id back into a slot
      // of `slots`, so up to CHAIN_DEPTH steps run ahead of the id the host
      // handles: the GPU does not wait while the host reads an id, records
      // the next step and encodes it. Steps whose ids go unused (an end of
      // generation, a stop string, an error) are rewound at the end.
      const CHAIN_DEPTH = 2;
      const slots = n.alloc(4 * (CHAIN_DEPTH + 1));
      const inFlight: { done: Promise<void>; slot: number }[] = [];
      let launched = 0; // chained steps recorded
      let used = 0; // ... whose ids were accepted
      let generated = 0;
      const chainAhead = async () => {
        while (gpuChoice && inFlight.length < CHAIN_DEPTH && 1 + launched < maxTokens && !signal?.aborted) {
          if (n.call('session_n_past', this.session) >= nCtx) break;
          const slot = slots + 4 * (launched % (CHAIN_DEPTH + 1));
          const tr = now();
          n.check(n.call('session_eval_choose_chained', this.session, sampler, slot), () => this.sessionError());
          if (this.stats) this.stats.recordMs = (this.stats.recordMs ?? 0) + now() - tr;
          ++launched;
          inFlight.push({ done: (await this.engine.startGpu()).done, slot });
        }
      };
      // Settles the chained steps still in flight and forgets the steps
      // whose ids were not accepted (the session then holds the prompt and
      // every accepted id but the last, as without chaining).
      const dropChained = async () => {
        while (inFlight.length) await inFlight.shift()!.done.catch(() => {});
        const unused = launched - used;
        launched = used;
        if (unused > 0 && !n.dead && gpuChoice) n.call('session_rewind', this.session, unused);
      };
      // A step of the chain; on a lost device the chain is dropped first
      // (step() then moves to the CPU, replaying the accepted ids).
      const chainStep = (run: () => Promise<void>) =>
        step(async () => {
          try {
            await run();
          } catch (e) {
            await dropChained();
            throw e;
          }
        });
      try {
        for (; generated < maxTokens; ) {
          // The next id: from the oldest chained step (once the prompt's is
          // used, every id comes from one), else from the last evaluation.
          let fromChain = false;
          const next = gpuChoice && generated > 0 ? inFlight.shift() : undefined;
          if (next) {
            await chainStep(() => next.done);
            fromChain = gpuChoice; // false: the device was lost, the CPU took over
          }
          const id = fromChain
            ? n.i32(next!.slot, 1)[0]
            : gpuChoice
              ? n.call('session_chosen', this.session)
              : n.call('sampler_sample', sampler, this.session);
          if (id < 0) throw new WebAccelError('internal', 'no logits to sample from');
          this.stats.firstTokenMs ??= now() - t0;
          if (!options.ignoreEos && n.call('model_is_end_of_generation', this.handle, id)) break;
          n.call('sampler_accept', sampler, id);
          if (fromChain) ++used;
          history.push(id);
          ++generated;
          // Keep the GPU busy while the host handles this id (a device lost
          // here moves to the CPU with this id in the history).
          if (gpuChoice && generated < maxTokens) await chainStep(chainAhead);
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
          if (signal?.aborted) throw cancelled('generation');
          if (gpuChoice && inFlight.length) continue; // the next id is on its way
          if (n.call('session_n_past', this.session) >= nCtx) break; // context full
          await step(async () => {
            n.i32(tokBuf, 1)[0] = id;
            const tr = now();
            n.check(
              gpuChoice
                ? n.call('session_eval_choose', this.session, sampler, tokBuf, 1)
                : n.call('session_eval', this.session, tokBuf, 1, 0),
              () => this.sessionError(),
            );
            if (this.stats) this.stats.recordMs = (this.stats.recordMs ?? 0) + now() - tr;
            await this.engine.flushGpu();
          });
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
        await dropChained();
        n.free(slots);
        n.free(tokBuf);
      }
    } finally {
      n.release('decoder_release', decoder);
      n.release('sampler_release', sampler);
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
      await this.leaveLostGpu();
      // Twice at most: when the WebGPU device is lost during the first
      // evaluation, the model moves to the CPU and evaluates again there.
      for (let attempt = 0; ; ++attempt) {
        n.call('session_reset', this.session);
        const p = n.putInts(ids);
        try {
          n.check(n.call('session_eval', this.session, p, ids.length, 1), () => this.sessionError());
        } finally {
          n.free(p);
        }
        try {
          await this.engine.flushGpu();
          break;
        } catch (e) {
          if (attempt > 0 || !this.gpuLossRecoverable(e)) throw e;
          await this.moveToCpu([]);
        }
      }
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

  // Whether `e` is the engine's WebGPU device being lost under this model
  // (not its wasm module stopping, which loses the model itself).
  private gpuLossRecoverable(e: unknown): boolean {
    return e instanceof WebAccelError && e.code === 'device_lost' && this.engine.gpuLost !== null && !this.n.dead && this.onGpu;
  }

  // A model still on a WebGPU device that was lost (seen by another model or
  // between calls) moves to the CPU before it records work for it.
  async leaveLostGpu(notify?: (e: BackendChangeEvent) => void): Promise<void> {
    if (this.weightsLost) throw new WebAccelError('device_lost', this.weightsLost);
    if (this.engine.gpuLost !== null && this.onGpu) await this.moveToCpu([], undefined, notify);
  }

  // Moves the model from a lost WebGPU device to the CPU backend: C++ points
  // it at the CPU (its weights are the file's bytes in wasm memory, which a
  // model loaded into wasm memory keeps; a streamed one has none, so its
  // source is read again into wasm memory, as a fresh model that replaces
  // this one's handle; a ReadableStream cannot be read twice: device_lost),
  // the GPU session is replaced by a CPU one of the same context size, and
  // `replay` (ids that were in the KV cache) is evaluated again, leaving the
  // logits of its last id.
  private async moveToCpu(replay: number[], signal?: AbortSignal, notify?: (e: BackendChangeEvent) => void): Promise<void> {
    const n = this.n;
    const reason = this.engine.gpuLost ?? 'the WebGPU device was lost';
    const nCtx = n.call('session_n_ctx', this.session);
    const streamed = n.json<{ streamed?: boolean }>(n.call('model_info_json', this.handle)).streamed === true;
    n.call('model_use_cpu', this.handle);
    if (streamed) {
      // C++ left it without a backend: its weights were on the device only.
      if (!this.reopen) {
        this.weightsLost = `${reason}, with the model's weights: they were streamed to the GPU from a ReadableStream, which cannot be read again to continue on the CPU; load the model again`;
        throw new WebAccelError('device_lost', this.weightsLost);
      }
      let fresh: number;
      try {
        fresh = await this.engine.loadOnCpu(this.reopen, signal);
      } catch (e) {
        const why = e instanceof Error ? e.message : String(e);
        if (e instanceof WebAccelError && e.code === 'cancelled') throw e; // the next call tries again
        this.weightsLost = `${reason}, with the model's weights (streamed to the GPU), and reading them again for the CPU failed: ${why}`;
        throw new WebAccelError('device_lost', this.weightsLost);
      }
      n.release('session_release', this.session);
      n.release('model_release', this.handle);
      this.handle = fresh;
    } else if (this.onGpu) {
      throw new WebAccelError('device_lost', `${reason}, and the model has no copy of its weights in wasm memory to continue on the CPU`);
    } else {
      n.release('session_release', this.session);
    }
    this.session = 0;
    // What the moves recorded (GPU buffer releases) cannot run anymore.
    await this.engine.flushGpu(true);
    n.check(n.call('session_create', this.handle, nCtx, 0, n.out(0)), () => this.modelError());
    this.session = n.outU32(0);
    this.engine.backendChanged({ from: 'webgpu', to: 'cpu', reason }, notify);
    if (replay.length) await this.evalPrompt(replay, signal);
  }

  // The whole prompt, then the sampler's choice of the next token on the GPU.
  private async evalChoose(ids: number[], sampler: number, signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) throw cancelled('generation');
    const p = this.n.putInts(ids);
    try {
      this.n.check(this.n.call('session_eval_choose', this.session, sampler, p, ids.length), () => this.sessionError());
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

  // Also called by the engine's dispose. After the module stopped there is
  // nothing left to free in it.
  release(): void {
    if (!this.handle) return;
    this.n.release('session_release', this.session);
    this.n.release('model_release', this.handle);
    this.engine.forget(this);
    this.handle = 0;
    this.session = 0;
    // Destroys the model's GPU buffers (recorded by the release).
    void this.engine.flushGpu().catch(() => {});
  }
}

// The WebGPU side of an engine: the device and how C++ should see it.
interface GpuSetup {
  device: ConstructorParameters<typeof GpuDriver>[0];
  lazyPipelines: boolean;
  wgslFeatures: string[];
  subgroupMinSize: number;
  matvecTuning?: MatvecTuning;
  l2Warm: boolean;
  fewTokenPrompt?: number;
}

// A module and the engine handle made in it (a WebGPU engine when gpu is set).
async function startModule(o: LoadModuleOptions, gpu: GpuSetup | null): Promise<[Native, number]> {
  const native = await loadModule(o);
  let st: number;
  if (gpu) {
    const cfg = native.alloc(DEVICE_CONFIG_BYTES);
    writeDeviceConfig(native.buffer, cfg, gpu.device, gpu);
    st = native.call('engine_create_webgpu', o.threads, cfg, native.out(0));
    native.free(cfg);
  } else {
    st = native.call('engine_create', o.threads, native.out(0));
  }
  native.check(st, () => native.cstr(native.call('last_error')));
  return [native, native.outU32(0)];
}

export class LocalEngine implements Engine {
  // Replaced by a fresh module when the current one stops (see alive).
  native: Native;
  private handle: number;
  private disposed = false;
  private reviving: Promise<void> | null = null;
  private readonly caps: Capabilities;
  private readonly models = new Set<LocalModel>();
  private readonly moduleOptions: LoadModuleOptions;
  private readonly gpuSetup: GpuSetup | null;
  // Replaced with the module: buffer ids belong to one module's backend.
  gpu: GpuDriver | null;
  private gpuTail: Promise<void> = Promise.resolve();
  // Why the WebGPU device was lost, once it was: from then on nothing runs
  // on it, models move to the CPU (LocalModel.moveToCpu), and a fresh module
  // (after a trap) gets a CPU engine.
  gpuLost: string | null = null;
  private readonly onBackendChange?: (e: BackendChangeEvent) => void;

  private constructor(
    native: Native,
    handle: number,
    caps: Capabilities,
    moduleOptions: LoadModuleOptions,
    gpu: GpuSetup | null,
    options: EngineOptions,
  ) {
    this.native = native;
    this.handle = handle;
    this.caps = caps;
    this.moduleOptions = moduleOptions;
    this.gpuSetup = gpu;
    this.gpu = gpu ? new GpuDriver(gpu.device) : null;
    this.onBackendChange = options.onBackendChange;
  }

  // Tells the app (engine option, and the generation's own option) that a
  // model changed backend. A throwing callback must not stop the recovery.
  backendChanged(e: BackendChangeEvent, alsoTo?: (e: BackendChangeEvent) => void): void {
    for (const f of [this.onBackendChange, alsoTo]) {
      try {
        f?.({ ...e });
      } catch {
        // the app's error; the generation goes on
      }
    }
  }

  // Executes what the C++ WebGPU backend recorded since the last flush and
  // waits for its readbacks. Flushes run one at a time, in call order.
  // `source`: the model file that a streamed load's uploads read.
  // After the device was lost, a stream is dropped unexecuted (C++ forgets
  // it): with work in it, that is device_lost, unless `discard` says the
  // caller only wants it gone (a model leaving the GPU records releases).
  flushGpu(discard = false, source?: ModelByteSource): Promise<void> {
    return this.startGpu(discard, source).then(({ done }) => done);
  }

  // flushGpu's first half: resolves once the stream is submitted, to the
  // promise of its completion (readbacks in wasm memory). The next flush may
  // start before then: the GPU runs a step while the next is recorded and
  // encoded (pipelined decoding, greedy or sampled).
  startGpu(discard = false, source?: ModelByteSource): Promise<{ done: Promise<void> }> {
    if (!this.gpu) return Promise.resolve({ done: Promise.resolve() });
    const run = async (): Promise<{ done: Promise<void> }> => {
      const n = this.native;
      const none = { done: Promise.resolve() };
      if (n.dead) return none;
      const count = n.call('engine_gpu_stream', this.handle, n.out(0));
      if (this.gpuLost !== null) {
        n.call('engine_gpu_stream_done', this.handle);
        if (count && !discard) throw new WebAccelError('device_lost', this.gpuLost);
        return none;
      }
      if (!count) return none;
      const words = new Uint32Array(n.buffer, n.outU32(0), count).slice();
      const noteLoss = (e: unknown) => {
        if (e instanceof WebAccelError && e.code === 'device_lost') this.gpuLost = e.message;
        throw e;
      };
      try {
        const { done } = await this.gpu!.start(words, () => n.buffer, source).catch(noteLoss);
        const settled = done.catch(noteLoss);
        settled.catch(() => {}); // reported to whoever awaits it
        return { done: settled };
      } finally {
        // Submitted: the stream's words and the data they point to were consumed.
        if (!n.dead) n.call('engine_gpu_stream_done', this.handle);
      }
    };
    const p = this.gpuTail.then(run);
    this.gpuTail = p.then(
      () => {},
      () => {},
    );
    return p;
  }

  static async create(options: EngineOptions = {}, caps?: Capabilities): Promise<LocalEngine> {
    checkNumber('fewTokenPrompt', options.fewTokenPrompt, 1, 1 << 16);
    if (options.fewTokenPrompt !== undefined && !Number.isInteger(options.fewTokenPrompt)) {
      throw new WebAccelError('invalid_argument', `fewTokenPrompt must be a whole number (got ${options.fewTokenPrompt})`);
    }
    caps ??= await detectCapabilities({ ...options, worker: false });
    const variant = caps.profile.build.endsWith('-mt') ? 'mt' : 'st';
    const relaxed = caps.profile.build.startsWith('wasm-relaxed-');
    let mo: LoadModuleOptions = { variant, relaxed, threads: caps.profile.threads, wasmBase: options.wasmBase, memoryLimit: options.memoryLimit };
    let gpu: GpuSetup | null = null;
    if (caps.profile.backend === 'webgpu') {
      const g = globalThis as unknown as { navigator?: { gpu?: unknown } };
      const gpuObject = (options.gpu === undefined ? g.navigator?.gpu : options.gpu) as Parameters<typeof openDevice>[0];
      const mask = options.gpuMask ?? (options.gpuProfile ? BROWSER_PROFILES[options.gpuProfile] : undefined);
      const opened = await openDevice(gpuObject, mask);
      caps.profile.reasons.push(...opened.reasons.map((r) => `webgpu ${r}`));
      caps.webgpu.features = opened.features;
      caps.webgpu.wgslFeatures = opened.wgslFeatures;
      gpu = {
        device: opened.device,
        lazyPipelines: options.precompile === false,
        wgslFeatures: opened.wgslFeatures,
        subgroupMinSize: opened.subgroupMinSize,
        matvecTuning: options.matvecTuning,
        l2Warm: l2WarmFor(opened.adapterInfo),
        fewTokenPrompt: options.fewTokenPrompt,
      };
      if (gpu.l2Warm) caps.profile.reasons.push('webgpu: decode attention and o projection warm the L2 cache for the next matvec (NVIDIA, large L2)');
    }
    let started: [Native, number];
    try {
      started = await startModule(mo, gpu);
    } catch (e) {
      // The probe passed but the relaxed module did not start (its files
      // missing, say): the SIMD128 module, unless relaxed SIMD was required.
      if (!relaxed || options.relaxedSimd === true) throw e;
      mo = { ...mo, relaxed: false };
      started = await startModule(mo, gpu);
      caps.profile.build = `wasm-simd128-${variant}`;
      caps.profile.reasons.push(`relaxed SIMD: the relaxed module did not start (${e instanceof Error ? e.message : String(e)}); SIMD128 module`);
    }
    const [native, handle] = started;
    caps.profile.isa = native.buildInfo().isa;
    return new LocalEngine(native, handle, caps, mo, gpu, options);
  }

  capabilities(): Capabilities {
    return structuredClone(this.caps);
  }

  // After the module stopped (out of memory, a trap), the engine goes on
  // with a fresh one; the old module's models stay lost (device_lost).
  private async alive(): Promise<void> {
    if (this.disposed) throw new WebAccelError('invalid_argument', 'the engine was disposed');
    if (!this.native.dead) return;
    // Concurrent calls share one restart.
    this.reviving ??= (async () => {
      this.models.clear();
      this.handle = 0;
      // After the device was lost, the fresh module runs on the CPU.
      const gpuSetup = this.gpuLost === null ? this.gpuSetup : null;
      const [native, handle] = await startModule(this.moduleOptions, gpuSetup);
      this.native = native;
      this.handle = handle;
      if (!gpuSetup) {
        this.gpu = null;
      } else {
        this.gpu?.destroy();
        this.gpu = new GpuDriver(gpuSetup.device);
        this.gpuTail = Promise.resolve();
      }
    })().finally(() => (this.reviving = null));
    await this.reviving;
    if (this.disposed) throw new WebAccelError('invalid_argument', 'the engine was disposed');
  }

  async load(source: ModelSource, options: ModelLoadOptions = {}): Promise<Model> {
    await this.alive();
    const n = this.native;
    const { onProgress, signal } = options;
    checkNumber('nCtx', options.nCtx, 0, 1 << 20);
    if (signal?.aborted) throw cancelled('loading the model');
    const src = await openSource(source, signal);
    const errorOf = () => `${src.name}: ${n.cstr(n.call('engine_last_error', this.handle)).replace(/^[a-z_]+: model: /, '')}`;
    const disposed = () => new WebAccelError('invalid_argument', 'the engine was disposed');
    // WebGPU: the header first; the weights then stream to the GPU. Not after
    // the device was lost: the model runs on the CPU then, from wasm memory.
    const reader =
      this.gpu && this.gpuLost === null && options.streamWeights !== false ? new SequentialReader(src, signal, onProgress) : null;
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
          n.release('model_release', model); // destroys the buffers it made
          void this.flushGpu(true).catch(() => {});
          if (e instanceof WebAccelError && e.code === 'device_lost') {
            // No copy of the weights stayed behind to fall back to.
            throw new WebAccelError(
              'device_lost',
              `${src.name}: ${e.message} while the weights were streamed to it; load the model again (it will run on the CPU)`,
            );
          }
          throw e;
        }
        // A stream of unannounced length: as far as the weights go.
        if (model) size ??= reader.total ?? reader.position;
      }
      if (!model) {
        // Refused (out_of_memory) before a byte is read when it cannot fit the heap.
        const [ptr, loaded] = await readSourceIntoWasm(n, reader ? reader.rest() : src, onProgress, signal);
        if (this.disposed) {
          n.free(ptr);
          throw disposed();
        }
        size = loaded;
        // wa_model_load owns ptr from here on, also when it fails.
        n.check(n.call('model_load', this.handle, ptr, loaded, n.out(0)), errorOf);
        model = n.outU32(0);
        if (this.gpuLost !== null) {
          // The device is gone: the model runs on the CPU from the start.
          n.call('model_use_cpu', model);
          await this.flushGpu(true);
        }
      }
    } finally {
      await reader?.close();
    }
    const sst = n.call('session_create', model, options.nCtx ?? 0, 0, n.out(0));
    if (sst !== 0) {
      const msg = n.cstr(n.call('model_last_error', model));
      n.release('model_release', model);
      void this.flushGpu(true).catch(() => {});
      n.check(sst, () => msg);
    }
    const oneShot = typeof ReadableStream !== 'undefined' && source instanceof ReadableStream;
    const reopen = reader && !oneShot ? source : null;
    const m = new LocalModel(this, model, n.outU32(0), reopen);
    this.models.add(m);
    if (this.gpu && m.onGpu) {
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
        // Lost while uploading: the model runs on the CPU instead.
        try {
          if (!(e instanceof WebAccelError && e.code === 'device_lost' && this.gpuLost !== null && !n.dead)) throw e;
          await m.leaveLostGpu();
        } catch (e2) {
          m.release();
          throw e2;
        }
      }
    }
    return m;
  }

  // A model read from `source` into wasm memory that runs on the CPU: what a
  // streamed model continues on after the device was lost.
  async loadOnCpu(source: ModelSource, signal?: AbortSignal): Promise<number> {
    await this.alive();
    const n = this.native;
    const src = await openSource(source, signal);
    const [ptr, loaded] = await readSourceIntoWasm(n, src, undefined, signal);
    // wa_model_load owns ptr from here on, also when it fails.
    n.check(n.call('model_load', this.handle, ptr, loaded, n.out(0)), () => `${src.name}: ${n.cstr(n.call('engine_last_error', this.handle))}`);
    const model = n.outU32(0);
    n.call('model_use_cpu', model);
    await this.flushGpu(true);
    return model;
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
      if (this.disposed) throw new WebAccelError('invalid_argument', 'the engine was disposed');
      if (n.dead) throw n.lost('the engine');
      // The header's metadata and tokenizer go into C++ containers, whose
      // allocation failure in wasm stops the module: refused beforehand.
      const heap = n.heap();
      if (head.byteLength + loadReserve(head.byteLength) > heap.available) {
        throw new WebAccelError(
          'out_of_memory',
          `${reader.name}: its ${head.byteLength}-byte header does not fit the wasm memory (${heap.available} bytes can still be allocated)`,
        );
      }
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
        const uploading = this.flushGpu(false, reader);
        uploading.catch(() => {}); // awaited by load, which reports it
        return [model, reader.total, uploading];
      }
      if (need >= total) {
        // The CPU would run it: the whole file in wasm memory, if it fits.
        if (reader.total !== undefined && reader.total + loadReserve(reader.total) > n.heap().available) {
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
    await this.alive();
    const report = this.native.json<MemoryReport>(this.native.call('engine_memory_json', this.handle));
    return { ...report, heap: this.native.heap() };
  }

  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    await this.reviving?.catch(() => {});
    for (const m of [...this.models]) m.release();
    await this.gpuTail;
    this.native.release('engine_release', this.handle);
    this.handle = 0;
    this.gpu?.destroy();
  }
}
