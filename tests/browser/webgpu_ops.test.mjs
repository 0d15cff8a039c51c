// The WebGPU backend ops (tests/webgpu/backend_ops.cpp) in headless Chromium
// on its SwiftShader WebGPU adapter: the same cases, harness and driver as
// js/test/webgpu_ops.test.mjs, on the browser's navigator.gpu instead of
// Dawn's Node package, with Chromium's default Dawn toggles.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { serve } from '../../scripts/serve.mjs';
import { describeResult } from '../webgpu/harness.mjs';
import { launchChromium, repo } from './chromium.mjs';

test('WebGPU backend ops vs the CPU reference (headless Chromium, SwiftShader)', { timeout: 1_200_000 }, async (t) => {
  const { server, url } = await serve({ root: repo, port: 0 });
  let browser;
  try {
    browser = await launchChromium({ webgpu: 'swiftshader' });
    const page = await browser.newPage(`${url}/tests/browser/`);
    const run = await page.evaluate(async (filter) => {
      const { runBackendOps } = await import('/tests/webgpu/harness.mjs');
      return runBackendOps(navigator.gpu, { filter: filter ? new RegExp(filter) : undefined });
    }, process.env.WA_GPU_OPS_FILTER ?? '');
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
