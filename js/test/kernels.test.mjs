// The wasm SIMD128 kernels against the scalar reference, on wasm: the same
// models' logits with the ISA forced (wa_set_isa) each way, for every weight
// type (f32, f16, q8_0, q4_0 matmuls; f32 and f16 KV-cache dot/axpy; scale),
// in both builds, decode (one token) and prompt (many tokens) paths.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { createEngine } from '../dist/index.js';
import { loadModule } from '../dist/native.js';
import { greedyIds, maxAbsDiff, nmse, storiesGguf, tinyF16Gguf, tinyGguf, tinyQ4Gguf } from './fixtures.mjs';

const ref = greedyIds();

for (const threads of [1, 2]) {
  describe(`SIMD128 vs scalar kernels, ${threads} thread(s)`, () => {
    test('every weight type', async () => {
      const native = await loadModule({ variant: threads > 1 ? 'mt' : 'st', threads });
      const info = native.buildInfo();
      assert.ok(info.isas.includes('wasm_simd128'), JSON.stringify(info));
      // The SIMD128 module, whose ISA `native` (the same instance) switches;
      // the relaxed-SIMD module's kernels: relaxed.test.mjs.
      const engine = await createEngine({ backend: 'wasm', threads, relaxedSimd: false });
      assert.equal(engine.capabilities().profile.isa, 'wasm_simd128');
      try {
        for (const [name, path] of [
          ['f32', storiesGguf()],
          ['f16', tinyF16Gguf()],
          ['q8_0', tinyGguf()],
          ['q4_0', tinyQ4Gguf()],
        ]) {
          const model = await engine.load(path);
          const ids = name === 'f32' ? [1, ...ref.slice(0, 40)] : [1, 50, 300, 7, 99, 1200, 4000, 17, 23, 5, 600];
          const run = async (isa) => {
            native.setIsa(isa);
            const batched = await model.logits(ids);
            const single = await model.logits(ids.slice(0, 1));
            return { batched, single };
          };
          const s = await run('scalar');
          const v = await run('wasm_simd128');
          for (const k of ['batched', 'single']) {
            const e = nmse(v[k], s[k]);
            // Float weights differ only in summation order. Quantized ones can
            // also flip an 8-bit activation rounding in a later layer, which a
            // random-weight model amplifies (native AVX2 vs scalar on the same
            // file: NMSE 6.6e-5).
            assert.ok(e < (name.startsWith('q') ? 1e-4 : 1e-6), `${name} ${k}: nmse ${e}, max diff ${maxAbsDiff(v[k], s[k])}`);
            assert.ok(v[k].every(Number.isFinite), `${name} ${k}: non-finite logits`);
          }
          await model.unload();
        }
        // And the f32 golden still holds exactly on SIMD.
        const model = await engine.load(storiesGguf());
        const got = [];
        for await (const t of model.generate('', { maxTokens: 256, temperature: 0 })) got.push(t.id);
        assert.deepEqual(got, ref);
      } finally {
        native.setIsa('wasm_simd128');
        await engine.dispose();
      }
    });
  });
}
