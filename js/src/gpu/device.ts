// Opens a GPUDevice for the engine: asks the adapter for the limits and
// features the kernels can use (never assumes them), applies a browser
// profile's mask when one is requested (to test what Chrome, Firefox or
// Safari expose on a machine that offers more), and describes the device
// to C++ as a wa_gpu_device_config.
import { WebAccelError } from '../errors.js';
import type { GpuAdapter, GpuDevice } from './webgpu.js';
import type { MatvecTuning } from '../types.js';

// What a browser exposes by default, for masking a richer adapter. Sources:
// the WebGPU specification's default limits (which Firefox and Safari
// expose unless more is requested, and cap at what the hardware has), and
// each browser's feature support as of late 2026: Chrome/Edge ship
// shader-f16 and subgroups; Firefox ships shader-f16 but not subgroups;
// Safari (WebKit) ships shader-f16, no subgroups, and caps storage
// bindings at 256 MiB on Apple GPUs. WGSL's packed_4x8_integer_dot_product
// (listed in Chrome's wgslLanguageFeatures since 123) is masked for Firefox
// and Safari: we have not confirmed that either lists it, so their profiles
// run the kernels' f32-activation paths.
export interface GpuMask {
  // Features to hide even when the adapter has them.
  disableFeatures?: string[];
  // Upper bounds for limits (bytes, counts).
  limits?: Record<string, number>;
}

export const BROWSER_PROFILES: Record<'chrome' | 'firefox' | 'safari', GpuMask> = {
  chrome: { disableFeatures: [], limits: {} },
  firefox: { disableFeatures: ['subgroups', 'packed_4x8_integer_dot_product'], limits: { maxStorageBufferBindingSize: 1 << 30, maxBufferSize: 1 << 30 } },
  safari: {
    disableFeatures: ['subgroups', 'packed_4x8_integer_dot_product'],
    limits: { maxStorageBufferBindingSize: 256 << 20, maxBufferSize: 1 << 30, maxComputeWorkgroupStorageSize: 32768 },
  },
};

// The limits the kernels care about, requested at the adapter's maximum.
const WANTED_LIMITS = [
  'maxBufferSize',
  'maxStorageBufferBindingSize',
  'maxComputeWorkgroupStorageSize',
  'maxComputeInvocationsPerWorkgroup',
  'maxComputeWorkgroupSizeX',
  'maxComputeWorkgroupsPerDimension',
  'maxStorageBuffersPerShaderStage',
] as const;

export interface OpenedDevice {
  device: GpuDevice;
  features: string[];
  // WGSL language features the kernels use (and the mask left visible).
  wgslFeatures: string[];
  limits: Record<string, number>;
  adapterInfo: Record<string, string>;
  // GPUAdapterInfo.subgroupMinSize (0 where the adapter does not say): the
  // smallest subgroup a kernel may get, which sizes workgroup memory.
  subgroupMinSize: number;
  reasons: string[];
}

// WGSL language features some kernels use where present (never required):
// dot4I8Packed for the decode matvecs' int8 activations.
export const WANTED_WGSL_FEATURES = ['packed_4x8_integer_dot_product'] as const;

export async function openDevice(
  gpu: { requestAdapter(o?: unknown): Promise<unknown>; wgslLanguageFeatures?: { has(f: string): boolean } },
  mask?: GpuMask,
): Promise<OpenedDevice> {
  const adapter = (await gpu.requestAdapter({ powerPreference: 'high-performance' })) as GpuAdapter | null;
  if (!adapter) throw new WebAccelError('unsupported', 'WebGPU: requestAdapter() returned no adapter');
  const reasons: string[] = [];
  const hidden = new Set(mask?.disableFeatures ?? []);
  const features: string[] = [];
  for (const f of ['shader-f16', 'subgroups', 'timestamp-query']) {
    if (!adapter.features.has(f)) continue;
    if (hidden.has(f)) {
      reasons.push(`${f}: hidden by the profile`);
      continue;
    }
    features.push(f);
  }
  const wgslFeatures: string[] = [];
  for (const f of WANTED_WGSL_FEATURES) {
    if (!gpu.wgslLanguageFeatures?.has(f)) continue;
    if (hidden.has(f)) {
      reasons.push(`wgsl ${f}: hidden by the profile`);
      continue;
    }
    wgslFeatures.push(f);
  }
  const limits: Record<string, number> = {};
  for (const k of WANTED_LIMITS) {
    const have = adapter.limits[k];
    if (typeof have !== 'number') continue;
    const cap = mask?.limits?.[k];
    limits[k] = cap !== undefined ? Math.min(have, cap) : have;
  }
  let device: GpuDevice;
  try {
    device = await adapter.requestDevice({ requiredFeatures: features, requiredLimits: limits });
  } catch (e) {
    throw new WebAccelError('unsupported', `WebGPU: requestDevice failed: ${e instanceof Error ? e.message : String(e)}`);
  }
  reasons.push(`features: ${features.length ? features.join(', ') : 'none of shader-f16, subgroups, timestamp-query'}`);
  reasons.push(`wgsl: ${wgslFeatures.length ? wgslFeatures.join(', ') : `no ${WANTED_WGSL_FEATURES.join(', ')}`}`);
  reasons.push(
    `limits: storage binding ${mb(device.limits.maxStorageBufferBindingSize)}, buffer ${mb(device.limits.maxBufferSize)}, ` +
      `workgroup storage ${device.limits.maxComputeWorkgroupStorageSize} B`,
  );
  const minSize = (adapter.info as Record<string, unknown> | undefined)?.subgroupMinSize;
  const subgroupMinSize = features.includes('subgroups') && typeof minSize === 'number' ? minSize : 0;
  return { device, features, wgslFeatures, limits: { ...limits }, adapterInfo: adapterInfo(adapter), subgroupMinSize, reasons };
}

