// The JS driver's side of wa_gpu_device_config (include/webaccel/webaccel.h):
// the words writeDeviceConfig fills are where the C struct has its fields
// (c_api.cpp asserts the C offsets), and the per-adapter profile choices
// made for the struct.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { DEVICE_CONFIG_BYTES, l2WarmFor, writeDeviceConfig } from '../dist/gpu/device.js';

const device = {
  limits: {
    maxBufferSize: 2 ** 32, maxStorageBufferBindingSize: 2 ** 31, maxComputeWorkgroupStorageSize: 32768,
    maxComputeInvocationsPerWorkgroup: 1024, maxComputeWorkgroupsPerDimension: 65535,
    minStorageBufferOffsetAlignment: 256, minUniformBufferOffsetAlignment: 256, maxStorageBuffersPerShaderStage: 10,
  },
  features: new Set(['shader-f16']),
};

test('writeDeviceConfig: the struct size and the words of the last fields', () => {
  assert.equal(DEVICE_CONFIG_BYTES, 72);
  for (const l2Warm of [false, true]) {
    const mem = new ArrayBuffer(8 + DEVICE_CONFIG_BYTES);
    writeDeviceConfig(mem, 8, device, { lazyPipelines: false, wgslFeatures: ['packed_4x8_integer_dot_product'],
      subgroupMinSize: 32, matvecTuning: { rows: 2, blocksInFlight: 1 }, l2Warm, fewTokenPrompt: l2Warm ? 64 : undefined });
    const f64 = new Float64Array(mem, 8, 2);
    const u32 = new Uint32Array(mem, 8 + 16, 14);
    assert.deepEqual([f64[0], f64[1]], [2 ** 32, 2 ** 31]);
    assert.equal(u32[5], 10); // max_storage_buffers, offset 36
    assert.equal(u32[6], 1); // shader_f16, offset 40
    assert.equal(u32[9], 1); // packed_dot, offset 52
    assert.equal(u32[10], 32); // subgroup_min_size, offset 56
    assert.equal(u32[11], 2 | (1 << 8)); // matvec_tuning, offset 60
    assert.equal(u32[12], l2Warm ? 1 : 0); // l2_warm, offset 64
    assert.equal(u32[13], l2Warm ? 64 : 0); // few_token_prompt, offset 68 (0: the backend's choice)
  }
});

test('l2WarmFor: NVIDIA adapters with large L2 caches only', () => {
  assert.equal(l2WarmFor({ vendor: 'nvidia', architecture: 'hopper' }), true);
  assert.equal(l2WarmFor({ vendor: 'nvidia', architecture: 'lovelace' }), true);
  assert.equal(l2WarmFor({ vendor: 'NVIDIA' }), true); // Dawn under Node on the H100: no architecture
  for (const architecture of ['ampere', 'turing', 'pascal']) assert.equal(l2WarmFor({ vendor: 'nvidia', architecture }), false);
  for (const vendor of ['google', 'apple', 'intel', 'amd', 'qualcomm', '']) assert.equal(l2WarmFor({ vendor }), false);
  assert.equal(l2WarmFor({}), false);
});
