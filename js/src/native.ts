// The wasm module and a typed view of the C API (include/webaccel/webaccel.h).
// Thin on purpose: every decision about compute lives in C++; this file moves
// bytes and handles across the boundary and turns status codes into errors.
import { WebAccelError } from './errors.js';

export const isNode =
  typeof process !== 'undefined' && typeof process.versions === 'object' && typeof process.versions.node === 'string';

// What the emscripten glue gives us (the subset we use).
interface EmModule {
  HEAPU8: Uint8Array;
  wasmMemory?: WebAssembly.Memory; // present in the pthreads build
  asm?: Record<string, unknown>; // the instance's exports (minified names)
  PThread?: { terminateAllThreads?(): void };
  UTF8ToString(ptr: number, maxBytes?: number): string;
  [fn: `_wa_${string}`]: (...args: number[]) => number;
}
type Factory = (opts: Record<string, unknown>) => Promise<EmModule>;

export type Variant = 'st' | 'mt';

// wasm32 addresses 4 GiB; emscripten's heap stops one page short of it.
export const WASM32_MAX_HEAP = 4 * 1024 ** 3 - 65536;
const PAGE = 65536;

export interface LoadModuleOptions {
  variant: Variant;
  threads: number;
  // The relaxed-SIMD build (webaccel-relaxed-{st,mt}); only where the engine
  // has relaxed SIMD (capabilities.ts probes it), else it does not compile.
  relaxed?: boolean;
  // Folder holding webaccel-[relaxed-]{st,mt}.{js,wasm}; default: ./wasm/ beside this file.
  wasmBase?: string | URL;
  // Most bytes the module's memory may grow to (EngineOptions.memoryLimit).
  memoryLimit?: number;
}

function defaultBase(): URL {
  return new URL('./wasm/', import.meta.url);
}

// The factory of an emscripten MODULARIZE build `name`.js/.wasm in `base`,
// whose glue defines `exportName` (the product's module, or a test module
// such as tests/webgpu's).
export async function loadFactory(base: URL, name: string, exportName = 'createWebAccelModule') {
  return isNode ? loadFactoryNode(base, name) : loadFactoryWeb(base, name, exportName);
}

async function loadFactoryNode(base: URL, name: string): Promise<{ factory: Factory; opts: Record<string, unknown> }> {
  const { createRequire } = (await import('node:module')).default;
  const { fileURLToPath } = await import('node:url');
  const { readFile } = await import('node:fs/promises');
  const path = await import('node:path');
  const dir = fileURLToPath(base);
  // The glue is CommonJS (dist/wasm/package.json says so): see cmake/wasm.cmake.
  const require = createRequire(import.meta.url);
  const factory = require(path.join(dir, `${name}.js`)) as Factory;
  // Node 20's fetch() cannot read file paths: hand the bytes over.
  const wasmBinary = await readFile(path.join(dir, `${name}.wasm`));
  return { factory, opts: { wasmBinary, locateFile: (p: string) => path.join(dir, p) } };
}

async function loadFactoryWeb(base: URL, name: string, exportName = 'createWebAccelModule'): Promise<{ factory: Factory; opts: Record<string, unknown> }> {
  const glueUrl = new URL(`${name}.js`, base).href;
  const g = globalThis as unknown as Record<string, unknown>;
  if (typeof g[exportName] !== 'function') {
    const res = await fetch(glueUrl);
    if (!res.ok) throw new WebAccelError('io_error', `cannot fetch ${glueUrl}: HTTP ${res.status}`);
    const src = await res.text();
    // A classic script: evaluated at global scope it defines createWebAccelModule
    // (works on pages and in module workers, where importScripts does not).
    (0, eval)(src);
  }
  const factory = g[exportName] as Factory;
  return {
    factory,
    // pthread workers load the glue from this URL and the .wasm/.worker.js from base.
    opts: { mainScriptUrlOrBlob: glueUrl, locateFile: (p: string) => new URL(p, base).href },
  };
}

