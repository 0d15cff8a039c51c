// llama-bench-style pp/tg rows for the wasm build under Node, measured the
// way `webaccel bench` measures the native build (tools/webaccel/cmd_bench.cpp):
// the same random prompt tokens, a fresh context per repetition, one warm-up
// run per test, f16 KV cache, n_ctx = p + n, the C API's default batch (512).
// Rows report mean +- sample standard deviation and the median of tokens/s.
//
//   make wasm
//   node bench/wasm_bench.mjs -m model.gguf -t 2 -p 512 -n 128 -r 3 [-o md|json] [--isa scalar]
//        [--relaxed 1] [--clock cpu] [--wasm-base DIR/]
//
// -t 1 uses the single-threaded build, -t > 1 the pthreads build with that
// many threads (the thread pool is started before the module resolves).
// --relaxed 1: the relaxed-SIMD module (webaccel-relaxed-*; Node 20 gets
// --experimental-wasm-relaxed-simd set in-process). --isa A,B,...: each
// repetition runs every listed kernel table, in an order that rotates, one
// row each (e.g. --relaxed 1 --isa wasm_relaxed,wasm_simd128: the same
// module and process, the q4_0 kernels alone differing). --clock cpu: the
// process's CPU time (user + system) instead of wall time; with -t 1 that
// is the work itself, which other processes on a shared machine disturb
// less than wall time. --wasm-base DIR/: the modules from another build's
// js/dist/wasm/ (an A/B of two builds in one process's environment).
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import v8 from 'node:v8';
import { loadModule } from '../js/dist/native.js';

function parseArgs(argv) {
  const o = { m: '', t: 1, p: 512, n: 128, r: 3, o: 'md', isa: '', relaxed: 0, clock: 'wall', 'wasm-base': '' };
  for (let i = 0; i < argv.length; i += 2) {
    const k = argv[i].replace(/^--?/, '');
    if (!(k in o) || i + 1 >= argv.length) throw new Error(`unknown or incomplete argument ${argv[i]}`);
    o[k] = typeof o[k] === 'number' ? Number(argv[i + 1]) : argv[i + 1];
  }
  if (!o.m) throw new Error('usage: wasm_bench.mjs -m model.gguf [-t threads] [-p 512] [-n 128] [-r 3] [-o md|json] [--isa name[,name...]] [--relaxed 1] [--clock wall|cpu]');
  return o;
}

const WA_KV_F16 = 2;

let now = () => Number(process.hrtime.bigint()) / 1e9;

async function main() {
  const o = parseArgs(process.argv.slice(2));
  if (o.clock === 'cpu') {
    now = () => {
      const u = process.cpuUsage();
      return (u.user + u.system) / 1e6;
    };
  } else if (o.clock !== 'wall') {
    throw new Error(`--clock wall|cpu (got ${o.clock})`);
  }
  const variant = o.t > 1 ? 'mt' : 'st';
  if (o.relaxed) v8.setFlagsFromString('--experimental-wasm-relaxed-simd');
  const n = await loadModule({ variant, threads: o.t, relaxed: !!o.relaxed, wasmBase: o['wasm-base'] || undefined });
  const isas = o.isa ? o.isa.split(',') : [''];
  if (isas[0]) n.setIsa(isas[0]);
  const info = n.buildInfo();
  const check = (st, what) => {
    if (st !== 0) throw new Error(`${what} failed with status ${st}`);
  };
  check(n.call('engine_create', o.t, n.out(0)), 'engine_create');
  const engine = n.outU32(0);
  const bytes = readFileSync(o.m);
  const ptr = n.alloc(bytes.length);
  n.u8(ptr, bytes.length).set(bytes);
  check(n.call('model_load', engine, ptr, bytes.length, n.out(0)), `model_load: ${n.cstr(n.call('engine_last_error', engine))}`);
  const model = n.outU32(0);
  const nVocab = n.call('model_n_vocab', model);
  check(n.call('session_create', model, Math.max(o.p + o.n, 16), WA_KV_F16, n.out(0)), 'session_create');
  const session = n.outU32(0);

  // cmd_bench.cpp's token stream: a 64-bit LCG, bits 33.. modulo the vocabulary.
  const toks = [];
  let x = 0x1234567n;
  for (let i = 0; i < Math.max(o.p, 1); ++i) {
    x = (x * 6364136223846793005n + 1442695040888963407n) & 0xffffffffffffffffn;
    toks.push(Number((x >> 33n) % BigInt(nVocab)));
  }
  const prompt = n.putInts(toks);
  const one = n.alloc(4);
  const runTest = (nPrompt, nGen) => {
    n.call('session_reset', session);
    const t0 = now();
    if (nPrompt > 0) check(n.call('session_eval', session, prompt, nPrompt, 0), 'session_eval');
    let tok = toks[0];
    for (let i = 0; i < nGen; ++i) {
      n.i32(one, 1)[0] = tok;
      check(n.call('session_eval', session, one, 1, 0), 'session_eval');
      tok = (tok * 7 + 13) % nVocab;
    }
    return now() - t0;
  };

  const tests = [];
  if (o.p > 0) tests.push({ test: `pp${o.p}`, nPrompt: o.p, nGen: 0 });
  if (o.n > 0) tests.push({ test: `tg${o.n}`, nPrompt: 0, nGen: o.n });
  const rows = [];
  for (const t of tests) {
    const group = isas.map((isa) => ({ ...t, isa, samples: [] }));
    for (const row of group) {
      if (row.isa) n.setIsa(row.isa);
      runTest(row.nPrompt, Math.min(row.nGen, 8)); // warm-up (also tiers the wasm code up)
    }
    for (let i = 0; i < o.r; ++i) {
      for (let j = 0; j < group.length; ++j) {
        const row = group[(i + j) % group.length];
        if (row.isa) n.setIsa(row.isa);
        row.samples.push((row.nPrompt + row.nGen) / runTest(row.nPrompt, row.nGen));
      }
    }
    rows.push(...group);
  }
  for (const row of rows) {
    const s = row.samples;
    row.mean = s.reduce((a, b) => a + b, 0) / s.length;
    row.sd = s.length > 1 ? Math.sqrt(s.reduce((a, b) => a + (b - row.mean) ** 2, 0) / (s.length - 1)) : 0;
    row.median = [...s].sort((a, b) => a - b)[Math.floor(s.length / 2)];
  }
  const module = `wasm-${o.relaxed ? 'relaxed-' : ''}${variant}`;
  for (const r of rows) r.backend = `${module} (${r.isa || n.cstr(n.call('isa'))})`;
  if (o.o === 'json') {
    console.log(JSON.stringify({ model: basename(o.m), threads: o.t, clock: o.clock, node: process.version, build: info, rows }, null, 1));
  } else {
    console.log(`| model | backend | threads | test | t/s (${o.clock} clock) | median |`);
    console.log('| --- | --- | ---: | --- | ---: | ---: |');
    for (const r of rows) {
      console.log(`| ${basename(o.m)} | ${r.backend} | ${o.t} | ${r.test} | ${r.mean.toFixed(2)} ± ${r.sd.toFixed(2)} | ${r.median.toFixed(2)} |`);
    }
  }
  n.call('session_release', session);
  n.call('model_release', model);
  n.call('engine_release', engine);
  // The pthreads build keeps its workers alive; the run is over.
  process.exit(0);
}

main().catch((e) => {
  console.error(`wasm_bench: ${e.message}`);
  process.exit(1);
});
