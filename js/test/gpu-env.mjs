// WebGPU for tests and benchmarks under Node: Dawn from npm `webgpu@0.6.2`.
//
// Here (no GPU) Dawn runs on SwiftShader, the CPU Vulkan driver that Debian's
// `chromium` package ships; on the GPU machine it runs on the NVIDIA Vulkan
// driver. Nothing here is product code: the product's WebGPU driver lives in
// js/src and takes a `navigator.gpu`-like object from its caller.
//
//   import { getTestGpu } from './gpu-env.mjs';
//   const { gpu, adapter, info, reason } = await getTestGpu();
//   if (!adapter) t.skip(reason);
//
// Run it as a program to print what the adapter offers and which WebGPU calls
// work (JSON): `node js/test/gpu-env.mjs [--dawn-flag FLAG]... [--no-checks]`.
//
// Which Vulkan driver Dawn sees (checked with webgpu@0.6.2 and Debian's
// libvulkan1 1.3.239, see docs/WEBGPU_ENV.md):
// - The Vulkan loader reads VK_ICD_FILENAMES / VK_DRIVER_FILES each time a
//   Vulkan instance is made, and Dawn makes it lazily, in the first
//   `requestAdapter()` of a `create()`d GPU object. So the variable can be set
//   in-process (process.env), before that first requestAdapter(); set later, it
//   takes effect only for a GPU object from a new `create()`. It need not be set
//   before Node starts. getTestGpu() sets it to SwiftShader when neither
//   variable is set and SwiftShader's ICD file exists.
// - LD_LIBRARY_PATH is different: glibc reads it once at process start, so a
//   libvulkan.so.1 outside the linker's search path must be made visible before
//   Node starts (install libvulkan1, or `ldconfig` after unpacking it).
// - Without VK_ICD_FILENAMES, Debian's lavapipe (mesa 22.3) is found and Dawn
//   rejects it ("Vulkan shaderUniform*ArrayDynamicIndexing required").

import { existsSync } from 'node:fs';
import { pathToFileURL } from 'node:url';

/** Places of SwiftShader's Vulkan ICD manifest, first found wins. */
export const SWIFTSHADER_ICDS = [
  '/usr/lib/chromium/vk_swiftshader_icd.json', // Debian's chromium
  '/usr/lib64/chromium-browser/vk_swiftshader_icd.json',
  '/opt/google/chrome/vk_swiftshader_icd.json',
];

/**
 * Dawn toggle that skips the zero-initialisation of workgroup memory Dawn
 * adds to every compute shader. On SwiftShader it dominates whole-model runs:
 * a decode matvec with 16 KiB of workgroup memory took 75 ms with it and
 * 6 ms without (stories260K: 2.8 s per token vs 0.27 s; pipeline creation
 * 7.9 s vs 0.4 s). Our kernels write workgroup memory before reading it, so
 * the result is the same, and a kernel that did read it uninitialised would
 * see garbage instead of zeros: more likely to fail a test, not less. The
 * backend-ops cases in headless Chromium keep Dawn's default (Chromium has no
 * such switch), so that configuration runs too.
 */
export const NO_WORKGROUP_INIT_TOGGLE = 'disable_workgroup_init';
/** The same as a flag of Dawn's Node `create()`. */
export const DAWN_NO_WORKGROUP_INIT = `enable-dawn-features=${NO_WORKGROUP_INIT_TOGGLE}`;

/** Dawn toggle that exposes shader-f16 on NVIDIA + Vulkan (hidden by default). */
export const DAWN_F16_ON_NVIDIA = 'enable-dawn-features=vulkan_enable_f16_on_nvidia';

/**
 * Points the Vulkan loader at SwiftShader unless a driver was chosen already.
 * Must run before the first requestAdapter() of a create()d GPU object.
 * @returns {{ icd: string|null, source: string }}
 */
export function configureVulkanDriver(env = process.env) {
  if (env.VK_DRIVER_FILES) return { icd: env.VK_DRIVER_FILES, source: 'VK_DRIVER_FILES' };
  if (env.VK_ICD_FILENAMES) return { icd: env.VK_ICD_FILENAMES, source: 'VK_ICD_FILENAMES' };
  const icd = SWIFTSHADER_ICDS.find((p) => existsSync(p));
  if (!icd) return { icd: null, source: 'loader default (no SwiftShader ICD found)' };
  env.VK_ICD_FILENAMES = icd;
  // mesa's device-select layer (installed with mesa-vulkan-drivers) prints
  // "XDG_RUNTIME_DIR is invalid" on headless machines; it selects nothing here.
  env.NODEVICE_SELECT ??= '1';
  return { icd, source: 'SwiftShader (set in-process by gpu-env.mjs)' };
}

