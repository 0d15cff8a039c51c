// Running out of wasm memory, and traps: the failing operation is a
// WebAccelError (out_of_memory / internal), the models of a stopped module
// report device_lost, and the same engine goes on with a fresh module.
// Both builds; memoryLimit makes the limits small and deterministic.
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, openAsBlob, rmSync, truncateSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';

import { createEngine, WebAccelError } from '../dist/index.js';
import { greedyIds, rejectsWith, storiesGguf, tinyGguf } from './fixtures.mjs';

const ref = greedyIds();
const MiB = 1024 ** 2;
const LIMIT = 128 * MiB;

async function greedy(model, n) {
  const ids = [];
  for await (const t of model.generate('', { maxTokens: n, temperature: 0 })) ids.push(t.id);
  return ids;
}

let tmp;
before(() => {
  tmp = mkdtempSync(join(tmpdir(), 'wa-oom-'));
});
after(() => rmSync(tmp, { recursive: true, force: true }));

// stories260K's GGUF padded with zeros to `size` bytes: a sparse file, so a
// "model" of gigabytes costs no disk and, refused up front, no reading.
function padded(size) {
  const out = join(tmp, `padded_${size}.gguf`);
  copyFileSync(storiesGguf(), out);
  truncateSync(out, size);
  return out;
}

test('memoryLimit is validated', async () => {
  await rejectsWith(createEngine({ backend: 'wasm', threads: 1, memoryLimit: 1000 }), 'invalid_argument', /memoryLimit/);
  await rejectsWith(createEngine({ backend: 'wasm', threads: 1, memoryLimit: 'big' }), 'invalid_argument', /memoryLimit/);
});

for (const threads of [1, 2]) {
  describe(`out of memory and traps, ${threads} thread(s)`, () => {
    test('a model bigger than the wasm memory can hold is refused before it is read; the engine goes on', async () => {
      const engine = await createEngine({ backend: 'wasm', threads, memoryLimit: LIMIT });
      try {
        const m0 = await engine.load(storiesGguf());
        const { heap } = await engine.memory();
        assert.equal(heap.limit, LIMIT);
        assert.ok(heap.size <= heap.limit && heap.available > 0 && heap.available <= heap.limit, JSON.stringify(heap));
        // One byte more than the module can still allocate: a path and a Blob.
        const big = padded(heap.available + 1);
        await rejectsWith(engine.load(big), 'out_of_memory', /do not fit the wasm memory/);
        await rejectsWith(engine.load(await openAsBlob(big)), 'out_of_memory', /do not fit the wasm memory/);
        // A stream of unknown length is refused once it outgrows the room,
        // and is cancelled rather than read to its end.
        let pulled = 0;
        let cancelled = false;
        const zeros = new Uint8Array(4 * MiB);
        const endless = new ReadableStream({
          pull(c) {
            pulled += zeros.length;
            c.enqueue(zeros);
          },
          cancel() {
            cancelled = true;
          },
        });
        await rejectsWith(engine.load(endless), 'out_of_memory', /do not fit the wasm memory/);
        assert.ok(cancelled, 'the stream was cancelled');
        assert.ok(pulled <= LIMIT + 8 * zeros.length, `pulled ${pulled} bytes`);
        // Nothing was stopped: the model loaded before still runs...
        assert.deepEqual(await greedy(m0, 16), ref.slice(0, 16));
        // ...and the same engine loads the good model and reproduces greedy256.
        const m1 = await engine.load(storiesGguf());
        assert.deepEqual(await greedy(m1, 256), ref);
      } finally {
        await engine.dispose();
      }
    });

    test('a file beyond what wasm32 addresses is out_of_memory without a limit too', async () => {
      const engine = await createEngine({ backend: 'wasm', threads });
      try {
        const { heap } = await engine.memory();
        assert.equal(heap.limit, 4 * 1024 ** 3 - 65536);
        await rejectsWith(engine.load(padded(5 * 1024 ** 3)), 'out_of_memory', /do not fit the wasm memory/);
        const m = await engine.load(storiesGguf());
        assert.deepEqual(await greedy(m, 256), ref);
      } finally {
        await engine.dispose();
      }
    });

    test('a context too big for the limit is out_of_memory from its KV cache; nothing is lost', async () => {
      const engine = await createEngine({ backend: 'wasm', threads, memoryLimit: LIMIT });
      try {
        const m0 = await engine.load(storiesGguf());
        await rejectsWith(engine.load(storiesGguf(), { nCtx: 1 << 20 }), 'out_of_memory', /kv_cache/);
        assert.deepEqual(await greedy(m0, 16), ref.slice(0, 16));
      } finally {
        await engine.dispose();
      }
    });

    test('an allocation failure inside C++ stops the module: out_of_memory, models lost, the engine reloads', async () => {
      const opts = { backend: 'wasm', threads, memoryLimit: LIMIT };
      const engine = await createEngine(opts);
      // Engines with the same options share one module: this one's models go too.
      const other = await createEngine(opts);
      try {
        const m0 = await engine.load(storiesGguf());
        const tiny = await engine.load(tinyGguf());
        const om = await other.load(storiesGguf());
        // 60 MB of text fits the heap, but the tokenizer's working arrays for
        // it do not, and their std::bad_alloc cannot be caught in wasm (it
        // aborts). If the tokenizer ever reports this as a status instead,
        // the first assertion still holds and the module-loss ones below
        // need another way to exhaust memory inside C++.
        await rejectsWith(tiny.tokenize('ab '.repeat(20e6)), 'out_of_memory', /out of wasm memory in wa_model_tokenize/);
        for (const m of [m0, tiny, om]) {
          await rejectsWith(m.info(), 'device_lost', /load the model again/);
          await rejectsWith(greedy(m, 4), 'device_lost');
          await rejectsWith(m.logits([1, 2]), 'device_lost');
        }
        await m0.unload(); // nothing to free in a stopped module; not an error
        await rejectsWith(m0.info(), 'invalid_argument', /unloaded/);
        // The next load starts a fresh module.
        const m1 = await engine.load(storiesGguf());
        assert.deepEqual(await greedy(m1, 256), ref);
        const om1 = await other.load(storiesGguf());
        assert.deepEqual(await greedy(om1, 8), ref.slice(0, 8));
        assert.equal((await engine.memory()).heap.limit, LIMIT);
      } finally {
        await engine.dispose();
        await other.dispose();
      }
    });

    test('a trap (internal hook Native.debugTrap) is internal; models lost; a fresh module on the next load', async () => {
      const engine = await createEngine({ backend: 'wasm', threads });
      try {
        const m0 = await engine.load(storiesGguf());
        const before = engine.native;
        // An out-of-bounds read inside the module: a real WebAssembly trap.
        assert.throws(
          () => before.debugTrap(),
          (e) => e instanceof WebAccelError && e.code === 'internal' && /trapped in wa_model_n_vocab .*out of bounds/.test(e.message),
        );
        await rejectsWith(greedy(m0, 4), 'device_lost', /internal: the wasm module trapped/);
        // memory() also starts the fresh module; the report is the new one's.
        const mem = await engine.memory();
        assert.notEqual(engine.native, before);
        assert.ok(!mem.entries.some((e) => e.category === 'weights'), 'no weights in the fresh module');
        const m1 = await engine.load(storiesGguf());
        assert.deepEqual(await greedy(m1, 256), ref);
        await rejectsWith(m0.info(), 'device_lost');
      } finally {
        await engine.dispose();
      }
    });
  });
}
