// Whole models on the WebGPU backend through the public API, on Dawn
// (npm `webgpu`) under Node: SwiftShader here (`make test-js` sets
// VK_ICD_FILENAMES), a real GPU where there is one. Skips only when Dawn
// finds no adapter. Dawn's workgroup-memory zero-initialisation is off
// (DAWN_NO_WORKGROUP_INIT says why); SwiftShader then runs a stories260K
// token in about 0.3 s, so only one test generates 256 tokens; the others
// use shorter runs that still cover their point.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { createEngine, WebAccelError } from '../dist/index.js';
import {
  dequantizedGguf,
  greedyIds,
  hotRowsGguf,
  hotRowsStrippedGguf,
  maxAbsDiff,
  nativeLogits,
  nmse,
  storiesGguf,
  storiesMixedGguf,
  tinyGguf,
  tinyQ4Gguf,
  tinyQ4KGguf,
  tinyVqGguf,
} from './fixtures.mjs';
import { DAWN_NO_WORKGROUP_INIT, getTestGpu } from './gpu-env.mjs';

const ref = greedyIds();
const testGpu = { dawnFlags: [DAWN_NO_WORKGROUP_INIT] };
const greedy = (maxTokens, extra = {}) => ({ maxTokens, temperature: 0, ...extra });

async function ids(model, prompt, options) {
  const out = [];
  for await (const t of model.generate(prompt, options)) out.push(t.id);
  return out;
}

// A row of logits as the sampler sees it: with a repetition penalty, each
// occurrence of an id among the last repeatLastN of `history` (the prompt's
// ids, then the ids chosen) penalises its logit once (core/sampling.h's
// penalize, in f32).
function penalized(row, history, o) {
  const penalty = o.repeatPenalty ?? 1;
  const lastN = o.repeatLastN ?? 64;
  if (penalty === 1 || lastN <= 0) return row;
  const out = Float32Array.from(row);
  for (const id of history.slice(-lastN)) out[id] = out[id] > 0 ? out[id] / penalty : out[id] * penalty;
  return out;
}