/**
 * Loads Dawn's Node module: `webgpuModule` (a path or URL of the package's
 * index.js), else $WEBGPU_MODULE, else the `webgpu` package beside js/.
 * @returns {Promise<{ create: Function, globals: object }>}
 */
export async function loadDawn(webgpuModule = process.env.WEBGPU_MODULE) {
  if (!webgpuModule) return await import('webgpu');
  const url = /^[a-z]+:/.test(webgpuModule) ? webgpuModule : pathToFileURL(webgpuModule).href;
  return await import(url);
}

// One GPU object per set of Dawn flags: Dawn instances are not free to make,
// and a test file asking twice should get the same adapter.
const cache = new Map();

/**
 * The WebGPU adapter for tests: Dawn on SwiftShader here, Dawn on the real
 * driver on the GPU machine.
 *
 * Always resolves to an object. When no adapter exists, `adapter` (and `gpu`
 * where Dawn itself failed to load) is null and `reason` says why; tests then
 * skip with that reason. Dawn's constants (GPUBufferUsage, GPUMapMode, ...) are
 * installed as globals where missing.
 *
 * @param {{ dawnFlags?: string[], webgpuModule?: string, powerPreference?: string }} [opts]
 * @returns {Promise<{ gpu: object|null, adapter: object|null, info: object|null, reason?: string }>}
 */
export async function getTestGpu({ dawnFlags = [], webgpuModule, powerPreference = 'high-performance' } = {}) {
  const key = JSON.stringify([dawnFlags, webgpuModule ?? process.env.WEBGPU_MODULE ?? null, powerPreference]);
  if (!cache.has(key)) cache.set(key, openGpu({ dawnFlags, webgpuModule, powerPreference }));
  return await cache.get(key);
}

async function openGpu({ dawnFlags, webgpuModule, powerPreference }) {
  const driver = configureVulkanDriver();
  let dawn;
  try {
    dawn = await loadDawn(webgpuModule);
  } catch (e) {
    return { gpu: null, adapter: null, info: null, reason: `Dawn (npm webgpu) did not load: ${e.message}` };
  }
  for (const [k, v] of Object.entries(dawn.globals)) if (!(k in globalThis)) globalThis[k] = v;
  let gpu, adapter;
  try {
    gpu = dawn.create(dawnFlags);
    adapter = await gpu.requestAdapter({ powerPreference });
  } catch (e) {
    return { gpu: gpu ?? null, adapter: null, info: null, reason: `requestAdapter failed: ${e.message}` };
  }
  if (!adapter) {
    return {
      gpu, adapter: null, info: null,
      reason: `no WebGPU adapter from Dawn (Vulkan driver: ${driver.icd ?? 'none'}, ${driver.source}; ` +
        'is libvulkan1 installed and an ICD visible?)',
    };
  }
  return { gpu, adapter, info: adapterInfo(adapter, { dawnFlags, driver }) };
}

/** A plain-object summary of an adapter: identity, features, limits. */
export function adapterInfo(adapter, { dawnFlags = [], driver = null } = {}) {
  const i = adapter.info ?? {};
  const limits = {};
  for (const k in adapter.limits) limits[k] = adapter.limits[k];
  const features = [...adapter.features].sort();
  return {
    vendor: i.vendor, architecture: i.architecture, device: i.device, description: i.description,
    subgroupMinSize: i.subgroupMinSize, subgroupMaxSize: i.subgroupMaxSize,
    isFallbackAdapter: i.isFallbackAdapter,
    swiftshader: /swiftshader/i.test(`${i.vendor} ${i.architecture} ${i.description}`),
    shaderF16: features.includes('shader-f16'),
    features, limits, dawnFlags,
    vulkanDriver: driver?.icd ?? null, vulkanDriverSource: driver?.source ?? null,
  };
}

/**
 * A device with the optional features the benchmarks use (where the adapter
 * has them) and the adapter's own buffer-size limits (the defaults are 256 MiB
 * and 128 MiB; never assume more than the adapter states).
 */