// One running module: shared by every Native (engine) made from it, so that
// when it dies (a trap, an escaped C++ exception) all of them know.
class Instance {
  readonly m: EmModule;
  readonly key: string;
  readonly limit: number; // bytes the memory may grow to
  readonly memory: WebAssembly.Memory;
  dead: WebAccelError | null = null;
  growFailed = false; // during the current call: a memory.grow was refused or failed

  constructor(m: EmModule, key: string, limit: number) {
    this.m = m;
    this.key = key;
    this.limit = limit;
    // The single-threaded build exports its memory under a minified name.
    const mem = m.wasmMemory ?? Object.values(m.asm ?? {}).find((v) => v instanceof WebAssembly.Memory);
    if (!(mem instanceof WebAssembly.Memory)) throw new WebAccelError('internal', 'the wasm module exposes no memory');
    this.memory = mem;
    // emscripten grows the heap by calling memory.grow from JS (sbrk ->
    // emscripten_resize_heap); an own property on this object sees every
    // such call made on this thread, which is where models are loaded and
    // sessions allocate. Refusing one makes malloc return NULL, and it marks
    // a failure seen just before a trap as running out of memory.
    const grow = mem.grow.bind(mem);
    Object.defineProperty(mem, 'grow', {
      configurable: true,
      value: (pages: number): number => {
        if (mem.buffer.byteLength + pages * PAGE > this.limit) {
          this.growFailed = true;
          throw new RangeError(`webaccel: memoryLimit ${this.limit} bytes reached`);
        }
        try {
          return grow(pages);
        } catch (e) {
          this.growFailed = true;
          throw e;
        }
      },
    });
  }

  // Ends the module after a trap: the error for the operation that hit it.
  kill(fn: string, e: unknown): WebAccelError {
    if (this.dead) return this.dead;
    const { oom, what } = describeTrap(this, e);
    const reset = 'the module was stopped, and models loaded in it must be loaded again';
    this.dead = oom
      ? new WebAccelError('out_of_memory', `out of wasm memory in ${fn} (${what}); ${reset}`)
      : new WebAccelError('internal', `the wasm module trapped in ${fn} (${what}); ${reset}`);
    // The next loadModule starts a fresh instance.
    if (moduleCache.get(this.key)?.instance === this) moduleCache.delete(this.key);
    // Its pool workers would otherwise stay (and keep Node alive).
    try {
      this.m.PThread?.terminateAllThreads?.();
    } catch {
      // best effort: the module is gone either way
    }
    return this.dead;
  }
}

// What escaped from the module: a WebAssembly.RuntimeError (a trap, or
// emscripten's abort()), or a number, which is how emscripten 3.1.6 throws a
// C++ exception when catching is disabled (the pointer to the exception).
function describeTrap(inst: Instance, e: unknown): { oom: boolean; what: string } {
  if (typeof e === 'number') {
    const type = cxxExceptionType(inst, e);
    const oom = inst.growFailed || /bad_alloc|bad_array_new_length/.test(type);
    return { oom, what: `uncaught C++ exception${type ? ' ' + type : ''}` };
  }
  // emscripten's abort() adds advice about a debug build; not useful here.
  const msg = (e instanceof Error ? `${e.name}: ${e.message}` : String(e)).replace(/\. Build with -s ASSERTIONS=1.*$/, '');
  return { oom: inst.growFailed || /\bOOM\b|out of memory|Cannot enlarge memory/i.test(msg), what: msg };
}

// The mangled type name of a thrown C++ exception ("St9bad_alloc"), read
// through emscripten 3.1.6's layout: a 16-byte header before the exception
// object holds the std::type_info pointer at offset 4; a type_info is
// {vtable, name}. Empty when anything looks off.
function cxxExceptionType(inst: Instance, ptr: number): string {
  try {
    const heap = new DataView(inst.memory.buffer);
    const type = heap.getUint32(ptr - 16 + 4, true);
    const name = heap.getUint32(type + 4, true);
    const s = inst.m.UTF8ToString(name, 256);
    return /^[\w:]+$/.test(s) ? s : '';
  } catch {
    return '';
  }
}

