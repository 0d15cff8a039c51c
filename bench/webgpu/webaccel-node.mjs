// webaccel on WebGPU in Node (Dawn's `webgpu` package): load time, first-token
// latency with and without pipeline precompilation, pp512 and tg128, on one
// GGUF file. Prints one JSON object (also written to --out).
//
//   node bench/webgpu/webaccel-node.mjs [--webgpu] --model M.gguf [--reps 3] [--dawn-flag F]... [--no-subgroups] [--label L] [--out r.json]
//     [--profile] [--stream-gpu-time [--kernel-times] [--kernel-skip-times]] [--cpu-profile FILE.cpuprofile] [--dispatches-per-submit N] [--sampled]
//     [--repeat-penalty P] [--matvec-tuning R,U[,G[,KU]]] [--few-token-prompt N] [--pp N] [--tg N] [--ctx N] [--skip-lazy]
// --pp N, --tg N: the prompt and generation lengths (default 512 and 128;
// rows pp<N>/tg<N>; --profile keeps 512 and 128).
// --ctx N: the session's context size (ModelLoadOptions.nCtx; default the
// engine's: the model's training context, at most 4096), which sets how far
// apart the transposed value cache's rows are.
// --sampled: a tg128-sampled row too (temperature 0.8, top-k 40, top-p 0.95,
// min-p 0.05: the token drawn on the GPU, sample.wgsl), and the
// --stream-gpu-time/--kernel-times steps sampled instead of greedy.
// --repeat-penalty P (with --sampled): those sampled runs with a repetition
// penalty P over the last 64 ids.
// --stream-gpu-time: the GPU's time per decode step (timestamps around each
// step's stream, submitted whole; profile.tg128_stream_ms). --kernel-times
// (with it): then once more per pipeline of the step with that pipeline's
// dispatches run twice: the growth of the step's GPU time is what the
// pipeline costs in the step's sequence (profile.tg128_in_stream_ms, per
// token), without the pass per dispatch that --profile's timestamps need.
// --kernel-skip-times (with --stream-gpu-time): once more per pipeline with
// that pipeline's dispatches left out: how much shorter the step gets
// (profile.tg128_skip_saves_ms, per token) is what removing or fusing them
// away would save, the barrier after them included, with every other
// kernel's weights as cold as in a real step (the later results are wrong:
// timing only).
//
// The JSON has the shape of wllama-node.mjs's (runs[] with results[] rows
// pp512/tg128, backend_used, model_bytes) so summarize.mjs lists both engines
// side by side. Dawn's module: $WEBGPU_MODULE, else js/node_modules/webgpu.
// pp512: a 512-token prompt (ids 1..512 of the vocabulary, BOS first), time
// of the prompt evaluation; tg128: 128 greedy tokens from BOS, EOS ignored,
// time per decode step (the first token comes from the prompt step and is
// not counted). Medians over --reps after one warm-up. First token after
// load (an 8-token prompt, one token), with and without precompilation, and
// for each where its time went (first_token_detail_*: the prompt's
// evaluation, the C++ recording, the driver's encoding and waits, the
// dispatches, pipelines and bind groups it made) and what the same prompt
// costs at once again (again_ms).
import { statSync, writeFileSync } from 'node:fs';
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
const ppLen = Number(opt('--pp', '512'));
const tgLen = Number(opt('--tg', '128'));
if (!(ppLen >= 1 && tgLen >= 2)) throw new Error('--pp must be >= 1 and --tg >= 2');
const nCtx = opt('--ctx') === undefined ? undefined : Number(opt('--ctx'));
const out = opt('--out');
const label = opt('--label', 'webaccel-webgpu');
const dawnFlags = args.flatMap((a, i) => (a === '--dawn-flag' ? [args[i + 1]] : []));
// --no-subgroups: the device without subgroups (workgroup-memory reductions),
// to compare with the subgroup kernels on the same GPU.
const gpuMask = args.includes('--no-subgroups') ? { disableFeatures: ['subgroups'] } : undefined;
// --matvec-tuning R,U[,G[,KU]]: every int8-x decode matvec with R rows per
// group, U units in flight, G groups per workgroup (0: the backend's) and KU
// consecutive blocks per unit (EngineOptions.matvecTuning), to compare shapes.
const tuning = opt('--matvec-tuning')?.split(',').map(Number);
const matvecTuning = tuning
  ? { rows: tuning[0], blocksInFlight: tuning[1], groups: tuning[2] || undefined, blocksPerUnit: tuning[3] }
  : undefined;
