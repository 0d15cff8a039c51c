// The page side of the worker engine: the same Engine/Model API, each call a
// message to worker.ts. Requests carry an id; replies are {id, ok, result} or
// {id, ok: false, error}; a load also sends {id, progress} and a generate
// {id, token} per token, and {id, backendChange} when its model left the GPU.
// {event: 'backendChange', data} (no id) is the engine's onBackendChange.
// {op: 'abort', args: [id]} aborts request id.
import type { Capabilities } from './capabilities.js';
import { WebAccelError, cancelled } from './errors.js';
import type {
  BackendChangeEvent,
  Engine,
  EngineOptions,
  GenerateOptions,
  GenerationStats,
  MemoryReport,
  Model,
  ModelInfo,
  ModelLoadOptions,
  ModelSource,
  Prompt,
  Token,
  TokenizeOptions,
} from './types.js';

interface Pending {
  resolve(v: unknown): void;
  reject(e: unknown): void;
  onEvent?(data: { progress?: unknown; token?: Token; backendChange?: BackendChangeEvent }): void;
}

class Rpc {
  private readonly worker: Worker;
  private next = 1;
  private readonly pending = new Map<number, Pending>();
  private dead: WebAccelError | null = null;
  // EngineOptions.onBackendChange of the page.
  onBackendChange?: (e: BackendChangeEvent) => void;

  constructor(worker: Worker) {
    this.worker = worker;
    worker.onmessage = (e: MessageEvent) => {
      const d = e.data as { id: number; ok?: boolean; result?: unknown; error?: { code: string; message: string }; event?: string; data?: unknown };
      if (d.event === 'backendChange') return void this.onBackendChange?.(d.data as BackendChangeEvent);
      const p = this.pending.get(d.id);
      if (!p) return;
      if (d.ok === undefined) return p.onEvent?.(d as { progress?: unknown; token?: Token; backendChange?: BackendChangeEvent });
      this.pending.delete(d.id);
      if (d.ok) p.resolve(d.result);
      else p.reject(WebAccelError.fromJSON(d.error ?? {}));
    };
    worker.onerror = (e: ErrorEvent) => {
      this.dead = new WebAccelError('internal', `the engine's worker failed: ${e.message}`);
      for (const p of this.pending.values()) p.reject(this.dead);
      this.pending.clear();
    };
  }

  start(op: string, args: unknown[], transfer: Transferable[] = [], onEvent?: Pending['onEvent']): { id: number; done: Promise<unknown> } {
    const id = this.next++;
    if (this.dead) return { id, done: Promise.reject(this.dead) };
    const done = new Promise<unknown>((resolve, reject) => this.pending.set(id, { resolve, reject, onEvent }));
    this.worker.postMessage({ id, op, args }, transfer);
    return { id, done };
  }
  call<T>(op: string, ...args: unknown[]): Promise<T> {
    return this.start(op, args).done as Promise<T>;
  }
  abort(id: number): void {
    this.worker.postMessage({ id: 0, op: 'abort', args: [id] });
  }
  terminate(): void {
    this.worker.terminate();
  }
}

function withSignal(rpc: Rpc, id: number, signal: AbortSignal | undefined): () => void {
  if (!signal) return () => {};
  const f = () => rpc.abort(id);
  signal.addEventListener('abort', f);
  return () => signal.removeEventListener('abort', f);
}

class WorkerModel implements Model {
  constructor(private readonly rpc: Rpc, private readonly h: number) {}

