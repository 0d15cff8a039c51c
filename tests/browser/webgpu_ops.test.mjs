// The WebGPU backend ops (tests/webgpu/backend_ops.cpp) in headless Chromium
// on its SwiftShader WebGPU adapter: the same cases, harness and driver as
// js/test/webgpu_ops.test.mjs, on the browser's navigator.gpu instead of
// Dawn's Node package, with Chromium's default Dawn toggles.
//
// Chromium runs the cases of the float types and of the two int8-activation
// formats (f32, f16, q4_0, q4_K) and every type-independent op: that compiles
// every kernel file and fusion the backend has, while the per-type block
// decoders (one small WGSL file per type, the same code in both browsers'
// Tint) are covered by the Node run of all cases. Most of a case's time on
// SwiftShader is compiling its pipelines, so the full set here would double
// the suite's time for little. WA_GPU_OPS_FILTER (a regex) picks other cases;
// WA_GPU_OPS_ALL=1 runs all of them.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { serve } from '../../scripts/serve.mjs';
import { describeResult } from '../webgpu/harness.mjs';
import { launchChromium, repo } from './chromium.mjs';

const OTHER_TYPES = / (q8_0|q4_1|q5_0|q5_1|q2_K|q3_K|q5_K|q6_K|wa_vq2|wa_vq3)( |$)|no dot4I8Packed/;
const filter = process.env.WA_GPU_OPS_FILTER ?? (process.env.WA_GPU_OPS_ALL ? '' : `^(?!.*(${OTHER_TYPES.source}))`);

test('WebGPU backend ops vs the CPU reference (headless Chromium, SwiftShader)', { timeout: 1_200_000 }, async (t) => {
  const { server, url } = await serve({ root: repo, port: 0 });
  let browser;
  try {
    browser = await launchChromium({ webgpu: 'swiftshader' });
    const page = await browser.newPage(`${url}/tests/browser/`);
    const run = await page.evaluate(async (filter) => {
      const { runBackendOps } = await import('/tests/webgpu/harness.mjs');
      return runBackendOps(navigator.gpu, { filter: filter ? new RegExp(filter) : undefined });
    }, filter);
    if (run.skipped) {
      t.skip(`${run.skipped} in Chromium (navigator.gpu.requestAdapter() gave none)`);
      return;
    }
    const failed = run.results.filter((r) => !r.ok).length;
    t.diagnostic(`${run.results.length} of ${run.cases} cases on ${JSON.stringify(run.adapter)} in ${run.ms} ms, ${failed} failed`);
    for (const r of run.results) {
      await t.test(r.name, () => assert.ok(r.ok, `${describeResult(r)}\n${browser?.logs.slice(-10).join('\n')}`));
    }
    assert.ok(run.results.length > 0, 'no case ran');
  } catch (e) {
    e.message += `\n${browser?.logs.slice(-20).join('\n')}`;
    throw e;
  } finally {
    await browser?.close();
    server.close();
  }
});
