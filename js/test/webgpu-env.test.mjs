// The WebGPU test environment itself: Dawn (npm `webgpu`) finds an adapter
// (SwiftShader on machines without a GPU) and runs a WGSL compute kernel
// correctly. Skips only when no adapter exists (see gpu-env.mjs for why).
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { getTestGpu, requestTestDevice } from './gpu-env.mjs';

// y[i] = a * x[i] + b, over a length that is no multiple of the workgroup size,
// so the bounds check matters; the buffers are larger than n, and the tail
// must stay untouched.
const SAXPY = `
struct Params { a: f32, b: f32, n: u32, pad: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = gid.x;
  if (i < p.n) { y[i] = p.a * x[i] + p.b; }
}`;

test('WebGPU via Dawn: y = a*x + b over 1000 elements', async (t) => {
  const { gpu, adapter, info, reason } = await getTestGpu();
  // `webgpu` is a devDependency: Dawn failing to load is a broken install, not a missing GPU.
  assert.ok(gpu, reason);
  if (!adapter) {
    t.skip(reason);
    return;
  }
  t.diagnostic(`adapter: ${info.vendor} ${info.architecture} (${info.description}); shader-f16=${info.shaderF16}`);
  const device = await requestTestDevice(adapter, { features: [] });
  const errors = [];
  device.addEventListener('uncapturederror', (e) => errors.push(e.error.message));
  try {
    const n = 1000, cap = 1024, a = 1.5, b = -0.25;
    const x = Float32Array.from({ length: cap }, (_, i) => (i * 37) % 101 - 50.5);
    const U = GPUBufferUsage;
    const params = device.createBuffer({ size: 16, usage: U.UNIFORM | U.COPY_DST });
    const pv = new DataView(new ArrayBuffer(16));
    pv.setFloat32(0, a, true);
    pv.setFloat32(4, b, true);
    pv.setUint32(8, n, true);
    device.queue.writeBuffer(params, 0, pv.buffer);
    const xb = device.createBuffer({ size: cap * 4, usage: U.STORAGE | U.COPY_DST });
    device.queue.writeBuffer(xb, 0, x);
    const yb = device.createBuffer({ size: cap * 4, usage: U.STORAGE | U.COPY_SRC | U.COPY_DST });
    device.queue.writeBuffer(yb, 0, new Float32Array(cap).fill(7));
    const rb = device.createBuffer({ size: cap * 4, usage: U.MAP_READ | U.COPY_DST });

    const pipeline = await device.createComputePipelineAsync({
      layout: 'auto', compute: { module: device.createShaderModule({ code: SAXPY }), entryPoint: 'main' },
    });
    const bind = device.createBindGroup({
      layout: pipeline.getBindGroupLayout(0),
      entries: [params, xb, yb].map((buffer, binding) => ({ binding, resource: { buffer } })),
    });
    const enc = device.createCommandEncoder();
    const pass = enc.beginComputePass();
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, bind);
    pass.dispatchWorkgroups(Math.ceil(n / 64));
    pass.end();
    enc.copyBufferToBuffer(yb, 0, rb, 0, cap * 4);
    device.queue.submit([enc.finish()]);
    await rb.mapAsync(GPUMapMode.READ);
    const y = new Float32Array(rb.getMappedRange().slice(0));
    rb.unmap();

    assert.deepEqual(errors, []);
    for (let i = 0; i < n; i++) {
      const want = Math.fround(Math.fround(a * x[i]) + b);
      // fma or not: within one rounding of the f32 result
      assert.ok(Math.abs(y[i] - want) <= 1e-6 * Math.max(1, Math.abs(want)), `y[${i}] = ${y[i]}, want ${want}`);
    }
    for (let i = n; i < cap; i++) assert.equal(y[i], 7, `y[${i}] past n was written`);
  } finally {
    device.destroy();
  }
});
