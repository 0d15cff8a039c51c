// The WebGPU backend ops (tests/webgpu/backend_ops.cpp: every kernel, every
// weight type, odd shapes, split weights) against the CPU reference, on
// Dawn's `webgpu` package in Node. `make test-js` points Vulkan at
// SwiftShader (VK_ICD_FILENAMES), so this runs without a GPU; it skips only
// when Dawn finds no adapter at all. The same cases run in headless Chromium
// (tests/browser/webgpu_ops.test.mjs).
//
// Dawn here skips the zero-initialisation of workgroup memory
// (gpu-env.mjs's DAWN_NO_WORKGROUP_INIT): on SwiftShader that code is most of
// a kernel's compile time (a decode matvec with 26 KiB of workgroup memory:
// 8.9 s with it, 0.9 s without; all 211 cases 410 s vs 47 s on this 2-core
// machine, 2026-11-27). Our kernels write workgroup memory before reading it;
// one that read it uninitialised would see garbage, not zeros, and fail
// here. Chromium's run keeps Dawn's default (it has no such switch), so that
// configuration is tested too, with every kernel file and fusion.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { describeResult, runBackendOps } from '../../tests/webgpu/harness.mjs';
import { DAWN_NO_WORKGROUP_INIT, getTestGpu } from './gpu-env.mjs';

test('WebGPU backend ops vs the CPU reference (Dawn)', { timeout: 600_000 }, async (t) => {
  const env = await getTestGpu({ dawnFlags: [DAWN_NO_WORKGROUP_INIT] });
  assert.ok(env.gpu, `${env.reason}: run npm ci in js/`); // Dawn failing to load is a broken install
  // Dawn's promises do not keep Node's event loop alive by themselves.
  const keepAlive = setInterval(() => {}, 1000);
  let run;
  try {
    const filter = process.env.WA_GPU_OPS_FILTER ? new RegExp(process.env.WA_GPU_OPS_FILTER) : undefined;
    run = await runBackendOps(env.gpu, { filter });
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
