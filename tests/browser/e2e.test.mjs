// The package and the demo page in headless Chromium (make test-browser):
// stories260K greedy256 in the single-threaded and the pthreads build (the
// engine in its default Web Worker), then the demo page's UI generating from
// the bundled default model. Chromium is Debian's (/usr/bin/chromium), driven
// by playwright-core from js/node_modules; nothing is downloaded.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, truncateSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';

import { serve } from '../../scripts/serve.mjs';
import { launchChromium, repo } from './chromium.mjs';

const cli = process.env.WEBACCEL_CLI ?? join(repo, 'build/native/bin/webaccel');
const shared = process.env.WA_SHARED ?? resolve(repo, '../shared');
const stories = join(shared, 'models/stories260K');

const greedy = readFileSync(join(stories, 'greedy256.ids'), 'utf8').trim().split(/\s+/).map(Number);

describe('browser (headless Chromium)', () => {
  let tmp, server, url, browser;

  before(async () => {
    // The f32 conversion reproduces llama2.c's greedy256 exactly.
    tmp = mkdtempSync(join(tmpdir(), 'wa-browser-'));
    execFileSync(cli, ['convert', join(stories, 'stories260K.bin'), join(tmp, 'stories260K_f32.gguf'), '--type', 'f32'], { stdio: 'pipe' });
    execFileSync(cli, ['synth', '--arch', 'llama', '--preset', 'tiny', '--type', 'q8_0', join(tmp, 'tiny_q8_0.gguf')], { stdio: 'pipe' });
    execFileSync(cli, ['synth', '--arch', 'llama', '--preset', 'tiny', '--type', 'q4_0', join(tmp, 'tiny_q4_0.gguf')], { stdio: 'pipe' });
    // 200 MB that are mostly a hole in the file: more than a 128 MiB memoryLimit holds.
    copyFileSync(join(tmp, 'stories260K_f32.gguf'), join(tmp, 'padded.gguf'));
    truncateSync(join(tmp, 'padded.gguf'), 200e6);
    ({ server, url } = await serve({ root: repo, port: 0, mounts: { '/fixtures/': tmp } }));
    browser = await launchChromium();
  });

  after(async () => {
    await browser?.close();
    server?.close();
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  const newPage = (path) => browser.newPage(url + path);
  const diag = () => browser.logs.slice(-20).join('\n');

  for (const threads of [1, 2]) {
    test(`stories260K greedy256 in the ${threads > 1 ? 'pthreads' : 'single-threaded'} build (Web Worker)`, { timeout: 60_000 }, async () => {
      const page = await newPage('/tests/browser/');
      try {
        const r = await page.evaluate(async (threads) => {
          const { createEngine } = await import('/js/dist/index.js');
          const engine = await createEngine({ backend: 'wasm', threads });
          const progress = [];
          const model = await engine.load('/fixtures/stories260K_f32.gguf', { onProgress: (p) => progress.push(p) });
          const ids = [];
          for await (const t of model.generate('', { maxTokens: 256, temperature: 0 })) ids.push(t.id);
          const stats = await model.lastStats();
          await model.unload();
          const caps = engine.capabilities();
          await engine.dispose();
          return { ids, stats, caps, progress, coi: crossOriginIsolated };
        }, threads);
        assert.equal(r.coi, true, 'the page is cross-origin isolated');
        assert.equal(r.caps.environment, 'browser-window');
        assert.equal(r.caps.profile.inWorker, true);
        assert.equal(r.caps.profile.threads, threads);
        // Chromium has relaxed SIMD (since 114): the relaxed-SIMD module.
        assert.equal(r.caps.wasm.relaxedSimd, true);
        assert.equal(r.caps.profile.build, threads > 1 ? 'wasm-relaxed-mt' : 'wasm-relaxed-st');
        assert.equal(r.caps.profile.isa, 'wasm_relaxed');
        assert.ok(r.progress.length >= 2 && r.progress.at(-1).loaded === r.progress.at(-1).total, JSON.stringify(r.progress));
        assert.equal(r.stats.generatedTokens, 256);
        assert.deepEqual(r.ids, greedy);
        console.log(`# ${r.caps.profile.build} (${r.caps.profile.isa}): 256 tokens in ${r.stats.generateMs.toFixed(0)} ms`);
      } catch (e) {
        e.message += `\n${diag()}`;
        throw e;
      } finally {
        await page.close();
      }
    });
  }

  test('out of memory in the worker: refused by URL, a stopped module, then greedy256 on the same engine', { timeout: 60_000 }, async () => {
    const page = await newPage('/tests/browser/');
    try {
      const r = await page.evaluate(async () => {
        const { createEngine } = await import('/js/dist/index.js');
        const engine = await createEngine({ backend: 'wasm', threads: 2, memoryLimit: 128 * 1024 * 1024 });
        const err = async (p) => p.then(() => 'no error', (e) => `${e.name}/${e.code}: ${e.message}`);
        const refused = await err(engine.load('/fixtures/padded.gguf'));
        const tiny = await engine.load('/fixtures/tiny_q8_0.gguf');
        const stories = await engine.load('/fixtures/stories260K_f32.gguf');
        // The tokenizer's arrays for 60 MB of text exceed the limit inside C++.
        const stopped = await err(tiny.tokenize('ab '.repeat(20e6)));
        const lost = await err(stories.info());
        const again = await engine.load('/fixtures/stories260K_f32.gguf');
        const ids = [];
        for await (const t of again.generate('', { maxTokens: 256, temperature: 0 })) ids.push(t.id);
        const heap = (await engine.memory()).heap;
        await engine.dispose();
        return { refused, stopped, lost, ids, heap };
      });
      assert.match(r.refused, /^WebAccelError\/out_of_memory: .*do not fit the wasm memory/);
      assert.match(r.stopped, /^WebAccelError\/out_of_memory: out of wasm memory in wa_model_tokenize/);
      assert.match(r.lost, /^WebAccelError\/device_lost: /);
      assert.equal(r.heap.limit, 128 * 1024 * 1024);
      assert.deepEqual(r.ids, greedy);
    } catch (e) {
      e.message += `\n${diag()}`;
      throw e;
    } finally {
      await page.close();
    }
  });

  // The relaxed-SIMD module's q4_0 kernels (8-bit dot products) against the
  // SIMD128 module's, both builds, prompt and decode: the integer block sums
  // are exact in both, so the logits agree to float rounding of the
  // accumulation (the same op sequence: in practice bit for bit).
  test('relaxed-SIMD module vs SIMD128 module on q4_0 (relaxedSimd: false)', { timeout: 60_000 }, async () => {
    const page = await newPage('/tests/browser/');
    try {
      const r = await page.evaluate(async () => {
        const { createEngine } = await import('/js/dist/index.js');
        const out = [];
        for (const threads of [1, 2]) {
          const run = async (relaxedSimd) => {
            const engine = await createEngine({ backend: 'wasm', threads, relaxedSimd });
            const model = await engine.load('/fixtures/tiny_q4_0.gguf');
            const ids = [1, 50, 300, 7, 99, 1200, 4000, 17, 23, 5, 600];
            const batched = Array.from(await model.logits(ids));
            const single = Array.from(await model.logits(ids.slice(0, 1)));
            const gen = [];
            for await (const t of model.generate('', { maxTokens: 16, temperature: 0 })) gen.push(t.id);
            const caps = engine.capabilities();
            await engine.dispose();
            return { batched, single, gen, build: caps.profile.build, isa: caps.profile.isa, reasons: caps.profile.reasons };
          };
          out.push({ threads, relaxed: await run(undefined), base: await run(false) });
        }
        return out;
      });
      for (const { threads, relaxed, base } of r) {
        const mt = threads > 1 ? 'mt' : 'st';
        assert.equal(relaxed.build, `wasm-relaxed-${mt}`);
        assert.equal(relaxed.isa, 'wasm_relaxed');
        assert.equal(base.build, `wasm-simd128-${mt}`);
        assert.equal(base.isa, 'wasm_simd128');
        assert.ok(base.reasons.some((x) => /relaxedSimd: false/.test(x)), base.reasons.join('; '));
        for (const k of ['batched', 'single']) {
          let num = 0, den = 0;
          for (let i = 0; i < base[k].length; ++i) {
            num += (relaxed[k][i] - base[k][i]) ** 2;
            den += base[k][i] ** 2;
          }
          assert.ok(relaxed[k].every(Number.isFinite), `${k}: non-finite logits`);
          assert.ok(num / den < 1e-10, `${threads} thread(s) ${k}: nmse ${num / den}`);
        }
        assert.deepEqual(relaxed.gen, base.gen);
      }
    } catch (e) {
      e.message += `\n${diag()}`;
      throw e;
    } finally {
      await page.close();
    }
  });

  test('worker: false runs on the page thread, single-threaded even when threads are asked for', { timeout: 60_000 }, async () => {
    const page = await newPage('/tests/browser/');
    try {
      const r = await page.evaluate(async () => {
        const { createEngine } = await import('/js/dist/index.js');
        const engine = await createEngine({ backend: 'wasm', threads: 2, worker: false });
        const model = await engine.load('/fixtures/stories260K_f32.gguf');
        const ids = [];
        for await (const t of model.generate('', { maxTokens: 32, temperature: 0 })) ids.push(t.id);
        const caps = engine.capabilities();
        await engine.dispose();
        return { ids, caps };
      });
      assert.equal(r.caps.profile.inWorker, false);
      assert.equal(r.caps.profile.build, 'wasm-relaxed-st');
      assert.equal(r.caps.profile.threads, 1);
      assert.deepEqual(r.ids, greedy.slice(0, 32));
    } catch (e) {
      e.message += `\n${diag()}`;
      throw e;
    } finally {
      await page.close();
    }
  });

  test('demo page: load models/default.gguf by URL, stream a few tokens, load a local file', { timeout: 60_000 }, async () => {
    const page = await newPage('/web/');
    try {
      await page.waitForFunction(() => document.getElementById('caps').textContent.startsWith('{'), null, { timeout: 30_000 });
      const caps = JSON.parse(await page.textContent('#caps'));
      assert.equal(caps.wasm.crossOriginIsolated, true);
      assert.equal(caps.profile.inWorker, true);
      await page.fill('#max-tokens', '16');
      await page.click('#load-url');
      await page.waitForSelector('#generate:not([disabled])', { timeout: 30_000 });
      assert.match(await page.textContent('#model-info'), /default\.gguf: llama/);
      assert.equal(await page.$eval('#progress', (p) => p.value === p.max && p.max > 1e6), true);
      await page.click('#generate');
      await page.waitForSelector('#speed[data-done]', { timeout: 30_000 });
      const done = Number(await page.getAttribute('#speed', 'data-done'));
      const out = await page.textContent('#output');
      const speed = await page.textContent('#speed');
      assert.ok(done >= 1 && done <= 16, `${done} tokens`);
      assert.ok(out.length > 0, 'text was streamed');
      assert.match(speed, /tokens\/s/);
      console.log(`# demo: ${JSON.stringify(out)} | ${speed}`);
      // The file input: a local file (a Blob into the worker) replaces the model.
      await page.setInputFiles('#file', join(tmp, 'stories260K_f32.gguf'));
      await page.waitForFunction(() => document.getElementById('model-info').textContent.startsWith('stories260K_f32.gguf: llama'), null, { timeout: 30_000 });
      await page.waitForSelector('#generate:not([disabled])', { timeout: 30_000 });
    } catch (e) {
      e.message += `\n${diag()}\nstatus: ${await page.textContent('#status').catch(() => '?')}`;
      throw e;
    } finally {
      await page.close();
    }
  });
});