describe('WebGPU models (Dawn)', { timeout: 1_200_000 }, () => {
  let gpu = null;
  let skip = '';
  let keepAlive;
  let cpu; // the wasm engine: the reference for everything on the GPU
  let webgpu; // the default WebGPU engine, shared by the tests that do not end it
  const engines = [];
  const gpuEngine = async (o = {}) => {
    const e = await createEngine({ backend: 'webgpu', gpu, threads: 1, ...o });
    engines.push(e);
    return e;
  };

  before(async () => {
    // Dawn's promises do not keep Node's event loop alive by themselves.
    keepAlive = setInterval(() => {}, 1000);
    const env = await getTestGpu(testGpu);
    assert.ok(env.gpu, env.reason); // Dawn failing to load is a broken install
    if (!env.adapter) {
      skip = `${env.reason} (VK_ICD_FILENAMES=${process.env.VK_ICD_FILENAMES ?? 'unset'})`;
      return;
    }
    gpu = env.gpu;
    cpu = await createEngine({ backend: 'wasm', threads: 1 });
    webgpu = await gpuEngine();
  });
  after(async () => {
    for (const e of engines) await e.dispose();
    await cpu?.dispose();
    clearInterval(keepAlive);
  });

  test('stories260K greedy256 ids exactly (f32 path, weights streamed to the GPU)', async (t) => {
    if (skip) return t.skip(skip);
    const model = await webgpu.load(storiesGguf());
    const info = await model.info();
    assert.equal(info.backend, 'webgpu', info.backend_reason);
    assert.equal(info.streamed, true); // the default load of a WebGPU engine
    const t0 = performance.now();
    const got = await ids(model, '', greedy(256));
    t.diagnostic(`256 tokens in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    assert.deepEqual(got, ref);
    await model.unload();
  });

  test('teacher-forced logits of 40 tokens within 1e-3 of the native CLI', async (t) => {
    if (skip) return t.skip(skip);
    const path = storiesGguf();
    const seq = [1, ...ref.slice(0, 39)];
    const expected = nativeLogits(path, seq, 'stories_f32_40');
    const model = await webgpu.load(path);
    const got = await model.logits(seq);
    assert.equal(got.length, 512 * 40);
    assert.ok(maxAbsDiff(got, expected) < 1e-3, `max diff ${maxAbsDiff(got, expected)}`);
    await model.unload();
  });

  // Prompts of up to 16 tokens run their matrices as few-token matvecs, 8
  // tokens per dispatch; longer ones (above), or with fewTokenPrompt 1, as
  // the tiled matmul: the same logits either way, in more dispatches.
  test('a 13-token prompt: logits within 1e-3 of the native CLI as few-token matvecs (two per matrix) and as the tiled matmul', async (t) => {
    if (skip) return t.skip(skip);
    const path = storiesGguf();
    const seq = [1, ...ref.slice(0, 12)];
    const expected = nativeLogits(path, seq, 'stories_f32_13');
    const dispatches = [];
    for (const e of [webgpu, await gpuEngine({ fewTokenPrompt: 1 })]) {
      const model = await e.load(path);
      const before = e.gpu.stats.dispatches;
      const got = await model.logits(seq);
      dispatches.push(e.gpu.stats.dispatches - before);
      assert.equal(got.length, 512 * 13);
      assert.ok(maxAbsDiff(got, expected) < 1e-3, `max diff ${maxAbsDiff(got, expected)}`);
      await model.unload();
    }
    assert.ok(dispatches[0] > dispatches[1], `few-token ${dispatches[0]} dispatches, matmul ${dispatches[1]}`);
  });

  // Browser profiles hide what their browser lacks: other kernels (no
  // subgroups: workgroup-memory reductions), the same tokens.
  const masks = [
    ['gpuProfile firefox', { gpuProfile: 'firefox' }],
    ['gpuProfile safari', { gpuProfile: 'safari' }],
    ['gpuMask without subgroups and shader-f16', { gpuMask: { disableFeatures: ['subgroups', 'shader-f16'] } }],
  ];
  for (const [name, opts] of masks) {
    test(`${name}: the same greedy tokens; capabilities report the mask`, async (t) => {
      if (skip) return t.skip(skip);
      const e = await gpuEngine(opts);
      const caps = e.capabilities();
      assert.equal(caps.profile.backend, 'webgpu');
      assert.ok(!caps.webgpu.features.includes('subgroups'), caps.webgpu.features.join());
      assert.ok(!caps.webgpu.features.includes('shader-f16'), caps.webgpu.features.join());
      if ((await getTestGpu(testGpu)).adapter.features.has('subgroups')) {
        assert.ok(caps.profile.reasons.includes('webgpu subgroups: hidden by the profile'), caps.profile.reasons.join('; '));
      }
      const model = await e.load(storiesGguf());
      assert.equal((await model.info()).backend, 'webgpu');
      assert.deepEqual(await ids(model, '', greedy(12)), ref.slice(0, 12));
      await model.unload();
      await e.dispose();
    });
  }

  // Quantized weights: the CPU (wasm) multiplies them with activations
  // rounded to 8 bits (q8_0 blocks; q8_K per 256 for k-quants, 8-bit blocks
  // with sums for q4_1/q5_x); the GPU's prompt kernels (logits()) with f32
  // activations, its q8_0/q4_0 decode matvecs with int8 blocks where the
  // WGSL has dot4I8Packed (f32 scales, where the CPU's are f16), so the
  // numbers differ by that rounding (backend-ops allows NMSE 2e-3 per
  // matmul). On these random-weight models the top two logits are sometimes
  // nearly tied (seen: q8_0's 16th token, logits 3.548 vs 3.523 on a range
  // of 7), and the rounding may then pick the other one. So: the ids are
  // equal up to the first difference, which must be such a near tie (within
  // 1% of the row's range) under both the CPU's logits and the GPU's prompt
  // logits; the logits agree by NMSE.
  // The GPU's own numbers are checked against the native CLI on the same
  // file dequantized to f32, with the f16 KV cache the quantized file gets
  // (what the GPU's kernels compute). They differ by summation order, and
  // where that puts an f16 cache value on the other side of a rounding step,
  // by one f16 ulp, which random-weight layers amplify (measured 1e-9 to
  // 1.1e-8; with an f32 cache on the CPU, 2e-7). NMSE 1e-6 stays far below
  // what a wrong weight would cost (4-bit rounding alone is about 1e-2 per
  // matmul). The k-quant and mixed files (q4_K; stories260K's q5_1 + f16
  // fallbacks) run on the bit-plane kernels (mv4_planes.wgsl), prompt
  // (matmul), decode (fused matvecs) and token embeddings (get_rows); the
  // wa_vq2 / wa_vq3 files on the vector-quantized ones (mv4_vq.wgsl, the
  // codebook in a buffer of its own).
  const quantized = [
    ['synth tiny q8_0', tinyGguf, 'Once upon a time'],
    ['synth tiny q4_0', tinyQ4Gguf, 'Once upon a time'],
    ['synth tiny q4_K', tinyQ4KGguf, 'Once upon a time'],
    ['stories260K q5_K (mixed: q5_1, f16, f32)', storiesMixedGguf, ''],
    ['synth tiny wa_vq2', () => tinyVqGguf('wa_vq2'), 'Once upon a time'],
    ['synth tiny wa_vq3', () => tinyVqGguf('wa_vq3'), 'Once upon a time'],
  ];
  for (const [name, file, prompt] of quantized) {
    // 8 tokens: SwiftShader decodes these models at about one token per
    // second, and the prompt's logits check every position anyway.
    test(`${name}: 8 greedy ids equal the wasm backend's up to near ties; logits by NMSE`, async (t) => {
      if (skip) return t.skip(skip);
      const [mc, mg] = [await cpu.load(file()), await webgpu.load(file())];
      assert.equal((await mg.info()).backend, 'webgpu', (await mg.info()).backend_reason);
      const want = await ids(mc, prompt, greedy(8, { ignoreEos: true }));
      const got = await ids(mg, prompt, greedy(8, { ignoreEos: true }));
      t.diagnostic(`ids: ${got.join(' ')}`);
      const p = prompt ? await mc.tokenize(prompt) : [1]; // stories260K has no tokenizer: BOS
      const seq = [...p, ...want];
      const [lc, lg] = [await mc.logits(seq), await mg.logits(seq)];
      const e = nmse(lg, lc);
      const f32 = dequantizedGguf(file());
      const exact = nmse(lg, nativeLogits(f32, seq, f32.replace(/^.*\//, ''), undefined, ['--kv-type', 'f16']));
      t.diagnostic(`logits NMSE GPU vs wasm: ${e.toExponential(2)}, vs native f32 of the dequantized file: ${exact.toExponential(2)}`);
      assert.ok(e < 2e-3, `nmse ${e}`);
      assert.ok(exact < 1e-6, `nmse vs the dequantized file ${exact}`);
      const k = got.findIndex((id, i) => id !== want[i]);
      if (k >= 0) {
        const nv = (await mc.info()).n_vocab;
        const row = (l) => l.subarray((p.length - 1 + k) * nv, (p.length + k) * nv);
        const [rc, rg] = [row(lc), row(lg)];
        const range = Math.max(...rc) - Math.min(...rc);
        const margin = rc[want[k]] - rc[got[k]];
        t.diagnostic(`ids differ from token ${k + 1} on: CPU ${want[k]} (${rc[want[k]]}) vs GPU ${got[k]} (${rc[got[k]]})`);
        assert.ok(margin <= 0.01 * range, `token ${k + 1}: ${got[k]} is ${margin} below the CPU's choice ${want[k]} (range ${range})`);
        const gpuMargin = rg[want[k]] - rg[got[k]];
        assert.ok(gpuMargin <= 0.01 * range, `token ${k + 1}: ${got[k]} is ${gpuMargin} below ${want[k]} in the GPU's prompt logits`);
      }
      await mc.unload();
      await mg.unload();
    });
  }

  // Hot rows (formats/hot_rows.h; get_rows_hot.wgsl): the bundled model in
  // q4_0 with 64 hot rows in q8_0, streamed to the GPU. Generation and
  // prompt logits as the quantized files above (the file dequantized to f32
  // would drop the hot rows, so no such reference here), and the hot table's
  // device bytes in the memory report.
  test('hot rows (q4_0 + 64 in q8_0): on the GPU, the wasm ids up to near ties, logits by NMSE; memory', async (t) => {
    if (skip) return t.skip(skip);
    const e = await gpuEngine();
    const [mc, mg] = [await cpu.load(hotRowsGguf()), await e.load(hotRowsGguf())];
    const info = await mg.info();
    assert.equal(info.backend, 'webgpu', info.backend_reason);
    assert.equal(info.streamed, true);
    const prompt = 'Once upon a time, there was a little girl named Lily.';
    const want = await ids(mc, prompt, greedy(8, { ignoreEos: true }));
    const got = await ids(mg, prompt, greedy(8, { ignoreEos: true }));
    t.diagnostic(`ids: ${got.join(' ')}`);
    const p = await mc.tokenize(prompt);
    const [lc, lg] = [await mc.logits([...p, ...want]), await mg.logits([...p, ...want])];
    const err = nmse(lg, lc);
    t.diagnostic(`logits NMSE GPU vs wasm: ${err.toExponential(2)}`);
    assert.ok(err < 2e-3, `nmse ${err}`);
    const k = got.findIndex((id, i) => id !== want[i]);
    if (k >= 0) {
      const row = lc.subarray((p.length - 1 + k) * info.n_vocab, (p.length + k) * info.n_vocab);
      const range = Math.max(...row) - Math.min(...row);
      const margin = row[want[k]] - row[got[k]];
      assert.ok(margin <= 0.01 * range, `token ${k + 1}: ${got[k]} is ${margin} below the CPU's choice ${want[k]} (range ${range})`);
    }
    // 64 rows of 128 in q8_0 (the file's 34 bytes per 32 values) and 64 i32 ids, each buffer rounded up to 16 bytes
    const ceil16 = (b) => Math.ceil(b / 16) * 16;
    const hotBytes = (mem) => mem.entries.filter((x) => x.component === 'webgpu.hot_rows').reduce((a, x) => a + x.current, 0);
    assert.equal(hotBytes(await e.memory()), ceil16((64 * 128 * 34) / 32) + ceil16(64 * 4));
    await mg.unload();
    assert.equal(hotBytes(await e.memory()), 0);
    await mc.unload();
    await e.dispose();
  });

  // The lookup itself, on a file whose other numbers the GPU and the CPU
  // compute alike: the bundled model in f16 with the same 64 hot rows (f16
  // products in f32 on both; a q4_0 file's differ by the CPU's 8-bit
  // activations, about as much as the hot rows change). The GPU's logits of
  // a text of hot and cold tokens are within NMSE 1e-9 of the CPU's
  // (measured 3.6e-12 on SwiftShader), where those of the file without the
  // hot rows are over 10 times that away (measured 1.2e-7): a lookup that
  // read the f16 row instead would fail.
  test('hot rows (f16 + 64 in q8_0): the GPU reads each hot id from the q8_0 copy', async (t) => {
    if (skip) return t.skip(skip);
    const [mc, ms, mg] = [await cpu.load(hotRowsGguf('f16')), await cpu.load(hotRowsStrippedGguf('f16')), await webgpu.load(hotRowsGguf('f16'))];
    assert.equal((await mg.info()).backend, 'webgpu', (await mg.info()).backend_reason);
    const p = await mc.tokenize('Once upon a time, there was a little girl named Lily.');
    const [lc, ls, lg] = [await mc.logits(p), await ms.logits(p), await mg.logits(p)];
    const [err, without] = [nmse(lg, lc), nmse(ls, lc)];
    t.diagnostic(`logits NMSE GPU vs wasm ${err.toExponential(2)}; without hot rows vs wasm ${without.toExponential(2)}`);
    assert.ok(without > 1e-8, `the text's hot tokens change the logits too little (${without}) to tell a lookup that ignores them`);
    assert.ok(err < 1e-9, `nmse ${err}`);
    for (const m of [mc, ms, mg]) await m.unload();
  });

  test('device lost mid-generation: continues on the CPU with the same ids, and says so', async (t) => {
    if (skip) return t.skip(skip);
    const events = [];
    const perCall = [];
    const e = await gpuEngine({ onBackendChange: (ev) => events.push(ev) });
    // The in-memory load keeps the host copy that the CPU continues from (a
    // streamed model reads its source again: webgpu_stream.test.mjs).
    const model = await e.load(storiesGguf(), { streamWeights: false });
    assert.equal((await model.info()).backend, 'webgpu');
    const want = await ids(await cpu.load(storiesGguf()), '', greedy(64));
    assert.deepEqual(want, ref.slice(0, 64));
    const got = [];
    for await (const tok of model.generate('', greedy(64, { onBackendChange: (ev) => perCall.push(ev) }))) {
      got.push(tok.id);
      if (got.length === 10) e.gpu.device.destroy();
    }
    assert.deepEqual(got, want);
    assert.equal(events.length, 1, JSON.stringify(events));
    assert.deepEqual({ from: events[0].from, to: events[0].to }, { from: 'webgpu', to: 'cpu' });
    assert.match(events[0].reason, /lost/);
    assert.deepEqual(perCall, events);
    const info = await model.info();
    assert.equal(info.backend, 'cpu');
    assert.match(info.backend_reason, /lost/);
    // The model stays usable on the CPU; a model loaded now runs there too.
    assert.deepEqual(await ids(model, '', greedy(8)), ref.slice(0, 8));
    const again = await e.load(storiesGguf());
    assert.equal((await again.info()).backend, 'cpu');
    assert.deepEqual(Array.from(await again.logits([1, 2, 3])).length, 3 * 512);
    await e.dispose();
  });

  // With a repetition penalty the GPU's steps penalise over a window on the
  // device that their own choices extend; after the loss the CPU's sampler
  // penalises over the ids it accepted, the same ones. (Greedy: a sampled
  // run's draws for the steps dropped from the chain would be gone from the
  // CPU's stream.)
  test('device lost mid-generation with a repetition penalty: continues on the CPU with the same ids', async (t) => {
    if (skip) return t.skip(skip);
    const events = [];
    const e = await gpuEngine({ onBackendChange: (ev) => events.push(ev) });
    const model = await e.load(storiesGguf(), { streamWeights: false });
    assert.equal((await model.info()).backend, 'webgpu');
    const opts = greedy(40, { repeatPenalty: 1.3, repeatLastN: 16 });
    const cpuModel = await cpu.load(storiesGguf());
    const want = await ids(cpuModel, '', opts);
    const k = want.findIndex((id, i) => id !== ref[i]);
    assert.ok(k >= 0 && k < 30, `the penalty changes the greedy story early (first change at ${k})`);
    const got = [];
    for await (const tok of model.generate('', opts)) {
      got.push(tok.id);
      if (got.length === 10) e.gpu.device.destroy();
    }
    assert.deepEqual(got, want);
    assert.equal(events.length, 1, JSON.stringify(events));
    assert.equal((await model.info()).backend, 'cpu');
    await cpuModel.unload();
    await e.dispose();
  });

  // Sampled generation chooses its tokens on the GPU (sample.wgsl), with the
  // draws of the sampler's own random stream: the wasm backend's ids for the
  // same seed, chained like greedy steps, reading back one id per token
  // instead of the logits. With a repetition penalty too (greedy or not):
  // its window of recent ids lives on the GPU, seeded with the prompt's and
  // extended by each step's choice before the host sees it
  // (sample_window.wgsl); only a window longer than the kernel holds
  // samples on the host from the logits. Late in a story this
  // model spreads its probability over dozens of tokens whose logits agree
  // to 1e-5 (seen: 36 candidates, 34 of them 0.0216 each), and the GPU's
  // logits (1e-3 of the CPU's) may order two of them the other way: the ids
  // are equal up to the first difference, which must be such a near tie
  // under the CPU's (penalised) logits. (The kernel's choice on equal
  // logits is exact: backend-ops' sample cases.)
  test('sampled generation on the GPU: the wasm ids for the same seed; one id read back per token', async (t) => {
    if (skip) return t.skip(skip);
    const model = await webgpu.load(storiesGguf());
    const cpuModel = await cpu.load(storiesGguf());
    const settings = [
      [{ temperature: 1, topK: 0, topP: 1, minP: 0 }, 'gpu'],
      [{ temperature: 0.9, topK: 40, topP: 0.9, minP: 0.05 }, 'gpu'],
      [{ temperature: 0.8, repeatPenalty: 1.3 }, 'gpu'],
      [{ temperature: 0.9, topK: 40, repeatPenalty: 1.6, repeatLastN: 6 }, 'gpu'],
      [{ temperature: 0, repeatPenalty: 1.5, repeatLastN: 16 }, 'gpu'],
      [{ temperature: 0.8, repeatPenalty: 1.3, repeatLastN: 2000 }, 'host'],
    ];
    const n = 24; // tokens per setting (SwiftShader: about 0.3 s each)
    for (const [o, where] of settings) {
      const opts = { maxTokens: n, seed: 99, ignoreEos: true, ...o };
      const want = await ids(cpuModel, '', opts);
      const before = webgpu.gpu.stats.readbackBytes;
      const got = await ids(model, '', opts);
      const bytes = webgpu.gpu.stats.readbackBytes - before;
      const k = got.findIndex((id, i) => id !== want[i]);
      t.diagnostic(`${JSON.stringify(o)}: ${k < 0 ? `all ${n} equal` : `equal up to token ${k + 1}`}, ${bytes} bytes read back`);
      assert.ok(new Set(want).size > (o.temperature ? 8 : 4), `${JSON.stringify(o)}: ${want}`);
      if (k >= 0) {
        const history = [1, ...want.slice(0, k)];
        const row = penalized((await cpuModel.logits(history)).subarray(k * 512), history, o);
        const gap = Math.abs(row[want[k]] - row[got[k]]);
        assert.ok(gap < 1e-3, `${JSON.stringify(o)} token ${k + 1}: GPU ${got[k]}, CPU ${want[k]}, logits ${gap} apart`);
      }
      if (where === 'gpu') assert.ok(bytes <= n * 16, `${bytes} bytes read back for ${n} tokens`);
      else assert.ok(bytes >= (n - 1) * 512 * 4, `${bytes} bytes read back for ${n} tokens`);
    }
    await model.unload();
    await cpuModel.unload();
  });

  test('a matvecTuning or fewTokenPrompt outside its range is refused with a clear error', async (t) => {
    if (skip) return t.skip(skip);
    await assert.rejects(
      createEngine({ backend: 'webgpu', gpu, threads: 1, matvecTuning: { rows: 9, blocksInFlight: 1 } }),
      (e) => e instanceof WebAccelError && e.code === 'invalid_argument' && /matvec_tuning: rows must be 1\.\.8/.test(e.message),
    );
    await assert.rejects(
      createEngine({ backend: 'webgpu', gpu, threads: 1, matvecTuning: { rows: 2, blocksInFlight: 1, blocksPerUnit: 3 } }),
      (e) => e instanceof WebAccelError && e.code === 'invalid_argument' && /blocks per unit 1, 2 or 4/.test(e.message),
    );
    for (const fewTokenPrompt of [0, 2.5]) {
      await assert.rejects(
        createEngine({ backend: 'webgpu', gpu, threads: 1, fewTokenPrompt }),
        (e) => e instanceof WebAccelError && e.code === 'invalid_argument' && /fewTokenPrompt/.test(e.message),
      );
    }
  });

  test('lazy pipelines (precompile: false) give the same tokens; info reports the backend', async (t) => {
    if (skip) return t.skip(skip);
    const e = await gpuEngine({ precompile: false });
    const model = await e.load(storiesGguf());
    const info = await model.info();
    assert.equal(info.backend, 'webgpu');
    assert.match(info.backend_reason, /^WebGPU \(pipelines created on first use\)$/);
    assert.equal((await (await webgpu.load(storiesGguf())).info()).backend_reason, 'WebGPU');
    assert.deepEqual(await ids(model, '', greedy(12)), ref.slice(0, 12));
    await e.dispose();
  });
});
