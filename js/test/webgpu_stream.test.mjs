// WebGPU engine loads: weights go from the source straight to GPU buffers
// (header-first load, upload_from_source), never all in wasm memory. Dawn on
// SwiftShader here (make test-js sets VK_ICD_FILENAMES); skips only without
// an adapter.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, openAsBlob, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';

import { createEngine } from '../dist/index.js';
import {
  collect,
  greedyIds,
  hotRowsGguf,
  maxAbsDiff,
  rejectsWith,
  repo,
  storiesGguf,
  tinyF16Gguf,
  tinyGguf,
  tinyQ4Gguf,
} from './fixtures.mjs';
import { DAWN_NO_WORKGROUP_INIT, getTestGpu } from './gpu-env.mjs';

const ref = greedyIds();
// Without Dawn's workgroup zero-init: SwiftShader is 10x faster (gpu-env.mjs says why).
const { gpu, adapter, reason } = await getTestGpu({ dawnFlags: [DAWN_NO_WORKGROUP_INIT] });

function argmaxRows(logits, width) {
  const out = [];
  for (let r = 0; r < logits.length / width; ++r) {
    let best = 0;
    for (let i = 1; i < width; ++i) if (logits[r * width + i] > logits[r * width + best]) best = i;
    out.push(best);
  }
  return out;
}

// A ReadableStream over bytes in small chunks, of unannounced length.
function streamOf(bytes, chunk = 65536) {
  let sent = 0;
  return new ReadableStream({
    pull(c) {
      if (sent >= bytes.length) return c.close();
      c.enqueue(bytes.slice(sent, sent + chunk));
      sent += chunk;
    },
  });
}