// --few-token-prompt N: prompts of at most N tokens run their matrices as
// few-token matvecs (EngineOptions.fewTokenPrompt; 1: none), to find where
// they and the tiled matmul cross (with --pp).
const fewTokenPrompt = opt('--few-token-prompt') === undefined ? undefined : Number(opt('--few-token-prompt'));
const webgpuModule = process.env.WEBGPU_MODULE ?? join(repo, 'js/node_modules/webgpu/index.js');

const require = createRequire(import.meta.url);
const { create, globals } = require(webgpuModule);
Object.assign(globalThis, globals);
const keepAlive = setInterval(() => {}, 1000); // Dawn's promises do not hold the event loop
// WEBACCEL_DIST: another build of the package (e.g. a baseline's js/dist,
// for an A/B comparison on one machine: device_bench.sh's WEBACCEL_BASE_DIST).
const { createEngine } = await import(join(resolve(process.env.WEBACCEL_DIST ?? join(repo, 'js/dist')), 'index.js'));

const median = (xs) => {
  const a = [...xs].sort((p, q) => p - q);
  const m = a.length >> 1;
  return a.length % 2 ? a[m] : (a[m - 1] + a[m]) / 2;
};
const stddev = (xs) => {
  const mu = xs.reduce((p, q) => p + q, 0) / xs.length;
  return Math.sqrt(xs.reduce((p, q) => p + (q - mu) ** 2, 0) / Math.max(1, xs.length - 1));
};
const stats = (xs) => ({ median: median(xs), mean: xs.reduce((p, q) => p + q, 0) / xs.length, stddev: stddev(xs), min: Math.min(...xs), max: Math.max(...xs) });
const gpu = create(dawnFlags);

async function measure(precompile) {
  const engine = await createEngine({ backend: 'webgpu', gpu, threads: 1, precompile, gpuMask, matvecTuning, fewTokenPrompt });
  const t0 = performance.now();
  const m = await engine.load(model, { nCtx });
  const loadMs = performance.now() - t0;
  const info = await m.info();
  // First token after load: the pipelines either exist already or are created now.
  const firstPrompt = [info.bos_id >= 0 ? info.bos_id : 1, 2, 3, 4, 5, 6, 7, 8];
  const oneToken = { maxTokens: 1, temperature: 0, ignoreEos: true };
  const g0 = { ...engine.gpu?.stats };
  const tf = performance.now();
  for await (const _ of m.generate(firstPrompt, oneToken)) break;
  const firstTokenMs = performance.now() - tf;
  const s1 = await m.lastStats();
  const g1 = { ...engine.gpu?.stats };
  // The same prompt again at once: what the first one paid beyond a warm run.
  const ta = performance.now();
  for await (const _ of m.generate(firstPrompt, oneToken)) break;
  const againMs = performance.now() - ta;
  const s2 = await m.lastStats();
  const g2 = { ...engine.gpu?.stats };
  const d = (a, b, k) => (b[k] ?? 0) - (a[k] ?? 0);
  const detail = (s, a, b) => ({
    prompt_ms: s?.promptMs ?? null, // the prompt's evaluation inside generate()
    encode_ms: d(a, b, 'encodeMs'), wait_ms: d(a, b, 'waitMs'), dispatches: d(a, b, 'dispatches'),
    pipelines_created: d(a, b, 'pipelinesCreated'), bind_groups_created: d(a, b, 'bindGroupsCreated'),
  });
  const firstTokenDetail = { ...detail(s1, g0, g1), again_ms: againMs, again: detail(s2, g1, g2) };
  return { engine, m, info, loadMs, firstTokenMs, firstTokenDetail };
}

