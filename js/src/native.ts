// The wasm module and a typed view of the C API (include/webaccel/webaccel.h).
// Thin on purpose: every decision about compute lives in C++; this file moves
// bytes and handles across the boundary and turns status codes into errors.
import { WebAccelError } from './errors.js';

export const isNode =
  typeof process !== 'undefined' && typeof process.versions === 'object' && typeof process.versions.node === 'string';

// What the emscripten glue gives us (the subset we use).
export interface EmModule {
  HEAPU8: Uint8Array;
  wasmMemory?: WebAssembly.Memory; // present in the pthreads build
  UTF8ToString(ptr: number, maxBytes?: number): string;
  [fn: `_wa_${string}`]: (...args: number[]) => number;
}
export type Factory = (opts: Record<string, unknown>) => Promise<EmModule>;

export type Variant = 'st' | 'mt';

export interface LoadModuleOptions {
  variant: Variant;
  threads: number;
  // Folder holding webaccel-{st,mt}.{js,wasm}; default: ./wasm/ beside this file.
  wasmBase?: string | URL;
}

function defaultBase(): URL {
  return new URL('./wasm/', import.meta.url);
}

export interface LoadedFactory {
  factory: Factory;
  // Options for the factory that locate the .wasm (and pthread workers).
  opts: Record<string, unknown>;
}

// The factory of an emscripten MODULARIZE build `name`.js/.wasm in `base`,
// whose glue defines `exportName` (the product's module, or a test module
// such as tests/webgpu's).
export async function loadFactory(base: URL, name: string, exportName = 'createWebAccelModule'): Promise<LoadedFactory> {
  return isNode ? loadFactoryNode(base, name) : loadFactoryWeb(base, name, exportName);
}

async function loadFactoryNode(base: URL, name: string): Promise<LoadedFactory> {
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

async function loadFactoryWeb(base: URL, name: string, exportName: string): Promise<LoadedFactory> {
  const glueUrl = new URL(`${name}.js`, base).href;
  const g = globalThis as unknown as Record<string, unknown>;
  if (typeof g[exportName] !== 'function') {
    const res = await fetch(glueUrl);
    if (!res.ok) throw new WebAccelError('io_error', `cannot fetch ${glueUrl}: HTTP ${res.status}`);
    const src = await res.text();
    // A classic script: evaluated at global scope it defines exportName
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

const moduleCache = new Map<string, Promise<EmModule>>();

export async function loadModule(o: LoadModuleOptions): Promise<Native> {
  const base = o.wasmBase ? new URL(o.wasmBase.toString(), isNode ? `file://${process.cwd()}/` : location.href) : defaultBase();
  const name = o.variant === 'mt' ? 'webaccel-mt' : 'webaccel-st';
  // One instance per variant and pool size: instances are independent, but
  // each pthreads instance starts its own pool of workers.
  const key = `${base.href}|${name}|${o.variant === 'mt' ? o.threads : 1}`;
  let p = moduleCache.get(key);
  if (!p) {
    p = (async () => {
      const { factory, opts } = await loadFactory(base, name);
      // The engine's threads must come from the pool started with the module.
      const m = await factory({ ...opts, waPoolSize: Math.max(1, o.threads), print: () => {}, printErr: () => {} });
      // Node: idle pool workers must not keep the process alive (emscripten
      // 3.1.6 does not unref them itself).
      const pt = (m as unknown as { PThread?: { unusedWorkers?: { unref?(): void }[]; runningWorkers?: { unref?(): void }[] } }).PThread;
      if (isNode && pt) for (const w of [...(pt.unusedWorkers ?? []), ...(pt.runningWorkers ?? [])]) w.unref?.();
      return m;
    })();
    moduleCache.set(key, p);
    p.catch(() => moduleCache.delete(key));
  }
  try {
    return new Native(await p, o.variant);
  } catch (e) {
    throw e instanceof WebAccelError ? e : new WebAccelError('unsupported', `cannot start the wasm module: ${String(e)}`);
  }
}

const decoder = new TextDecoder();
const encoder = new TextEncoder();

// The C API with memory helpers. Pointers are numbers (wasm32).
export class Native {
  readonly m: EmModule;
  readonly variant: Variant;
  private scratch: number; // 64 bytes for out-parameters

  constructor(m: EmModule, variant: Variant) {
    this.m = m;
    this.variant = variant;
    this.scratch = m._wa_alloc(64);
  }

  // A fresh view each time: memory may have grown (in the pthreads build
  // possibly on another thread, which does not refresh HEAPU8).
  get buffer(): ArrayBuffer {
    return (this.m.wasmMemory ? this.m.wasmMemory.buffer : this.m.HEAPU8.buffer) as ArrayBuffer;
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
    const p = this.m._wa_alloc(bytes);
    if (!p) throw new WebAccelError('out_of_memory', `cannot allocate ${bytes} bytes in wasm memory`);
    return p;
  }
  free(p: number): void {
    this.m._wa_free(p);
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
    const f = this.m[`_wa_${name}`];
    return f(...args);
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
