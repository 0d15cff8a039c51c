// The WebGPU backend ops (tests/webgpu/backend_ops.cpp: every kernel, every
// weight type, odd shapes, split weights) against the CPU reference, on
// Dawn's `webgpu` package in Node. `make test-js` points Vulkan at
// SwiftShader (VK_ICD_FILENAMES), so this runs without a GPU; it skips only
// when Dawn finds no adapter at all. The same cases run in headless Chromium
// (tests/browser/webgpu_ops.test.mjs).
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { describeResult, runBackendOps } from '../../tests/webgpu/harness.mjs';

// One test runs every case: SwiftShader executes the kernels on the CPU, and
// the list (over 180 cases) took over 10 minutes on a shared 2-core machine
// (load 7) on 2026-11-27: hence a 20-minute limit.
test('WebGPU backend ops vs the CPU reference (Dawn)', { timeout: 1_200_000 }, async (t) => {
  let webgpu;
  try {
    webgpu = await import('webgpu');
  } catch (e) {
    assert.fail(`the 'webgpu' package (Dawn for Node) is missing: run npm ci in js/ (${e.message})`);
  }
  // Dawn's promises do not keep Node's event loop alive by themselves.
  const keepAlive = setInterval(() => {}, 1000);
  let run;
  try {
    const filter = process.env.WA_GPU_OPS_FILTER ? new RegExp(process.env.WA_GPU_OPS_FILTER) : undefined;
    run = await runBackendOps(webgpu.create([]), { filter });
  } finally {
    clearInterval(keepAlive);
  }
  if (run.skipped) {
    t.skip(`${run.skipped} (VK_ICD_FILENAMES=${process.env.VK_ICD_FILENAMES ?? 'unset'})`);
    return;
  }
  const failed = run.results.filter((r) => !r.ok).length;
  t.diagnostic(`${run.results.length} of ${run.cases} cases on ${JSON.stringify(run.adapter)} in ${run.ms} ms, ${failed} failed`);
  for (const r of run.results) {
    await t.test(r.name, () => assert.ok(r.ok, describeResult(r)));
  }
  assert.ok(run.results.length > 0, 'no case ran');
});