// (--skip-lazy: no engine without precompilation first, for runs that
// measure prompts or decoding only: half the loads)
const lazy = args.includes('--skip-lazy') ? {} : await measure(false);
await lazy.engine?.dispose();
const { engine, m, info, loadMs, firstTokenMs, firstTokenDetail } = await measure(true);
if (opt('--dispatches-per-submit') && engine.gpu) engine.gpu.dispatchesPerSubmit = Number(opt('--dispatches-per-submit'));
const bos = info.bos_id >= 0 ? info.bos_id : 1;
const greedy = { maxTokens: tgLen, temperature: 0, ignoreEos: true };
const repeatPenalty = opt('--repeat-penalty') ? Number(opt('--repeat-penalty')) : undefined;
const sampledDecode = { maxTokens: tgLen, temperature: 0.8, topK: 40, topP: 0.95, minP: 0.05, seed: 1, ignoreEos: true,
  ...(repeatPenalty ? { repeatPenalty, repeatLastN: 64 } : {}) };
const sampled = args.includes('--sampled');
const decode = sampled ? sampledDecode : greedy; // what the GPU-time measurements decode
const prompt = [bos, ...Array.from({ length: ppLen - 1 }, (_, i) => 1 + (i % (info.n_vocab - 1)))];
const pp = [];
const tg = [];
const tgSampled = [];
const cpuSide = [];
for (let r = 0; r <= reps; ++r) {
  for await (const _ of m.generate(prompt, { maxTokens: 1, temperature: 0, ignoreEos: true })) break;
  const s1 = await m.lastStats();
  let n = 0;
  const g0 = { ...engine.gpu?.stats };
  for await (const _ of m.generate([bos], greedy)) n++;
  const g1 = engine.gpu?.stats ?? {};
  const s2 = await m.lastStats();
  // Where a decode step's time goes on the CPU side: C++ recording, the
  // driver's encoding (JS + Dawn calls, submits included) and its waits.
  cpuSide.push({
    record_ms_per_token: (s2.recordMs ?? 0) / (n - 1),
    encode_ms_per_token: (g1.encodeMs - g0.encodeMs) / n,
    wait_ms_per_token: (g1.waitMs - g0.waitMs) / n,
    dispatches_per_token: (g1.dispatches - g0.dispatches) / n,
    submits_per_token: (g1.submits - g0.submits) / n,
  });
  let ns = 0;
  if (sampled) for await (const _ of m.generate([bos], sampledDecode)) ns++;
  const s3 = await m.lastStats();
  if (r === 0) continue; // warm-up
  pp.push((ppLen / s1.promptMs) * 1000);
  tg.push(((n - 1) / s2.generateMs) * 1000);
  if (sampled) tgSampled.push(((ns - 1) / s3.generateMs) * 1000);
}
// --profile: one more pp512 and tg128 with GPU timestamps around every
// dispatch (each in its own pass), summed per pipeline.
let profile = null;
if (args.includes('--profile') && engine.gpu) {
  const summarize = (p, per) =>
    Object.fromEntries(
      Object.entries(p)
        .sort((x, y) => y[1].ms - x[1].ms)
        .map(([k, v]) => [k, { ms_per: +(v.ms / per).toFixed(4), dispatches_per: +(v.dispatches / per).toFixed(1) }]),
    );
  engine.gpu.profile = {};
  for await (const _ of m.generate(prompt, { maxTokens: 1, temperature: 0, ignoreEos: true })) break;
  const pp512 = summarize(engine.gpu.profile, 1);
  engine.gpu.profile = {};
  let n = 0;
  for await (const _ of m.generate([bos], { maxTokens: 128, temperature: 0, ignoreEos: true })) n++;
  const tg128 = summarize(engine.gpu.profile, n);
  engine.gpu.profile = null;
  profile = { pp512_ms_per_prompt: pp512, tg128_ms_per_token: tg128 };
}
if (args.includes('--stream-gpu-time') && engine.gpu) {
  // GPU ms per decode step, the pipelines of `repeat` dispatched twice.
  const streamMs = async (repeat, skip = null) => {
    engine.gpu.profile = {};
    engine.gpu.profileStreams = true;
    engine.gpu.repeatLabels = repeat ? new Set([repeat]) : null;
    engine.gpu.skipLabels = skip ? new Set([skip]) : null;
    for await (const _ of m.generate([bos], decode));
    const s = engine.gpu.profile['(stream)'];
    engine.gpu.profile = null;
    engine.gpu.profileStreams = false;
    engine.gpu.repeatLabels = null;
    engine.gpu.skipLabels = null;
    return s ? s.ms / s.dispatches : null;
  };
  const base = await streamMs(null);
  profile = { ...profile, tg128_stream_ms: base === null ? null : +base.toFixed(4) };
  const kernelTimes = args.includes('--kernel-times');
  const skipTimes = args.includes('--kernel-skip-times');
  if ((kernelTimes || skipTimes) && base !== null) {
    // the pipelines a decode step uses, from one step timed per dispatch
    engine.gpu.profile = {};
    for await (const _ of m.generate([bos], { ...decode, maxTokens: 2 }));
    const labels = Object.keys(engine.gpu.profile);
    engine.gpu.profile = null;
    if (kernelTimes) {
      const inStream = {};
      for (const label of labels) inStream[label] = +((await streamMs(label)) - base).toFixed(4);
      profile.tg128_in_stream_ms = inStream;
    }
    if (skipTimes) {
      const saved = {};
      // (not the token's own argmax/sample: the step's readback needs it)
      for (const label of labels.filter((l) => !/^(argmax|sample)/.test(l))) {
        saved[label] = +(base - (await streamMs(null, label))).toFixed(4);
      }
      profile.tg128_skip_saves_ms = saved;
    }
  }
}
// --cpu-profile: one more tg128 under V8's sampling profiler (50 us), where
// the host's time per decode step goes (JS, Dawn's binding, wasm functions by
// index: the wasm build's .symbols file names them; see
// bench/webgpu/cpuprofile_summary.mjs).
const cpuProfileOut = opt('--cpu-profile');
if (cpuProfileOut) {
  const { Session } = await import('node:inspector/promises');
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.setSamplingInterval', { interval: 50 });
  await session.post('Profiler.start');
  for await (const _ of m.generate([bos], { maxTokens: 128, temperature: 0, ignoreEos: true }));
  const { profile: cpuProfile } = await session.post('Profiler.stop');
  writeFileSync(cpuProfileOut, JSON.stringify(cpuProfile));
  session.disconnect();
}
const caps = engine.capabilities();
const ppS = stats(pp);
const tgS = stats(tg);
const run = {
  model_file: model,
  model_bytes: statSync(model).size,
  weight_type: info.weight_type,
  n_ctx: info.n_ctx,
  backend_used: info.backend,
  backend_reason: info.backend_reason,
  threads: 1,
  ok: info.backend === 'webgpu',
  load_ms: loadMs,
  load_ms_lazy: lazy.loadMs ?? null,
  first_token_ms_precompiled: firstTokenMs,
  first_token_ms_lazy: lazy.firstTokenMs ?? null,
  first_token_detail_precompiled: firstTokenDetail,
  first_token_detail_lazy: lazy.firstTokenDetail ?? null,
  results: [
    { test: `pp${ppLen}`, tps: ppS.median, ...ppS, reps, all: pp },
    { test: `tg${tgLen}`, tps: tgS.median, ...tgS, reps, all: tg },
    ...(sampled ? [{ test: `tg${tgLen}-sampled`, tps: median(tgSampled), ...stats(tgSampled), reps, all: tgSampled }] : []),
  ],
  gpu_stats: engine.gpu?.stats,
  cpu_side: cpuSide.at(-1),
  profile,
};
const result = {
  tool: 'bench/webgpu/webaccel-node.mjs',
  engine: 'webaccel',
  label,
  date: new Date().toISOString(),
  node: process.version,
  adapter: caps.webgpu.adapter,
  features: caps.webgpu.features,
  profile: caps.profile.reasons,
  dawn_flags: dawnFlags,
  runs: [run],
  ok: run.ok,
};
await engine.dispose();
clearInterval(keepAlive);
console.log(JSON.stringify(result, null, 2));
if (out) writeFileSync(out, JSON.stringify(result, null, 2));
