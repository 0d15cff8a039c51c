// webaccel on WebGPU in Node (Dawn's `webgpu` package): load time, first-token
// latency with and without pipeline precompilation, pp512 and tg128, on one
// GGUF file. Prints one JSON object (also written to --out).
//
//   node bench/webgpu/webaccel-node.mjs --model M.gguf [--reps 3] [--dawn-flag F]... [--out r.json]
//
// pp512: a 512-token prompt (ids 1..512 of the vocabulary, BOS first), time
// of the prompt evaluation; tg128: 128 greedy tokens from BOS, EOS ignored,
// time per decode step (the first token comes from the prompt step and is
// not counted). Medians over --reps after one warm-up.
import { writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const repo = resolve(here, '../..');
const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : dflt;
};
const model = opt('--model');
if (!model) throw new Error('--model is required');
const reps = Number(opt('--reps', '3'));
const out = opt('--out');
const dawnFlags = args.flatMap((a, i) => (a === '--dawn-flag' ? [args[i + 1]] : []));
const webgpuDir = opt('--webgpu', join(repo, 'js/node_modules/webgpu'));

const require = createRequire(import.meta.url);
const { create, globals } = require(webgpuDir);
Object.assign(globalThis, globals);
const keepAlive = setInterval(() => {}, 1000); // Dawn's promises do not hold the event loop
const { createEngine } = await import(join(repo, 'js/dist/index.js'));

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const gpu = create(dawnFlags);

async function measure(precompile) {
  const engine = await createEngine({ backend: 'webgpu', gpu, threads: 1, precompile });
  const t0 = performance.now();
  const m = await engine.load(model);
  const loadMs = performance.now() - t0;
  const info = await m.info();
  // First token after load: the pipelines either exist already or are created now.
  const tf = performance.now();
  for await (const _ of m.generate([info.bos_id >= 0 ? info.bos_id : 1, 2, 3, 4, 5, 6, 7, 8], { maxTokens: 1, temperature: 0, ignoreEos: true })) break;
  const firstTokenMs = performance.now() - tf;
  return { engine, m, info, loadMs, firstTokenMs };
}

const lazy = await measure(false);
await lazy.engine.dispose();
const { engine, m, info, loadMs, firstTokenMs } = await measure(true);
const bos = info.bos_id >= 0 ? info.bos_id : 1;
const prompt = [bos, ...Array.from({ length: 511 }, (_, i) => 1 + (i % (info.n_vocab - 1)))];
const pp = [];
const tg = [];
for (let r = 0; r <= reps; ++r) {
  for await (const _ of m.generate(prompt, { maxTokens: 1, temperature: 0, ignoreEos: true })) break;
  const s1 = await m.lastStats();
  let n = 0;
  for await (const _ of m.generate([bos], { maxTokens: 128, temperature: 0, ignoreEos: true })) n++;
  const s2 = await m.lastStats();
  if (r === 0) continue; // warm-up
  pp.push((512 / s1.promptMs) * 1000);
  tg.push(((n - 1) / s2.generateMs) * 1000);
}
const caps = engine.capabilities();
const result = {
  engine: 'webaccel',
  model,
  file_size: info.file_size,
  weight_type: info.weight_type,
  backend: info.backend,
  backend_reason: info.backend_reason,
  adapter: caps.webgpu.adapter,
  features: caps.webgpu.features,
  dawn_flags: dawnFlags,
  load_ms: loadMs,
  first_token_ms_precompiled: firstTokenMs,
  first_token_ms_lazy: lazy.firstTokenMs,
  load_ms_lazy: lazy.loadMs,
  pp512: { median: median(pp), all: pp },
  tg128: { median: median(tg), all: tg },
  gpu_stats: engine.gpu?.stats,
  reps,
  date: new Date().toISOString(),
};
await engine.dispose();
clearInterval(keepAlive);
console.log(JSON.stringify(result, null, 2));
if (out) writeFileSync(out, JSON.stringify(result, null, 2));