interface CacheEntry {
  promise: Promise<Instance>;
  instance?: Instance;
}
const moduleCache = new Map<string, CacheEntry>();

async function startInstance(base: URL, name: string, threads: number, key: string, limit: number, exportName: string): Promise<Instance> {
  const { factory, opts } = isNode ? await loadFactoryNode(base, name) : await loadFactoryWeb(base, name, exportName);
  // The engine's threads must come from the pool started with the module.
  const m = await factory({ ...opts, waPoolSize: Math.max(1, threads), print: () => {}, printErr: () => {} });
  // Node: idle pool workers must not keep the process alive (emscripten
  // 3.1.6 does not unref them itself).
  const pt = (m as unknown as { PThread?: { unusedWorkers?: { unref?(): void }[]; runningWorkers?: { unref?(): void }[] } }).PThread;
  if (isNode && pt) for (const w of [...(pt.unusedWorkers ?? []), ...(pt.runningWorkers ?? [])]) w.unref?.();
  return new Instance(m, key, limit);
}

export async function loadModule(o: LoadModuleOptions): Promise<Native> {
  const base = o.wasmBase ? new URL(o.wasmBase.toString(), isNode ? `file://${process.cwd()}/` : location.href) : defaultBase();
  const name = `webaccel-${o.relaxed ? 'relaxed-' : ''}${o.variant === 'mt' ? 'mt' : 'st'}`;
  const limit = Math.min(WASM32_MAX_HEAP, Math.floor((o.memoryLimit ?? WASM32_MAX_HEAP) / PAGE) * PAGE);
  // One instance per variant, pool size and memory limit: instances are
  // independent, but each pthreads instance starts its own pool of workers.
  const key = `${base.href}|${name}|${o.variant === 'mt' ? o.threads : 1}|${limit}`;
  let entry = moduleCache.get(key);
  if (!entry) {
    const exportName = o.relaxed ? 'createWebAccelRelaxedModule' : 'createWebAccelModule';
    const e: CacheEntry = { promise: startInstance(base, name, o.threads, key, limit, exportName) };
    e.promise.then(
      (inst) => (e.instance = inst),
      () => moduleCache.get(key) === e && moduleCache.delete(key),
    );
    moduleCache.set(key, (entry = e));
  }
  try {
    return new Native(await entry.promise, o.variant);
  } catch (e) {
    throw e instanceof WebAccelError ? e : new WebAccelError('unsupported', `cannot start the wasm module: ${String(e)}`);
  }
}

const decoder = new TextDecoder();
const encoder = new TextEncoder();

// The C API with memory helpers. Pointers are numbers (wasm32).
//
// Every call into the module goes through call(): an exception escaping from
// wasm means the module's state is lost (a trap or abort mid-way, C++ stack
// unwound without destructors), so the instance is marked dead, the failing
// call reports out_of_memory or internal, and every later call reports
// device_lost until the engine starts a fresh module (engine.ts).
export class Native {
  private readonly inst: Instance;
  readonly variant: Variant;
  private readonly scratch: number; // 64 bytes for out-parameters

  constructor(inst: Instance, variant: Variant) {
    this.inst = inst;
    this.variant = variant;
    this.scratch = this.alloc(64);
  }

  get m(): EmModule {
    return this.inst.m;
  }
  // Why the module stopped, or null while it runs.
  get dead(): WebAccelError | null {
    return this.inst.dead;
  }
  // The error for using a model or engine after its module stopped.
  lost(what: string): WebAccelError {
    const d = this.inst.dead;
    const why = d ? `${d.code}: ${d.message.replace(/;.*$/, '')}` : 'unknown';
    return new WebAccelError('device_lost', `${what} was lost when its wasm module stopped (${why}); load the model again`);
  }
  // For tests of the recovery path (js/test/oom.test.mjs): a call that traps.
  // It reads far past the end of memory, which wasm always traps on.
  debugTrap(): never {
    this.call('model_n_vocab', 0xfffffff0);
    throw new WebAccelError('internal', 'debugTrap did not trap');
  }

