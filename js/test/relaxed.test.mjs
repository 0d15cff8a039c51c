// The relaxed-SIMD modules (webaccel-relaxed-{st,mt}) through the public API
// under Node: detection (the probe fails without relaxed SIMD: SIMD128
// module; relaxedSimd: true is then refused), and with relaxed SIMD enabled
// (Node 20 has it behind --experimental-wasm-relaxed-simd, set here for this
// file's process only) the relaxed q4_0 kernels against the SIMD128 module's
// and the scalar reference, both builds, prompt and decode paths.
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import v8 from 'node:v8';

import { createEngine } from '../dist/index.js';
import { loadModule } from '../dist/native.js';
import { nmse, rejectsWith, tinyGguf, tinyQ4Gguf } from './fixtures.mjs';

const ids = [1, 50, 300, 7, 99, 1200, 4000, 17, 23, 5, 600];

async function run(options, path, isa) {
  const engine = await createEngine({ backend: 'wasm', ...options });
  // The engine's own module instance (same variant, threads and limit).
  const relaxed = options.relaxedSimd !== false;
  const native = isa ? await loadModule({ variant: options.threads > 1 ? 'mt' : 'st', threads: options.threads, relaxed }) : null;
  try {
    const model = await engine.load(path);
    const out = {};
    native?.setIsa(isa);
    out.batched = await model.logits(ids);
    out.single = await model.logits(ids.slice(0, 1));
    out.gen = [];
    for await (const t of model.generate('', { maxTokens: 16, temperature: 0 })) out.gen.push(t.id);
    out.caps = engine.capabilities();
    await model.unload();
    return out;
  } finally {
    native?.setIsa(relaxed ? 'wasm_relaxed' : 'wasm_simd128');
    await engine.dispose();
  }
}

describe('relaxed SIMD', () => {
  test('without relaxed SIMD: the SIMD128 module, and relaxedSimd: true is refused', async (t) => {
    const engine = await createEngine({ backend: 'wasm', threads: 1 });
    const before = engine.capabilities();
    await engine.dispose();
    if (before.wasm.relaxedSimd) return t.skip('this Node has relaxed SIMD without a flag');
    assert.equal(before.profile.build, 'wasm-simd128-st');
    assert.ok(before.profile.reasons.some((r) => /relaxed SIMD: unavailable/.test(r)), before.profile.reasons.join('; '));
    await rejectsWith(createEngine({ backend: 'wasm', threads: 1, relaxedSimd: true }), 'unsupported', /relaxed SIMD/);
  });

  test('a relaxed module that does not start: the SIMD128 module, with the reason', async () => {
    v8.setFlagsFromString('--experimental-wasm-relaxed-simd');
    const dist = join(dirname(fileURLToPath(import.meta.url)), '../dist/wasm');
    const dir = mkdtempSync(join(tmpdir(), 'wa-no-relaxed-'));
    try {
      cpSync(dist, dir, { recursive: true, filter: (f) => !/webaccel-relaxed-/.test(f) });
      const engine = await createEngine({ backend: 'wasm', threads: 1, wasmBase: dir + '/' });
      const c = engine.capabilities();
      await engine.dispose();
      assert.equal(c.wasm.relaxedSimd, true);
      assert.equal(c.profile.build, 'wasm-simd128-st');
      assert.equal(c.profile.isa, 'wasm_simd128');
      assert.ok(c.profile.reasons.some((r) => /relaxed module did not start/.test(r)), c.profile.reasons.join('; '));
      await rejectsWith(createEngine({ backend: 'wasm', threads: 1, wasmBase: dir + '/', relaxedSimd: true }), 'unsupported');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  for (const threads of [1, 2]) {
    test(`relaxed-SIMD module vs SIMD128 module and scalar, ${threads} thread(s)`, async () => {
      v8.setFlagsFromString('--experimental-wasm-relaxed-simd');
      for (const [name, path] of [['q4_0', tinyQ4Gguf()], ['q8_0', tinyGguf()]]) {
        const relaxed = await run({ threads }, path);
        const mt = threads > 1 ? 'mt' : 'st';
        assert.equal(relaxed.caps.wasm.relaxedSimd, true, 'the probe passes with the flag');
        assert.equal(relaxed.caps.profile.build, `wasm-relaxed-${mt}`);
        assert.equal(relaxed.caps.profile.isa, 'wasm_relaxed');
        const base = await run({ threads, relaxedSimd: false }, path);
        assert.equal(base.caps.profile.build, `wasm-simd128-${mt}`);
        const scalar = await run({ threads }, path, 'scalar');
        for (const k of ['batched', 'single']) {
          assert.ok(relaxed[k].every(Number.isFinite), `${name} ${k}: non-finite logits`);
          // Exact integer block sums on both modules and the same float
          // sequence after them: equal to rounding.
          const e = nmse(relaxed[k], base[k]);
          assert.ok(e < 1e-10, `${name} ${k} relaxed vs SIMD128: nmse ${e}`);
          // As kernels.test.mjs: 8-bit activations, float summation order.
          const s = nmse(relaxed[k], scalar[k]);
          assert.ok(s < 1e-4, `${name} ${k} relaxed vs scalar: nmse ${s}`);
        }
        assert.deepEqual(relaxed.gen, base.gen, `${name}: greedy ids`);
      }
    });
  }
});