describe('WebGPU engine: weights streamed to the GPU', { skip: adapter ? false : reason }, () => {
  let engine;
  let keepAlive;
  before(async () => {
    keepAlive = setInterval(() => {}, 1000); // Dawn's promises do not hold the event loop
    engine = await createEngine({ backend: 'webgpu', gpu, threads: 1 });
  });
  after(async () => {
    await engine?.dispose();
    clearInterval(keepAlive);
  });

  // GPU buffers the driver holds once every model is gone (uniform and input
  // buffers stay for the engine's life).
  async function idleBuffers() {
    await engine.flushGpu();
    return engine.gpu.buffers.size;
  }

  test('stories260K greedy256 decisions from a path, a Blob, an ArrayBuffer and a ReadableStream', { timeout: 600_000 }, async () => {
    const path = storiesGguf();
    const bytes = readFileSync(path);
    const ab = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);
    for (const [name, src] of [
      ['path', path],
      ['Blob', await openAsBlob(path)],
      ['ArrayBuffer', ab],
      ['ReadableStream', streamOf(bytes)],
    ]) {
      const events = [];
      const model = await engine.load(src, { onProgress: (p) => events.push(p) });
      const info = await model.info();
      assert.equal(info.backend, 'webgpu', `${name}: ${info.backend_reason}`);
      assert.equal(info.streamed, true, name);
      const up = events.filter((e) => e.phase === 'upload');
      assert.ok(up.length >= 3, `${name}: ${up.length} upload events`);
      for (let i = 1; i < up.length; ++i) assert.ok(up[i].loaded >= up[i - 1].loaded, name);
      assert.equal(up[up.length - 1].loaded, bytes.length, name);
      assert.equal(up[up.length - 1].total, bytes.length, name);
      // The decisions of greedy256 in one teacher-forced pass: position i's
      // argmax must be ref[i] (webgpu_model.test.mjs decodes the 256 tokens
      // one at a time from a streamed load: the default).
      const logits = await model.logits([1, ...ref.slice(0, 255)]);
      assert.deepEqual(argmaxRows(logits, 512), ref, name);
      await model.unload();
    }
  });

  test('a file far larger than anything put in wasm memory for it loads by streaming', async () => {
    const path = tinyF16Gguf();
    const size = statSync(path).size;
    const n = engine.native;
    const alloc = n.alloc;
    let largest = 0;
    n.alloc = (b) => {
      largest = Math.max(largest, b);
      return alloc.call(n, b);
    };
    let model;
    try {
      model = await engine.load(path);
    } finally {
      n.alloc = alloc;
    }
    // The header read (1 MiB at most for this file) is all that went into wasm memory.
    assert.ok(largest <= 1 << 20 && largest * 8 < size, `largest wasm allocation ${largest} for a ${size}-byte file`);
    const info = await model.info();
    assert.equal(info.streamed, true);
    assert.equal(info.backend, 'webgpu');
    assert.equal((await collect(model.generate('hello', { maxTokens: 4, temperature: 0, ignoreEos: true }))).length, 4);
    await model.unload();
  });

  test('q8_0, q4_0 and f16 logits equal those of an in-memory upload', async () => {
    for (const path of [tinyGguf(), tinyQ4Gguf(), tinyF16Gguf()]) {
      const streamed = await engine.load(path);
      const ids = await streamed.tokenize('Once upon a time there was a little robot');
      const a = await streamed.logits(ids);
      assert.equal((await streamed.info()).streamed, true);
      await streamed.unload();
      const copied = await engine.load(path, { streamWeights: false });
      const info = await copied.info();
      assert.equal(info.streamed, false);
      assert.equal(info.backend, 'webgpu');
      const b = await copied.logits(ids);
      await copied.unload();
      assert.ok(maxAbsDiff(a, b) <= 1e-4, `${path}: max diff ${maxAbsDiff(a, b)}`);
    }
  });

  test('an aborted upload ends with cancelled, frees its GPU buffers, and the engine stays usable', async () => {
    const path = tinyGguf();
    const warm = await engine.load(path);
    await warm.unload();
    const base = await idleBuffers();
    for (const src of [path, streamOf(readFileSync(path))]) {
      const ac = new AbortController();
      let aborted = 0;
      await rejectsWith(
        engine.load(src, {
          signal: ac.signal,
          onProgress: (p) => {
            if (p.phase === 'upload' && p.loaded > 0 && !aborted) {
              aborted = p.loaded;
              ac.abort();
            }
          },
        }),
        'cancelled',
      );
      assert.ok(aborted > 0 && aborted < statSync(path).size, `aborted at ${aborted}`);
      assert.equal(await idleBuffers(), base, 'GPU buffers left behind');
    }
    const model = await engine.load(path);
    assert.equal((await collect(model.generate('hello', { maxTokens: 3, temperature: 0, ignoreEos: true }))).length, 3);
    await model.unload();
  });

  test('truncated files are invalid_file, before or during the upload; the engine stays usable', async () => {
    const bytes = readFileSync(storiesGguf());
    const base = await idleBuffers();
    // Known sizes: the header's offsets say the data is missing.
    await rejectsWith(engine.load(bytes.subarray(0, bytes.length - 1000)), 'invalid_file');
    await rejectsWith(engine.load(bytes.subarray(0, 100)), 'invalid_file');
    await rejectsWith(engine.load(new Uint8Array(0)), 'invalid_file');
    // A stream of unannounced length that ends early: found while uploading.
    const tiny = readFileSync(tinyGguf());
    await rejectsWith(engine.load(streamOf(tiny.subarray(0, tiny.length - 1000))), 'invalid_file');
    await rejectsWith(engine.load(streamOf(bytes.subarray(0, bytes.length - 1000))), 'invalid_file');
    await rejectsWith(engine.load(streamOf(bytes.subarray(0, 100))), 'invalid_file');
    assert.equal(await idleBuffers(), base, 'GPU buffers left behind');
    const model = await engine.load(bytes);
    const toks = await collect(model.generate('', { maxTokens: 8, temperature: 0 }));
    assert.deepEqual(
      toks.map((t) => t.id),
      ref.slice(0, 8),
    );
    await model.unload();
  });

  // Hot rows (formats/hot_rows.h) whose ids break the rule: the loader
  // checks the ids of a file it has the bytes of (streamWeights: false); a
  // streamed file's go from the source to the device unread, are read back
  // by the upload's stream and checked before the session is made
  // (wa_session_create). Either way invalid_file with the loader's reason,
  // and no GPU buffer left. (tests/cli/make_malformed_hot_rows.py damages
  // the file; the other damages it makes are found in the header, as on the CPU.)
  test('malformed hot ids are invalid_file whether streamed or loaded into memory; nothing left behind', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'wa-bad-hot-'));
    execFileSync('python3', [join(repo, 'tests/cli/make_malformed_hot_rows.py'), hotRowsGguf(), dir]);
    const model = await engine.load(hotRowsGguf());
    const info = await model.info();
    assert.equal(info.backend, 'webgpu', info.backend_reason);
    assert.equal(info.streamed, true);
    assert.equal((await collect(model.generate('Once upon a time', { maxTokens: 3, temperature: 0, ignoreEos: true }))).length, 3);
    await model.unload();
    const base = await idleBuffers();
    const cases = [
      ['hot-ids-unsorted.gguf', /'token_embd\.hot_ids' must be strictly increasing/],
      ['hot-id-duplicate.gguf', /a duplicate id/],
      ['hot-id-out-of-range.gguf', /outside the vocabulary/],
      ['hot-id-negative.gguf', /\[0\] = -3 is outside the vocabulary/],
      ['hot-rows-shape-mismatch.gguf', /has shape \[128, 63\] \(2 dims\), expected \[128, 64\]/],
    ];
    for (const [name, says] of cases) {
      await rejectsWith(engine.load(join(dir, name)), 'invalid_file', says);
      await rejectsWith(engine.load(join(dir, name), { streamWeights: false }), 'invalid_file', says);
    }
    assert.equal(await idleBuffers(), base, 'GPU buffers left behind');
  });

  // Last: they destroy devices (their own engines').
  test('device loss with streamed weights: the source is read again and generation continues on the CPU with the same ids', { timeout: 600_000 }, async () => {
    const events = [];
    const e = await createEngine({ backend: 'webgpu', gpu, threads: 1, onBackendChange: (ev) => events.push(ev) });
    try {
      const model = await e.load(storiesGguf());
      assert.equal((await model.info()).streamed, true);
      const got = [];
      for await (const tok of model.generate('', { maxTokens: 24, temperature: 0 })) {
        got.push(tok.id);
        if (got.length === 4) e.gpu.device.destroy();
      }
      assert.deepEqual(got, ref.slice(0, 24));
      assert.equal(events.length, 1, JSON.stringify(events));
      assert.deepEqual({ from: events[0].from, to: events[0].to }, { from: 'webgpu', to: 'cpu' });
      const info = await model.info();
      assert.equal(info.backend, 'cpu', info.backend_reason);
      assert.equal(info.streamed, false);
      assert.deepEqual(argmaxRows(await model.logits([1, ...ref.slice(0, 7)]), 512), ref.slice(0, 8));
      await model.unload();
    } finally {
      await e.dispose();
    }
  });

  test('device loss with weights streamed from a ReadableStream: device_lost (it cannot be read again); later loads run on the CPU', { timeout: 600_000 }, async () => {
    const e = await createEngine({ backend: 'webgpu', gpu, threads: 1 });
    try {
      const model = await e.load(streamOf(readFileSync(storiesGguf())));
      assert.equal((await model.info()).streamed, true);
      const got = [];
      await rejectsWith(
        (async () => {
          for await (const tok of model.generate('', { maxTokens: 32, temperature: 0 })) {
            got.push(tok.id);
            if (got.length === 4) e.gpu.device.destroy();
          }
        })(),
        'device_lost',
      );
      assert.deepEqual(got, ref.slice(0, got.length));
      await assert.rejects(model.logits([1, 2, 3]), (err) => {
        assert.equal(err.code, 'device_lost', err.message);
        assert.match(err.message, /ReadableStream/);
        return true;
      });
      await model.unload();
      // After the loss: read into wasm memory and run on the CPU.
      const again = await e.load(storiesGguf());
      const info = await again.info();
      assert.equal(info.backend, 'cpu', info.backend_reason);
      assert.equal(info.streamed, false);
      const toks = await collect(again.generate('', { maxTokens: 8, temperature: 0 }));
      assert.deepEqual(
        toks.map((t) => t.id),
        ref.slice(0, 8),
      );
      await again.unload();
    } finally {
      await e.dispose();
    }
  });
});
