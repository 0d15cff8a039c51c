// What the environment offers, detected (never assumed), and the profile
// chosen from it, with the reasons for each choice.
import { WebAccelError } from './errors.js';
import { isNode } from './native.js';
import type { EngineOptions, GpuLike } from './types.js';

export interface WebGpuReport {
  available: boolean;
  software: boolean; // a CPU emulation (SwiftShader, a fallback adapter): slower than the wasm backend
  adapter: { vendor?: string; architecture?: string; device?: string; description?: string } | null;
  features: string[];
  wgslFeatures: string[]; // WGSL language features (navigator.gpu.wgslLanguageFeatures)
  limits: Record<string, number>;
  reason: string;
}

export interface Capabilities {
  environment: 'node' | 'browser-window' | 'browser-worker';
  wasm: {
    simd: boolean;
    // Relaxed SIMD's i16x8.relaxed_dot_i8x16_i7x16_s validates and computes
    // the expected products here (RELAXED_PROBE).
    relaxedSimd: boolean;
    threads: boolean; // shared memory usable: SharedArrayBuffer + (Node or cross-origin isolated)
    sharedArrayBuffer: boolean;
    crossOriginIsolated: boolean;
    hardwareConcurrency: number;
  };
  webgpu: WebGpuReport;
  profile: {
    backend: 'wasm' | 'webgpu';
    // The module: SIMD128 or relaxed SIMD, single-threaded or pthreads.
    build: 'wasm-simd128-st' | 'wasm-simd128-mt' | 'wasm-relaxed-st' | 'wasm-relaxed-mt';
    threads: number;
    isa: string; // filled in once the module runs (the kernels' ISA)
    inWorker: boolean;
    reasons: string[];
  };
}

// (module (func (result v128) v128.const i64x2 0 0)): valid only with SIMD.
const SIMD_PROBE = new Uint8Array([
  0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, // magic, version
  0x01, 0x05, 0x01, 0x60, 0x00, 0x01, 0x7b, // type: () -> v128
  0x03, 0x02, 0x01, 0x00, // one function of type 0
  0x0a, 0x16, 0x01, 0x14, 0x00, 0xfd, 0x0c, // code: v128.const
  0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x0b,
]);

function detectSimd(): boolean {
  try {
    return typeof WebAssembly === 'object' && WebAssembly.validate(SIMD_PROBE);
  } catch {
    return false;
  }
}

// (module (func (export "f") (param i32 i32) (result i32)
//   (i16x8.extract_lane_s 0 (i16x8.relaxed_dot_i8x16_i7x16_s
//     (i8x16.splat (local.get 0)) (i8x16.splat (local.get 1))))))
// The opcode the relaxed kernels use (0xfd 0x112). Run, not only validated:
// an engine that accepts it must also compute it (a = -100, b = 100: each
// lane -20000; a = 127, b = 127: 32258).
const RELAXED_PROBE = new Uint8Array([
  0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, // magic, version
  0x01, 0x07, 0x01, 0x60, 0x02, 0x7f, 0x7f, 0x01, 0x7f, // type: (i32, i32) -> i32
  0x03, 0x02, 0x01, 0x00, // one function of type 0
  0x07, 0x05, 0x01, 0x01, 0x66, 0x00, 0x00, // export "f"
  0x0a, 0x12, 0x01, 0x10, 0x00, // code: one body of 16 bytes, no locals
  0x20, 0x00, 0xfd, 0x0f, // local.get 0, i8x16.splat
  0x20, 0x01, 0xfd, 0x0f, // local.get 1, i8x16.splat
  0xfd, 0x92, 0x02, // i16x8.relaxed_dot_i8x16_i7x16_s
  0xfd, 0x18, 0x00, // i16x8.extract_lane_s 0
  0x0b,
]);

function detectRelaxedSimd(): boolean {
  try {
    if (typeof WebAssembly !== 'object' || !WebAssembly.validate(RELAXED_PROBE)) return false;
    const f = new WebAssembly.Instance(new WebAssembly.Module(RELAXED_PROBE)).exports.f as (a: number, b: number) => number;
    return f(-100, 100) === -20000 && f(127, 127) === 32258 && f(-3, 7) === -42;
  } catch {
    return false;
  }
}

function detectSharedMemory(): boolean {
  try {
    if (typeof SharedArrayBuffer === 'undefined') return false;
    const m = new WebAssembly.Memory({ initial: 1, maximum: 1, shared: true });
    return m.buffer instanceof SharedArrayBuffer;
  } catch {
    return false;
  }
}

async function detectWebGpu(gpu: GpuLike | null | undefined): Promise<WebGpuReport> {
  const none = (reason: string): WebGpuReport => ({ available: false, software: false, adapter: null, features: [], wgslFeatures: [], limits: {}, reason });
  if (!gpu) return none('no GPU object (navigator.gpu is absent and none was passed)');
  try {
    const adapter = (await gpu.requestAdapter()) as {
      features: Iterable<string>;
      limits: Record<string, number>;
      info?: Record<string, unknown>;
    } | null;
    if (!adapter) return none('requestAdapter() returned no adapter');
    const limits: Record<string, number> = {};
    // GPUSupportedLimits exposes its values as prototype getters.
    for (const k in adapter.limits) {
      const v = adapter.limits[k];
      if (typeof v === 'number') limits[k] = v;
    }
    const info = (adapter.info ?? {}) as Record<string, unknown>;
    const text = `${String(info.vendor ?? '')} ${String(info.device ?? '')} ${String(info.description ?? '')}`.toLowerCase();
    const software =
      info.isFallbackAdapter === true || (adapter as { isFallbackAdapter?: boolean }).isFallbackAdapter === true ||
      /swiftshader|llvmpipe|lavapipe|software/.test(text);
    return {
      available: true,
      software,
      adapter: {
        vendor: info.vendor as string | undefined,
        architecture: info.architecture as string | undefined,
        device: info.device as string | undefined,
        description: info.description as string | undefined,
      },
      features: [...adapter.features].sort(),
      wgslFeatures: [...(gpu.wgslLanguageFeatures ?? [])].sort(),
      limits,
      reason: 'adapter found',
    };
  } catch (e) {
    return none(`requestAdapter() failed: ${e instanceof Error ? e.message : String(e)}`);
  }
}

