// The page side of bench/wasm/run.mjs: runs one engine's pp/tg measurement
// per call, on the model the page fetched once, so that both wasm engines
// read the same Blob in the same browser session. Each call creates the
// engine, loads, warms up, measures and disposes, so that an idle engine's
// threads cannot take CPU from the one being measured.
//
//   window.benchInit({ model })            -> { bytes, crossOriginIsolated, userAgent }
//   window.benchWebaccel({ threads, pp, tg, ctx, relaxedSimd })  -> { pp: {n, ms}, tg: {n, ms}, load_ms, profile }
//   window.benchWllama({ threads, pp, tg, ctx })    -> { pp: {n, ms}, tg: {n, ms}, load_ms, ... }
import { createEngine } from '/js/dist/index.js';
import { Wllama } from '/wllama/esm/index.js';

let blob = null;
let prompt = null; // for wllama: { text of exactly `pp` tokens (BOS included), logit_bias }

const log = (s) => console.log(`[bench] ${s}`);

window.benchInit = async ({ model }) => {
  const t = performance.now();
  const res = await fetch(model);
  if (!res.ok) throw new Error(`fetch ${model}: HTTP ${res.status}`);
  blob = await res.blob();
  log(`model fetched: ${blob.size} bytes in ${(performance.now() - t).toFixed(0)} ms`);
  return { bytes: blob.size, crossOriginIsolated: self.crossOriginIsolated, userAgent: navigator.userAgent };
};

// Token ids for the prompt test: a fixed pseudo-random sequence (no special
// ids below 3), the same in every run.
function promptIds(n, nVocab, bos) {
  const ids = [bos];
  let x = 12345;
  while (ids.length < n) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    ids.push(3 + ((x >>> 8) % (nVocab - 3)));
  }
  return ids;
}

// relaxedSimd: false runs the SIMD128 module even where relaxed SIMD exists
// (engine webaccel-wasm-simd128 of run.mjs: before/after in one run).
window.benchWebaccel = async ({ threads, pp, tg, ctx, relaxedSimd }) => {
  const t0 = performance.now();
  const engine = await createEngine({ backend: 'wasm', threads, relaxedSimd });
  try {
    const model = await engine.load(blob, { nCtx: ctx });
    const loadMs = performance.now() - t0;
    const info = await model.info();
    const ids = promptIds(pp, info.n_vocab, info.bos_id);
    // Warm-up, as llama-bench does: a short prompt and a few tokens.
    for await (const _ of model.generate(ids.slice(0, 16), { maxTokens: 4, temperature: 0, ignoreEos: true }));
    // pp: the prompt's evaluation time (one token is sampled, none evaluated after it).
    for await (const _ of model.generate(ids, { maxTokens: 1, temperature: 0 }));
    const p = await model.lastStats();
    // tg: tokens generated one at a time after the BOS token, EOS ignored.
    let n = 0;
    for await (const _ of model.generate([info.bos_id], { maxTokens: tg, temperature: 0, ignoreEos: true })) ++n;
    const g = await model.lastStats();
    if (p.promptTokens !== pp || g.generatedTokens !== tg || n !== tg) {
      throw new Error(`webaccel ran ${p.promptTokens} prompt / ${g.generatedTokens} generated tokens, not ${pp} / ${tg}`);
    }
    return {
      pp: { n: p.promptTokens, ms: p.promptMs },
      tg: { n: g.generatedTokens, ms: g.generateMs },
      load_ms: loadMs,
      profile: engine.capabilities().profile,
      weight_type: info.weight_type,
    };
  } finally {
    await engine.dispose();
  }
};

