// A whole model on WebGPU in headless Chromium: the Web Worker engine with
// backend 'webgpu' on Chromium's SwiftShader adapter (the worker opens its
// own navigator.gpu device) reproduces stories260K greedy256 exactly.
// Dawn's workgroup-memory zero-initialisation is off, as in the Node tests
// (js/test/gpu-env.mjs's NO_WORKGROUP_INIT_TOGGLE says why). One 256-token
// run: SwiftShader is slow (see the time it prints).
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { test } from 'node:test';

import { NO_WORKGROUP_INIT_TOGGLE } from '../../js/test/gpu-env.mjs';
import { serve } from '../../scripts/serve.mjs';
import { launchChromium, repo } from './chromium.mjs';

const cli = process.env.WEBACCEL_CLI ?? join(repo, 'build/native/bin/webaccel');
const shared = process.env.WA_SHARED ?? resolve(repo, '../shared');
const stories = join(shared, 'models/stories260K');
const greedy = readFileSync(join(stories, 'greedy256.ids'), 'utf8').trim().split(/\s+/).map(Number);

test('stories260K greedy256 on WebGPU in a Web Worker (headless Chromium, SwiftShader)', { timeout: 600_000 }, async (t) => {
  const tmp = mkdtempSync(join(tmpdir(), 'wa-browser-gpu-'));
  let server, browser;
  try {
    execFileSync(cli, ['convert', join(stories, 'stories260K.bin'), join(tmp, 'stories260K_f32.gguf'), '--type', 'f32'], { stdio: 'pipe' });
    let url;
    ({ server, url } = await serve({ root: repo, port: 0, mounts: { '/fixtures/': tmp } }));
    browser = await launchChromium({ webgpu: 'swiftshader', dawnFeatures: [NO_WORKGROUP_INIT_TOGGLE] });
    const page = await browser.newPage(`${url}/tests/browser/`);
    const r = await page.evaluate(async () => {
      if (!navigator.gpu || !(await navigator.gpu.requestAdapter())) return { skipped: 'no WebGPU adapter in Chromium' };
      const { createEngine } = await import('/js/dist/index.js');
      const events = [];
      const engine = await createEngine({ backend: 'webgpu', threads: 1, onBackendChange: (e) => events.push(e) });
      const model = await engine.load('/fixtures/stories260K_f32.gguf');
      const info = await model.info();
      const ids = [];
      for await (const tok of model.generate('', { maxTokens: 256, temperature: 0 })) ids.push(tok.id);
      const stats = await model.lastStats();
      const caps = engine.capabilities();
      await engine.dispose();
      return { ids, info, stats, caps, events };
    });
    if (r.skipped) return t.skip(r.skipped);
    assert.equal(r.caps.profile.inWorker, true);
    assert.equal(r.caps.profile.backend, 'webgpu');
    assert.equal(r.info.backend, 'webgpu', r.info.backend_reason);
    assert.deepEqual(r.events, []);
    assert.equal(r.stats.generatedTokens, 256);
    assert.deepEqual(r.ids, greedy);
    t.diagnostic(`WebGPU (worker, SwiftShader): 256 tokens in ${(r.stats.generateMs / 1000).toFixed(1)} s, prompt ${r.stats.promptMs.toFixed(0)} ms`);
  } catch (e) {
    e.message += `\n${browser?.logs.slice(-20).join('\n')}`;
    throw e;
  } finally {
    await browser?.close();
    server?.close();
    rmSync(tmp, { recursive: true, force: true });
  }
});