  // A fresh view each time: memory may have grown (in the pthreads build
  // possibly on another thread, which does not refresh HEAPU8).
  get buffer(): ArrayBuffer {
    return this.inst.memory.buffer as ArrayBuffer;
  }
  u8(ptr: number, len: number): Uint8Array {
    return new Uint8Array(this.buffer, ptr, len);
  }
  i32(ptr: number, len: number): Int32Array {
    return new Int32Array(this.buffer, ptr, len);
  }
  f32(ptr: number, len: number): Float32Array {
    return new Float32Array(this.buffer, ptr, len);
  }
  u32at(ptr: number): number {
    return new Uint32Array(this.buffer, ptr, 1)[0];
  }
  // UTF-8 with a length (may contain NUL); copied out first because
  // TextDecoder rejects views of shared memory.
  text(ptr: number, len: number): string {
    return decoder.decode(this.u8(ptr, len).slice());
  }
  cstr(ptr: number): string {
    return this.m.UTF8ToString(ptr);
  }
  json<T>(ptr: number): T {
    return JSON.parse(this.cstr(ptr)) as T;
  }

  alloc(bytes: number): number {
    const p = this.call('alloc', bytes);
    if (!p) throw new WebAccelError('out_of_memory', `cannot allocate ${bytes} bytes in wasm memory`);
    return p;
  }
  // Safe in cleanup paths: a no-op once the module stopped.
  free(p: number): void {
    if (!this.inst.dead) this.call('free', p);
  }
  // Calls for cleanup (release functions): skipped once the module stopped,
  // so that a finally block does not replace the error that stopped it.
  release(name: string, handle: number): void {
    if (handle && !this.inst.dead) this.call(name, handle);
  }

  // What can still be allocated: the limit minus the heap's size, plus the
  // allocator's free bytes (an upper bound: the free space may be split).
  heap(): { size: number; limit: number; available: number } {
    this.call('heap_info', this.out(0), this.out(1), this.out(2));
    const size = this.outU32(0);
    const limit = Math.min(this.inst.limit, this.outU32(1) || WASM32_MAX_HEAP);
    return { size, limit, available: Math.max(0, limit - size) + this.outU32(2) };
  }
  // Copies a string into wasm memory; returns [ptr, len] (free ptr after use).
  putString(s: string): [number, number] {
    const bytes = encoder.encode(s);
    const p = this.alloc(bytes.length + 1);
    const view = this.u8(p, bytes.length + 1);
    view.set(bytes);
    view[bytes.length] = 0; // also usable as a C string
    return [p, bytes.length];
  }
  putInts(ids: ArrayLike<number>): number {
    const p = this.alloc(Math.max(4, ids.length * 4));
    this.i32(p, ids.length).set(ids);
    return p;
  }

  // Out-parameter slots in the scratch area.
  out(i: number): number {
    return this.scratch + 4 * i;
  }
  outU32(i: number): number {
    return this.u32at(this.out(i));
  }

  check(status: number, message: () => string): void {
    if (status !== 0) throw WebAccelError.fromStatus(status, message());
  }

  call(name: string, ...args: number[]): number {
    const inst = this.inst;
    if (inst.dead) throw this.lost('the engine');
    const f = inst.m[`_wa_${name}`];
    inst.growFailed = false;
    try {
      return f(...args);
    } catch (e) {
      throw inst.kill(`wa_${name}`, e);
    }
  }

  buildInfo(): BuildInfo {
    return this.json<BuildInfo>(this.call('build_info_json'));
  }
  setIsa(name: string): void {
    const [p] = this.putString(name);
    const st = this.call('set_isa', p);
    this.free(p);
    this.check(st, () => `ISA '${name}' is not available in this build`);
  }
}

export interface BuildInfo {
  version: string;
  target: string;
  threads: boolean;
  hardware_threads: number;
  isa: string;
  isas: string[];
}