  async *generate(prompt: Prompt, options: GenerateOptions = {}): AsyncGenerator<Token> {
    const { signal, onBackendChange, ...opts } = options;
    if (signal?.aborted) throw cancelled('generation');
    const queue: Token[] = [];
    let wake: (() => void) | null = null;
    let finished = false;
    let failure: unknown = null;
    const prm = typeof prompt === 'string' ? prompt : Array.from(prompt);
    const { id, done } = this.rpc.start('generate', [this.h, prm, opts], [], (d) => {
      if (d.token) queue.push(d.token);
      if (d.backendChange) onBackendChange?.(d.backendChange);
      wake?.();
    });
    done.then(
      () => (finished = true),
      (e) => ((failure = e), (finished = true)),
    ).finally(() => wake?.());
    const unhook = withSignal(this.rpc, id, signal);
    let complete = false;
    try {
      for (;;) {
        while (queue.length) yield queue.shift()!;
        if (finished) {
          if (failure) throw failure;
          complete = true;
          return;
        }
        await new Promise<void>((r) => (wake = r));
        wake = null;
      }
    } finally {
      unhook();
      // The consumer stopped early (break): stop the worker too.
      if (!complete && !finished) {
        this.rpc.abort(id);
        await done.catch(() => {});
      }
    }
  }
  async complete(prompt: Prompt, options: GenerateOptions = {}): Promise<string> {
    let s = '';
    for await (const t of this.generate(prompt, options)) s += t.text;
    return s;
  }
  tokenize(text: string, options: TokenizeOptions = {}): Promise<number[]> {
    return this.rpc.call('tokenize', this.h, text, options);
  }
  detokenize(ids: ArrayLike<number>): Promise<string> {
    return this.rpc.call('detokenize', this.h, Array.from(ids));
  }
  logits(ids: ArrayLike<number>): Promise<Float32Array> {
    return this.rpc.call('logits', this.h, Array.from(ids));
  }
  info(): Promise<ModelInfo> {
    return this.rpc.call('info', this.h);
  }
  lastStats(): Promise<GenerationStats | null> {
    return this.rpc.call('lastStats', this.h);
  }
  unload(): Promise<void> {
    return this.rpc.call('unload', this.h);
  }
}

export class WorkerEngine implements Engine {
  private constructor(private readonly rpc: Rpc, private caps: Capabilities) {}

  static async create(options: EngineOptions, caps: Capabilities): Promise<WorkerEngine> {
    const worker = new Worker(new URL('./worker.js', import.meta.url), { type: 'module' });
    const rpc = new Rpc(worker);
    // The GPU object stays on the page (it cannot be cloned); the worker gets the report.
    // Functions cannot be cloned either: the page keeps onBackendChange.
    const { gpu: _gpu, onBackendChange, ...rest } = options;
    void _gpu;
    rpc.onBackendChange = onBackendChange;
    const wopts = { ...rest, wasmBase: rest.wasmBase ? new URL(rest.wasmBase.toString(), location.href).href : undefined };
    try {
      const c = await rpc.call<Capabilities>('init', wopts, caps);
      c.profile.inWorker = true;
      return new WorkerEngine(rpc, c);
    } catch (e) {
      rpc.terminate();
      throw e;
    }
  }

  capabilities(): Capabilities {
    return structuredClone(this.caps);
  }

  async load(source: ModelSource, options: ModelLoadOptions = {}): Promise<Model> {
    const { signal, onProgress, ...rest } = options;
    if (signal?.aborted) throw cancelled('loading the model');
    let src: unknown = source;
    const transfer: Transferable[] = [];
    if (source instanceof URL) src = source.href;
    else if (typeof source === 'string') src = new URL(source, location.href).href;
    else if (source instanceof ReadableStream) transfer.push(source as unknown as Transferable);
    const { id, done } = this.rpc.start('load', [src, rest], transfer, (d) => {
      if (d.progress) onProgress?.(d.progress as { loaded: number; total: number | undefined });
    });
    const unhook = withSignal(this.rpc, id, signal);
    try {
      return new WorkerModel(this.rpc, (await done) as number);
    } finally {
      unhook();
    }
  }

  memory(): Promise<MemoryReport> {
    return this.rpc.call('memory');
  }

  async dispose(): Promise<void> {
    await this.rpc.call('dispose').catch(() => {});
    this.rpc.terminate();
  }
}
