// The WebGPU backend ops (tests/webgpu/backend_ops.cpp) in headless Chromium
// on its SwiftShader WebGPU adapter: the same cases, harness and driver as
// js/test/webgpu_ops.test.mjs, on the browser's navigator.gpu instead of
// Dawn's Node package. Chromium is Debian's (/usr/bin/chromium), driven by
// playwright-core; nothing is downloaded.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';

import { serve } from '../../scripts/serve.mjs';
import { describeResult } from '../webgpu/harness.mjs';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const { chromium } = createRequire(join(repo, 'js/package.json'))('playwright-core');

test('WebGPU backend ops vs the CPU reference (headless Chromium, SwiftShader)', { timeout: 300_000 }, async (t) => {
  const { server, url } = await serve({ root: repo, port: 0 });
  const profile = mkdtempSync(join(tmpdir(), 'wa-chromium-'));
  const logs = [];
  let browser;
  try {
    browser = await chromium.launchPersistentContext(profile, {
      executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
      headless: true,
      // WebGPU on Chromium's own SwiftShader (TOOLCHAIN.md); a fresh profile
      // and no background traffic.
      args: [
        '--headless=new', '--no-sandbox', '--enable-unsafe-webgpu', '--enable-unsafe-swiftshader',
        '--use-webgpu-adapter=swiftshader', '--no-first-run', '--disable-background-networking',
        '--disable-component-update', '--disable-sync', '--disable-quic',
      ],
    });
    const page = await browser.newPage();
    page.on('console', (m) => logs.push(`console.${m.type()}: ${m.text()}`));
    page.on('pageerror', (e) => logs.push(`pageerror: ${e.message}`));
    await page.goto(`${url}/tests/browser/`);
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
      await t.test(r.name, () => assert.ok(r.ok, `${describeResult(r)}\n${logs.slice(-10).join('\n')}`));
    }
    assert.ok(run.results.length > 0, 'no case ran');
  } catch (e) {
    e.message += `\n${logs.slice(-20).join('\n')}`;
    throw e;
  } finally {
    await browser?.close();
    server.close();
    rmSync(profile, { recursive: true, force: true });
  }
});