export async function requestTestDevice(adapter, {
  features = ['timestamp-query', 'subgroups', 'shader-f16'],
  limits = ['maxBufferSize', 'maxStorageBufferBindingSize', 'maxComputeWorkgroupStorageSize',
    'maxComputeInvocationsPerWorkgroup', 'maxComputeWorkgroupSizeX', 'maxStorageBuffersPerShaderStage'],
} = {}) {
  const requiredFeatures = features.filter((f) => adapter.features.has(f));
  const requiredLimits = {};
  for (const k of limits) if (adapter.limits[k] !== undefined) requiredLimits[k] = adapter.limits[k];
  const device = await adapter.requestDevice({ requiredFeatures, requiredLimits });
  return device;
}

// --- capability checks (the program mode) -----------------------------------

async function withTimeout(p, ms, what) {
  let timer;
  const t = new Promise((_, rej) => { timer = setTimeout(() => rej(new Error(`${what}: no answer in ${ms} ms`)), ms); });
  try { return await Promise.race([p, t]); } finally { clearTimeout(timer); }
}

async function check(name, fn, out) {
  const t0 = performance.now();
  try {
    const r = await withTimeout(Promise.resolve().then(fn), 20000, name);
    out[name] = { ok: true, ms: +(performance.now() - t0).toFixed(2), ...(r ?? {}) };
  } catch (e) {
    out[name] = { ok: false, ms: +(performance.now() - t0).toFixed(2), error: String(e?.message ?? e).split('\n')[0] };
  }
}

/**
 * Tries the WebGPU calls the backend depends on, on a fresh device, and
 * returns what worked: createComputePipelineAsync, mapAsync, subgroups,
 * timestamp queries, large buffers, device.destroy() -> device.lost.
 */