// GPUAdapterInfo's fields are getters on its prototype (browsers) or carry
// extra members (Dawn): a spread copies nothing useful, so copy them by name.
function adapterInfo(adapter: GpuAdapter): Record<string, string> {
  const out: Record<string, string> = {};
  const info = adapter.info as Record<string, unknown> | undefined;
  for (const k of ['vendor', 'architecture', 'device', 'description']) {
    const v = info?.[k];
    if (typeof v === 'string' && v) out[k] = v;
  }
  return out;
}

function mb(v: number): string {
  return `${Math.round(v / (1 << 20))} MiB`;
}

export interface DeviceConfigOptions {
  lazyPipelines: boolean; // no precompilation at load (for measuring it)
  wgslFeatures: string[]; // OpenedDevice.wgslFeatures
  subgroupMinSize?: number; // OpenedDevice.subgroupMinSize
  matvecTuning?: MatvecTuning; // benchmarks: EngineOptions.matvecTuning
  l2Warm: boolean; // wa_gpu_device_config.l2_warm (l2WarmFor)
  fewTokenPrompt?: number; // benchmarks: EngineOptions.fewTokenPrompt
}

// Whether the decode attention should read the o projection's weights into
// the GPU's L2 cache while it runs, and the o projection the start of the
// gate and up matrices (wa_gpu_device_config.l2_warm), measured on an H100
// (50 MB of L2; 7B q4_0: 1.8% and 0.4% less GPU time per decode step).
// WebGPU does not say how large a cache is, and where it cannot hold the
// matrix until the next dispatch the reads only add traffic: NVIDIA
// adapters, except the generations whose L2 is at most 6 MB on the parts
// browsers run on (NVIDIA's whitepapers: Turing TU102 6 MB, Ampere GA102
// 6 MB; Ada's smallest, AD107, has 24 MB). Dawn under Node names no
// architecture for the H100 (""): unknown counts as large. The backend
// warms only matrices of at most 16 MiB (webgpu_backend.cpp).
const SMALL_L2_NVIDIA = new Set(['fermi', 'kepler', 'maxwell', 'pascal', 'volta', 'turing', 'ampere']);
export function l2WarmFor(adapterInfo: Record<string, string>): boolean {
  const arch = (adapterInfo.architecture ?? '').toLowerCase();
  return (adapterInfo.vendor ?? '').toLowerCase() === 'nvidia' && !SMALL_L2_NVIDIA.has(arch);
}

// sizeof(wa_gpu_device_config) (include/webaccel/webaccel.h).
export const DEVICE_CONFIG_BYTES = 72;

// wa_gpu_device_config, DEVICE_CONFIG_BYTES at ptr.
export function writeDeviceConfig(mem: ArrayBuffer, ptr: number, d: GpuDevice, o: DeviceConfigOptions): void {
  const f64 = new Float64Array(mem, ptr, 2);
  const u32 = new Uint32Array(mem, ptr + 16, 14);
  const l = d.limits;
  f64[0] = l.maxBufferSize;
  f64[1] = l.maxStorageBufferBindingSize;
  u32[0] = l.maxComputeWorkgroupStorageSize;
  u32[1] = l.maxComputeInvocationsPerWorkgroup;
  u32[2] = l.maxComputeWorkgroupsPerDimension;
  u32[3] = l.minStorageBufferOffsetAlignment;
  u32[4] = l.minUniformBufferOffsetAlignment;
  u32[5] = l.maxStorageBuffersPerShaderStage;
  u32[6] = d.features.has('shader-f16') ? 1 : 0;
  u32[7] = d.features.has('subgroups') ? 1 : 0;
  u32[8] = o.lazyPipelines ? 1 : 0;
  u32[9] = o.wgslFeatures.includes('packed_4x8_integer_dot_product') ? 1 : 0;
  u32[10] = o.subgroupMinSize ?? 0;
  const t = o.matvecTuning;
  u32[11] = t
    ? ((t.rows & 0xff) | ((t.blocksInFlight & 0xff) << 8) | (((t.groups ?? 0) & 0xff) << 16) |
        (((t.blocksPerUnit ?? 0) & 0xff) << 24)) >>> 0
    : 0;
  u32[12] = o.l2Warm ? 1 : 0;
  u32[13] = o.fewTokenPrompt ?? 0;
}