// wllama 3.8.1 takes text prompts only: find text of exactly `pp` tokens with
// webaccel's tokenizer (the same GGUF vocabulary; its SentencePiece matches
// llama.cpp's on the shared test vocabularies). wllama's own prompt_n is
// checked against it in every run.
//
// wllama also fails on a completion whose text is not valid UTF-8 (its JSON
// encoder throws), which random-weight models produce through SentencePiece
// byte tokens <0x80>..<0xFF>; a logit bias keeps greedy decoding off them (a
// per-token cost of a few hundred additions; the forward pass is unchanged).
async function calibrate(pp) {
  const engine = await createEngine({ backend: 'wasm', threads: 1, worker: true });
  try {
    const model = await engine.load(blob, { nCtx: 64 });
    const count = async (s) => (await model.tokenize(s)).length;
    const words = ['Once', ' upon', ' a', ' time', ' there', ' was', ' a', ' little', ' fox', ' who', ' liked', ' to', ' run', '.'];
    let text = '';
    for (let i = 0; (await count(text)) < pp - 8; ++i) text += words[i % words.length];
    // Finish with pieces that add one token each.
    for (const filler of [' a', ' the', ' I', '.', ' and']) {
      while ((await count(text)) < pp && (await count(text + filler)) === (await count(text)) + 1) text += filler;
    }
    const n = await count(text);
    if (n !== pp) throw new Error(`could not build a prompt of ${pp} tokens (got ${n})`);
    // Byte tokens where LLaMA's SentencePiece puts them: ids 3 + byte.
    const logitBias = {};
    if ((await model.detokenize([3 + 0x41])) === 'A') for (let b = 0x80; b < 0x100; ++b) logitBias[3 + b] = -1e4;
    return { text, logitBias };
  } finally {
    await engine.dispose();
  }
}

window.benchWllama = async ({ threads, pp, tg, ctx }) => {
  prompt ??= await calibrate(pp);
  const lines = [];
  const keep = (lvl) => (...a) => { lines.push(`[${lvl}] ${a.join(' ')}`); if (window.benchVerbose) console.log(`[wllama ${lvl}] ${a.join(' ')}`); };
  const w = new Wllama(
    { default: new URL('/wllama/esm/wasm/wllama.wasm', location.href).href },
    { logger: { debug: keep('debug'), log: keep('log'), warn: keep('warn'), error: keep('error') }, suppressNativeLog: false },
  );
  w.setCompat(null); // never the CDN build
  const t0 = performance.now();
  try {
    await w.loadModel([blob], { n_threads: threads, n_ctx: ctx, n_gpu_layers: 0, n_parallel: 1, seed: 42 });
    const loadMs = performance.now() - t0;
    const req = (text, maxTokens) => ({
      prompt: text,
      max_tokens: maxTokens,
      temperature: 0,
      seed: 42,
      ignore_eos: true,
      cache_prompt: false,
      stream: false,
      logit_bias: prompt.logitBias,
    });
    if (window.benchVerbose) log(`wllama loaded; logit_bias on ${Object.keys(prompt.logitBias).length} ids; prompt ${JSON.stringify(prompt.text)}`);
    const wu = await w.createCompletion(req('Once upon a time', 4)); // warm-up
    if (window.benchVerbose) log(`wllama warm-up: ${JSON.stringify(wu).slice(0, 300)}`);
    const p = (await w.createCompletion(req(prompt.text, 1))).timings ?? {};
    if (window.benchVerbose) log(`wllama pp: ${JSON.stringify(p)}`);
    const g = (await w.createCompletion(req('Once upon a time', tg))).timings ?? {};
    if (window.benchVerbose) log(`wllama tg: ${JSON.stringify(g)}`);
    if (p.prompt_n !== pp || g.predicted_n !== tg) {
      throw new Error(`wllama ran ${p.prompt_n} prompt / ${g.predicted_n} generated tokens, not ${pp} / ${tg}`);
    }
    const backends = new Set(lines.map((l) => l.match(/load_tensors:\s+(\S+) model buffer size/)?.[1]).filter(Boolean));
    return {
      pp: { n: p.prompt_n, ms: p.prompt_ms },
      tg: { n: g.predicted_n, ms: g.predicted_ms },
      load_ms: loadMs,
      multithread: w.isMultithread(),
      threads: w.getNumThreads(),
      buffers: [...backends],
      libllama: Wllama.getLibllamaVersion?.(),
    };
  } finally {
    await w.exit().catch(() => {});
  }
};

window.benchReady = true;
