// Runs the WebGPU backend-ops cases of tests/webgpu/backend_ops.cpp on a
// GPUDevice: in Node on Dawn's `webgpu` package (js/test/webgpu_ops.test.mjs)
// and in a browser on navigator.gpu (tests/browser/webgpu_ops.test.mjs).
// The cases, the CPU references and the comparisons are C++ (the
// webaccel-gpu-ops wasm module in build/wasm-st/dist); this file only opens
// the device as the engine does (js/src/gpu/device.ts), executes each case's
// command stream with the product's driver (js/src/gpu/driver.ts), and
// collects the JSON verdicts.
import { DEVICE_CONFIG_BYTES, openDevice, writeDeviceConfig } from '../../js/dist/gpu/device.js';
import { GpuDriver } from '../../js/dist/gpu/driver.js';
import { loadFactory } from '../../js/dist/native.js';

const now = () => (typeof performance !== 'undefined' ? performance.now() : Date.now());

// gpu: navigator.gpu or Dawn's create([]). filter: a RegExp over case names.
// onCase(result) is called after each case. Returns { skipped } when there is
// no adapter, else { adapter, features, cases, results, ms }.
export async function runBackendOps(gpu, { filter, onCase } = {}) {
  const adapter = gpu && (await gpu.requestAdapter());
  if (!adapter) return { skipped: 'no WebGPU adapter' };
  const opened = await openDevice(gpu);
  const device = opened.device;
  const base = new URL('../../build/wasm-st/dist/', import.meta.url);
  const { factory, opts } = await loadFactory(base, 'webaccel-gpu-ops', 'createWebAccelGpuOpsModule');
  const m = await factory({ ...opts, print: () => {}, printErr: (s) => console.error(s) });
  const memory = () => m.HEAPU8.buffer; // re-read: memory may grow
  const t0 = now();
  const drivers = new Map(); // slot -> GpuDriver (each slot numbers its own buffers)
  const results = [];
  try {
    const cfg = m._malloc(DEVICE_CONFIG_BYTES);
    writeDeviceConfig(memory(), cfg, device, {
      lazyPipelines: false,
      wgslFeatures: opened.wgslFeatures,
      subgroupMinSize: opened.subgroupMinSize,
    });
    const n = m._wa_gpu_ops_init(cfg);
    m._free(cfg);
    if (n < 0) throw new Error(`wa_gpu_ops_init: ${m.UTF8ToString(m._wa_gpu_ops_error())}`);
    const cases = JSON.parse(m.UTF8ToString(m._wa_gpu_ops_cases_json()));
    const wordsPtr = m._malloc(4);
    for (let i = 0; i < n; ++i) {
      if (filter && !filter.test(cases[i].name)) continue;
      const c0 = now();
      const slot = m._wa_gpu_ops_prepare(i);
      let driver = drivers.get(slot);
      if (!driver) drivers.set(slot, (driver = new GpuDriver(device)));
      let gpuError = '';
      try {
        const count = m._wa_gpu_ops_stream(slot, wordsPtr);
        if (count) {
          const at = new Uint32Array(memory(), wordsPtr, 1)[0];
          await driver.execute(new Uint32Array(memory(), at, count).slice(), memory);
        }
      } catch (e) {
        gpuError = e instanceof Error ? e.message : String(e);
      } finally {
        m._wa_gpu_ops_stream_done(slot);
      }
      const r = JSON.parse(m.UTF8ToString(m._wa_gpu_ops_finish(i)));
      if (gpuError) {
        r.ok = false;
        r.error = r.error ? `${r.error}; ${gpuError}` : gpuError;
      }
      r.ms = Math.round(now() - c0);
      results.push(r);
      onCase?.(r);
    }
    m._free(wordsPtr);
    return { adapter: opened.adapterInfo, features: opened.features, cases: n, results, ms: Math.round(now() - t0) };
  } finally {
    for (const d of drivers.values()) d.destroy();
    device.destroy();
  }
}

// One line per case for test output: the worst check and its limit.
export function describeResult(r) {
  const checks = (r.checks ?? [])
    .map((c) => {
      if (c.parts !== undefined) return `${c.what}: ${c.parts} (at least ${c.min_parts})`;
      if (c.fused !== undefined) return `${c.what}: ${c.fused} (at least ${c.min_fused})`;
      let s = `${c.what}: nmse ${c.nmse} (limit ${c.limit}), vs cpu ${c.nmse_cpu} (limit ${c.limit_cpu})`;
      if (c.gpu !== undefined) s += `, gpu ${c.gpu} ref ${c.ref}`;
      if (c.nonfinite) s += `, ${c.nonfinite} non-finite`;
      if (c.first_diff && !c.ok) s += `, first diff at ${c.first_diff.index}: gpu ${c.first_diff.gpu} ref ${c.first_diff.ref}`;
      return s;
    })
    .join('; ');
  return `[${r.slot}] ${r.dispatches} dispatches, ${r.ms} ms${r.error ? `, error: ${r.error}` : ''}${checks ? ` | ${checks}` : ''}`;
}