export async function detectCapabilities(o: EngineOptions): Promise<Capabilities> {
  const g = globalThis as unknown as {
    crossOriginIsolated?: boolean;
    navigator?: { hardwareConcurrency?: number; gpu?: GpuLike };
    document?: unknown;
  };
  let hw = g.navigator?.hardwareConcurrency ?? 1;
  if (isNode) {
    const os = await import('node:os');
    hw = typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length;
  }
  const environment = isNode ? 'node' : g.document ? 'browser-window' : 'browser-worker';
  const sab = typeof SharedArrayBuffer !== 'undefined';
  const coi = isNode ? true : g.crossOriginIsolated === true;
  const shared = detectSharedMemory();
  const simd = detectSimd();
  const relaxedSimd = simd && detectRelaxedSimd();
  const webgpu = await detectWebGpu(o.gpu === undefined ? g.navigator?.gpu : o.gpu);

  const reasons: string[] = [];
  const requested = o.backend ?? 'auto';
  let backend: 'wasm' | 'webgpu' = 'wasm';
  if (requested === 'webgpu') {
    if (!webgpu.available) throw new WebAccelError('unsupported', `backend webgpu was requested, but there is no WebGPU (${webgpu.reason})`);
    backend = 'webgpu';
    reasons.push(`backend webgpu: requested${webgpu.software ? ' (a software adapter: expect it to be slower than wasm)' : ''}`);
  } else if (requested === 'auto') {
    if (webgpu.available && !webgpu.software) {
      backend = 'webgpu';
      reasons.push('backend webgpu: a hardware adapter is present (models the GPU kernels cannot run use wasm)');
    } else {
      reasons.push(
        webgpu.available ? 'backend wasm: the WebGPU adapter is a software emulation, slower than wasm' : `backend wasm: no WebGPU (${webgpu.reason})`,
      );
    }
  } else {
    reasons.push('backend wasm: requested');
  }
  if (!simd) throw new WebAccelError('unsupported', 'this environment has no WebAssembly SIMD (128-bit), which webaccel needs');
  reasons.push('wasm SIMD128: available');
  let relaxed = relaxedSimd;
  if (o.relaxedSimd === true && !relaxedSimd) {
    throw new WebAccelError('unsupported', 'relaxedSimd: true was requested, but this engine has no relaxed SIMD (the probe did not validate or compute)');
  } else if (o.relaxedSimd === false) {
    relaxed = false;
    reasons.push('relaxed SIMD: not used (relaxedSimd: false); SIMD128 module');
  } else {
    reasons.push(
      relaxedSimd
        ? 'relaxed SIMD: available; relaxed-SIMD module (8-bit dot products for q4_0)'
        : 'relaxed SIMD: unavailable (the probe did not validate or compute); SIMD128 module',
    );
  }

  const wanted = o.threads ?? Math.max(1, Math.min(hw, 8));
  if (!Number.isInteger(wanted) || wanted < 1 || wanted > 64) {
    throw new WebAccelError('invalid_argument', `threads must be an integer from 1 to 64 (got ${String(o.threads)})`);
  }
  const ml = o.memoryLimit;
  if (ml !== undefined && (typeof ml !== 'number' || !Number.isFinite(ml) || ml < 64 * 1024 ** 2)) {
    throw new WebAccelError('invalid_argument', `memoryLimit must be a number of bytes, at least 64 MiB (got ${String(ml)})`);
  }
  const threadsOk = shared && coi;
  // A page's main thread may not block (Atomics.wait throws there), and the
  // pthreads build blocks while its pool works: with worker: false, one thread.
  const onPage = !isNode && environment === 'browser-window' && o.worker === false;
  let threads = wanted;
  let mt = false;
  if (wanted > 1 && onPage) {
    threads = 1;
    reasons.push('threads: 1, single-threaded build: the page thread cannot block on worker threads (worker: false)');
  } else if (wanted > 1 && threadsOk) {
    mt = true;
    reasons.push(`threads: ${wanted} (${o.threads ? 'requested' : `hardware has ${hw}`}); pthreads build`);
  } else if (wanted > 1) {
    threads = 1;
    reasons.push(
      `threads: 1, single-threaded build: ${!sab ? 'no SharedArrayBuffer' : !coi ? 'the page is not cross-origin isolated (COOP/COEP headers)' : 'shared wasm memory unavailable'}`,
    );
  } else {
    reasons.push('threads: 1 (requested or one core); single-threaded build');
  }
  const build = `wasm-${relaxed ? 'relaxed' : 'simd128'}-${mt ? 'mt' : 'st'}` as Capabilities['profile']['build'];
  const inWorker = !isNode && environment === 'browser-window' && o.worker !== false;
  reasons.push(
    isNode ? 'runs on the calling thread (Node)' : inWorker ? 'runs in a Web Worker' : environment === 'browser-worker' ? 'runs in this worker' : 'runs on the page thread (worker: false)',
  );
  return {
    environment,
    wasm: { simd, relaxedSimd, threads: threadsOk, sharedArrayBuffer: sab, crossOriginIsolated: coi, hardwareConcurrency: hw },
    webgpu,
    profile: { backend, build, threads, isa: 'unknown', inWorker, reasons },
  };
}