export async function checkCapabilities(adapter) {
  const out = {};
  const device = await requestTestDevice(adapter);
  const errors = [];
  device.addEventListener?.('uncapturederror', (e) => errors.push(e.error?.message));
  out.deviceFeatures = [...device.features].sort();
  const U = GPUBufferUsage;
  const readback = async (src, size) => {
    const rb = device.createBuffer({ size, usage: U.MAP_READ | U.COPY_DST });
    const enc = device.createCommandEncoder();
    enc.copyBufferToBuffer(src, 0, rb, 0, size);
    device.queue.submit([enc.finish()]);
    await rb.mapAsync(GPUMapMode.READ);
    const copy = rb.getMappedRange().slice(0);
    rb.unmap();
    rb.destroy();
    return copy;
  };
  const run1 = async (code, entries, { timestamps = null } = {}) => {
    const pipeline = await device.createComputePipelineAsync({
      layout: 'auto', compute: { module: device.createShaderModule({ code }), entryPoint: 'main' },
    });
    const enc = device.createCommandEncoder();
    const pass = enc.beginComputePass(timestamps ? { timestampWrites: timestamps } : {});
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, device.createBindGroup({
      layout: pipeline.getBindGroupLayout(0),
      entries: entries.map((buffer, binding) => ({ binding, resource: { buffer } })),
    }));
    pass.dispatchWorkgroups(1);
    pass.end();
    device.queue.submit([enc.finish()]);
  };

  await check('createComputePipelineAsync', async () => {
    await device.createComputePipelineAsync({
      layout: 'auto',
      compute: { module: device.createShaderModule({ code: '@compute @workgroup_size(1) fn main() {}' }), entryPoint: 'main' },
    });
  }, out);

  await check('mapAsync', async () => {
    const b = device.createBuffer({ size: 16, usage: U.MAP_WRITE | U.COPY_SRC, mappedAtCreation: true });
    new Uint32Array(b.getMappedRange()).set([1, 2, 3, 4]);
    b.unmap();
    const back = new Uint32Array(await readback(b, 16));
    if (back.join() !== '1,2,3,4') throw new Error(`read back ${back.join()}`);
  }, out);

  await check('onSubmittedWorkDone', async () => {
    device.queue.submit([]);
    await device.queue.onSubmittedWorkDone();
  }, out);

  await check('subgroups', async () => {
    if (!device.features.has('subgroups')) throw new Error('feature not offered');
    const o = device.createBuffer({ size: 16, usage: U.STORAGE | U.COPY_SRC });
    await run1(`enable subgroups;
@group(0) @binding(0) var<storage, read_write> o: array<u32>;
@compute @workgroup_size(64) fn main(@builtin(local_invocation_index) i: u32, @builtin(subgroup_size) s: u32) {
  let n = subgroupAdd(1u);
  if (i == 0u) { o[0] = n; o[1] = s; }
}`, [o]);
    const [sum, size] = new Uint32Array(await readback(o, 16));
    if (sum !== size) throw new Error(`subgroupAdd(1) = ${sum}, subgroup_size = ${size}`);
    return { subgroupSize: size };
  }, out);

  await check('timestamp-query', async () => {
    if (!device.features.has('timestamp-query')) throw new Error('feature not offered');
    const querySet = device.createQuerySet({ type: 'timestamp', count: 2 });
    const resolve = device.createBuffer({ size: 16, usage: U.QUERY_RESOLVE | U.COPY_SRC });
    const o = device.createBuffer({ size: 16, usage: U.STORAGE });
    await run1(`@group(0) @binding(0) var<storage, read_write> o: array<u32>;
@compute @workgroup_size(1) fn main() { o[0] = 1u; }`, [o],
    { timestamps: { querySet, beginningOfPassWriteIndex: 0, endOfPassWriteIndex: 1 } });
    const enc = device.createCommandEncoder();
    enc.resolveQuerySet(querySet, 0, 2, resolve, 0);
    device.queue.submit([enc.finish()]);
    const [t0, t1] = new BigUint64Array(await readback(resolve, 16));
    // Dawn quantizes timestamps unless `disable-dawn-features=timestamp_quantization`
    // (2^16 ns steps seen on SwiftShader): a short pass may read t1 == t0.
    if (t0 === 0n || t1 < t0) throw new Error(`timestamps not written or decreasing: ${t0} ${t1}`);
    return { passNs: Number(t1 - t0) };
  }, out);

  await check('shader-f16', async () => {
    if (!device.features.has('shader-f16')) throw new Error('feature not offered');
    const o = device.createBuffer({ size: 16, usage: U.STORAGE | U.COPY_SRC });
    await run1(`enable f16;
@group(0) @binding(0) var<storage, read_write> o: array<f32>;
@compute @workgroup_size(1) fn main() { let h = f16(1.5) * f16(2.0); o[0] = f32(h); }`, [o]);
    const [v] = new Float32Array(await readback(o, 16));
    if (v !== 3) throw new Error(`1.5h*2h = ${v}`);
  }, out);

  // The largest storage buffer the device really allocates (the limit is a
  // promise about validation, not about memory).
  await check('largeBuffers', async () => {
    const res = {};
    const max = Math.min(device.limits.maxBufferSize, device.limits.maxStorageBufferBindingSize);
    let last = 0;
    for (const mib of [256, 512, 1024, 2048]) {
      const size = Math.min(mib * 1048576, Math.floor(max / 16) * 16);
      if (size <= last) break;
      last = size;
      device.pushErrorScope('out-of-memory');
      device.pushErrorScope('validation');
      let b = null;
      try { b = device.createBuffer({ size, usage: U.STORAGE }); } catch (e) { res[`${mib}MiB`] = String(e.message).split('\n')[0]; }
      const v = await device.popErrorScope();
      const o = await device.popErrorScope();
      res[size === mib * 1048576 ? `${mib}MiB` : `${size}B`] =
        v ? `validation: ${v.message.split('\n')[0]}` : o ? `out-of-memory: ${o.message.split('\n')[0]}` : 'ok';
      b?.destroy();
    }
    return { sizes: res };
  }, out);

  await check('destroy+lost', async () => {
    const lost = device.lost;
    device.destroy();
    const info = await withTimeout(lost, 5000, 'device.lost');
    return { reason: info.reason, message: info.message };
  }, out);
  out.uncapturedErrors = errors;
  return out;
}

async function main(argv) {
  const dawnFlags = [];
  let checks = true;
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--dawn-flag') dawnFlags.push(argv[++i]);
    else if (argv[i] === '--no-checks') checks = false;
    else throw new Error(`unknown argument ${argv[i]} (use --dawn-flag FLAG, --no-checks)`);
  }
  const t0 = performance.now();
  const { adapter, info, reason } = await getTestGpu({ dawnFlags });
  const report = { node: process.version, platform: `${process.platform}-${process.arch}`, adapterMs: +(performance.now() - t0).toFixed(1) };
  if (!adapter) {
    report.reason = reason;
  } else {
    report.adapter = info;
    if (checks) report.checks = await checkCapabilities(adapter);
  }
  process.stdout.write(JSON.stringify(report, null, 2) + '\n');
  return adapter ? 0 : 1;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  main(process.argv.slice(2)).then((rc) => process.exit(rc), (e) => { console.error(e); process.exit(2); });
}
