#!/usr/bin/env node
// webaccel's wasm build against wllama 3.8.1's CPU path (llama.cpp compiled
// to wasm) in one headless Chromium session, and against webaccel's native
// CLI, on the same GGUF file with the same thread count. Engines take turns
// within every repetition (the order rotates), so a change in machine load
// hits all of them alike. Started by bench/run_wasm_bench.sh, which builds
// and installs what this needs.
//
//   node bench/wasm/run.mjs --model M.gguf [--model ...] [--threads 1,2] [--reps 3]
//        [--pp 512] [--tg 128] [--engines webaccel-wasm,wllama,webaccel-native]
//   webaccel-wasm: the package's choice of module (relaxed SIMD where the
//   browser has it); webaccel-wasm-simd128: the SIMD128 module always
//   (relaxedSimd: false), for same-run ratios of the two.
//        [--json out.json] [--timeout 3600] [--quiet-load 1.0 [--quiet-wait 1800]] [--verbose]
//
// --quiet-load L waits (up to --quiet-wait seconds, then gives up) until the
// 1-minute load average is below L before measuring: on a shared 2-core
// machine other work distorts the numbers, wllama's spin-waiting most.
//
// Tests, as llama-bench names them: pp<N> = tokens/s evaluating a prompt of N
// token ids in one call; tg<N> = tokens/s generating N tokens one at a time
// after a short prompt, greedy, end-of-generation ignored. wllama reports its
// own (llama-server) timings; webaccel its GenerationStats; the native CLI its
// `webaccel bench` rows (-r 1, after its own warm-up).
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

import { serve } from '../../scripts/serve.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const repo = resolve(here, '../..');
const ENGINES = ['webaccel-wasm', 'wllama', 'webaccel-native', 'webaccel-wasm-simd128'];

function usage(msg) {
  if (msg) console.error(`run.mjs: ${msg}`);
  const lines = readFileSync(fileURLToPath(import.meta.url), 'utf8').split('\n').slice(1);
  console.error(lines.slice(0, lines.findIndex((l) => !l.startsWith('//'))).join('\n'));
  process.exit(2);
}

function parseArgs(argv) {
  const o = {
    models: [], threads: [2], reps: 3, pp: 512, tg: 128, engines: ENGINES.slice(0, 3), json: null, timeout: 3600, verbose: false,
    quietLoad: null, quietWait: 1800,
    cli: process.env.WEBACCEL_CLI ?? join(repo, 'build/native/bin/webaccel'),
    chromium: process.env.CHROMIUM ?? '/usr/bin/chromium',
  };
  for (let i = 0; i < argv.length; ++i) {
    const a = argv[i];
    const next = () => (i + 1 < argv.length ? argv[++i] : usage(`${a} needs a value`));
    const int = (v, lo) => (Number.isInteger(+v) && +v >= lo ? +v : usage(`${a}: bad value ${v}`));
    switch (a) {
      case '--model': o.models.push(resolve(next())); break;
      case '--threads': o.threads = next().split(',').map((v) => int(v, 1)); break;
      case '--reps': o.reps = int(next(), 1); break;
      case '--pp': o.pp = int(next(), 1); break;
      case '--tg': o.tg = int(next(), 1); break;
      case '--engines': o.engines = next().split(','); break;
      case '--json': o.json = resolve(next()); break;
      case '--timeout': o.timeout = int(next(), 1); break;
      case '--cli': o.cli = resolve(next()); break;
      case '--chromium': o.chromium = next(); break;
      case '--verbose': o.verbose = true; break;
      case '--quiet-load': o.quietLoad = Number(next()); if (!(o.quietLoad > 0)) usage('--quiet-load needs a positive number'); break;
      case '--quiet-wait': o.quietWait = int(next(), 0); break;
      case '-h': case '--help': usage(); break;
      default: usage(`unknown argument ${a}`);
    }
  }
  if (!o.models.length) usage('--model is required');
  for (const e of o.engines) if (!ENGINES.includes(e)) usage(`unknown engine ${e} (${ENGINES.join(', ')})`);
  for (const m of o.models) if (!existsSync(m)) usage(`no such model ${m}`);
  return o;
}

const median = (xs) => {
  const a = [...xs].sort((p, q) => p - q);
  const m = a.length >> 1;
  return a.length % 2 ? a[m] : (a[m - 1] + a[m]) / 2;
};
const sd = (xs) => {
  if (xs.length < 2) return 0;
  const m = xs.reduce((s, x) => s + x, 0) / xs.length;
  return Math.sqrt(xs.reduce((s, x) => s + (x - m) ** 2, 0) / (xs.length - 1));
};
const fmtSize = (b) => (b >= 1024 ** 3 ? `${(b / 1024 ** 3).toFixed(2)} GiB` : `${(b / 1024 ** 2).toFixed(2)} MiB`);
const cpuModel = () => (readFileSync('/proc/cpuinfo', 'utf8').match(/model name\s*:\s*(.*)/) ?? [])[1] ?? 'unknown';
const load = () => os.loadavg().map((x) => x.toFixed(2)).join(' ');
const log = (s) => process.stderr.write(`${s}\n`);

// Rejects after `s` seconds: no step of the benchmark may hang the script.
function within(s, what, p) {
  let t;
  return Promise.race([p, new Promise((_, rej) => (t = setTimeout(() => rej(new Error(`${what}: no result after ${s} s`)), s * 1000)))]).finally(
    () => clearTimeout(t),
  );
}

function runNative(o, model, threads) {
  return new Promise((ok, fail) => {
    const args = ['bench', '-m', model, '-t', String(threads), '-p', String(o.pp), '-n', String(o.tg), '-r', '1', '-o', 'json'];
    const child = spawn(o.cli, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    const t = setTimeout(() => child.kill('SIGKILL'), o.timeout * 1000);
    child.on('close', (code) => {
      clearTimeout(t);
      if (code !== 0) return fail(new Error(`${o.cli} ${args.join(' ')}: exit ${code}\n${err}`));
      const rows = JSON.parse(out);
      const pp = rows.find((r) => r.n_prompt > 0);
      const tg = rows.find((r) => r.n_gen > 0);
      ok({ pp: pp.samples_ts[0], tg: tg.samples_ts[0], backend: pp.backends });
    });
  });
}

async function main() {
  const o = parseArgs(process.argv.slice(2));
  const wllamaDir = join(here, 'node_modules/@wllama/wllama');
  if (o.engines.includes('wllama') && !existsSync(join(wllamaDir, 'esm/index.js'))) {
    usage('wllama is not installed: run bench/run_wasm_bench.sh (it runs npm ci in bench/wasm)');
  }
  if (!existsSync(join(repo, 'js/dist/wasm/webaccel-mt.wasm'))) usage('js/dist is not built: run make wasm');
  if (o.engines.includes('webaccel-native') && !existsSync(o.cli)) usage(`no native CLI at ${o.cli}`);
  const { chromium } = createRequire(join(repo, 'js/package.json'))('playwright-core');

  if (o.quietLoad !== null) {
    const until = Date.now() + o.quietWait * 1000;
    while (os.loadavg()[0] >= o.quietLoad) {
      if (Date.now() > until) throw new Error(`load stayed at or above ${o.quietLoad} for ${o.quietWait} s (now ${load()}); not measuring`);
      log(`# waiting for load < ${o.quietLoad} (now ${load()})`);
      await new Promise((r) => setTimeout(r, 15_000));
    }
  }
  const env = {
    date: new Date().toISOString(),
    cpu: cpuModel(),
    cores: os.cpus().length,
    load_start: load(),
    commit: (() => {
      try {
        return execFileSync('git', ['-C', repo, 'describe', '--always', '--dirty'], { encoding: 'utf8' }).trim();
      } catch {
        return 'unknown';
      }
    })(),
  };
  log(`# ${env.date} | ${env.cpu} (${env.cores} cores) | load ${env.load_start} | ${env.commit}`);
  if (os.loadavg()[0] >= 1) log('# WARNING: load average >= 1: other work is running; treat the numbers as rough');

  const samples = []; // { model, engine, threads, test, ts }
  const extra = [];
  const profile = mkdtempSync(join(os.tmpdir(), 'wa-bench-chromium-'));
  let server;
  let browser;
  const cleanup = async () => {
    await browser?.close().catch(() => {});
    server?.close();
    rmSync(profile, { recursive: true, force: true });
  };
  const killer = setTimeout(() => {
    log('run.mjs: global timeout');
    cleanup().finally(() => process.exit(3));
  }, o.timeout * 1000 * (o.reps + 1) * o.models.length * o.threads.length);
  killer.unref();

  try {
    const mounts = { '/wllama/': wllamaDir };
    o.models.forEach((m, i) => (mounts[`/model${i}/`] = dirname(m)));
    ({ server, url: env.url } = await serve({ root: repo, port: 0, mounts }));
    browser = await chromium.launchPersistentContext(profile, {
      executablePath: o.chromium,
      headless: true,
      // No GPU: both engines run their wasm CPU paths. No background traffic.
      args: ['--headless=new', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking',
        '--disable-component-update', '--disable-sync', '--disable-quic', '--disable-extensions', '--mute-audio'],
    });
    const page = await browser.newPage();
    page.on('console', (m) => (o.verbose || m.text().startsWith('[bench]')) && log(`  [page] ${m.text()}`));
    page.on('pageerror', (e) => log(`  [page error] ${e.message}`));
    await page.goto(`${env.url}/bench/wasm/`);
    await page.waitForFunction(() => window.benchReady === true, null, { timeout: 30_000 });
    if (o.verbose) await page.evaluate(() => (window.benchVerbose = true));

    for (const [mi, model] of o.models.entries()) {
      const name = basename(model);
      const size = statSync(model).size;
      const init = await within(o.timeout, 'fetching the model', page.evaluate((m) => window.benchInit({ model: m }), `/model${mi}/${encodeURIComponent(name)}`));
      env.browser = init.userAgent.match(/(HeadlessChrome|Chrome)\/[\d.]+/)?.[0] ?? init.userAgent;
      if (!init.crossOriginIsolated) throw new Error('the bench page is not cross-origin isolated');
      for (const threads of o.threads) {
        const cfg = { threads, pp: o.pp, tg: o.tg, ctx: Math.ceil((o.pp + o.tg + 64) / 256) * 256 };
        for (let r = 0; r < o.reps; ++r) {
          // Rotate the order each repetition.
          const order = o.engines.map((_, i) => o.engines[(i + r) % o.engines.length]);
          for (const engine of order) {
            const t = Date.now();
            let res;
            if (engine === 'webaccel-native') {
              res = await runNative(o, model, threads);
              extra.push({ model: name, engine, threads, rep: r, backend: res.backend });
            } else {
              const fn = engine === 'wllama' ? 'benchWllama' : 'benchWebaccel';
              const c = engine === 'webaccel-wasm-simd128' ? { ...cfg, relaxedSimd: false } : cfg;
              const x = await within(o.timeout, `${engine} on ${name}`, page.evaluate(([f, c]) => window[f](c), [fn, c]));
              res = { pp: (x.pp.n / x.pp.ms) * 1000, tg: (x.tg.n / x.tg.ms) * 1000 };
              const { pp: _p, tg: _t, ...rest } = x;
              extra.push({ model: name, engine, threads, rep: r, ...rest });
              if (engine.startsWith('webaccel-wasm') && x.profile.threads !== threads) throw new Error(`webaccel ran ${x.profile.threads} threads, not ${threads}`);
              if (engine === 'webaccel-wasm-simd128' && !x.profile.build.startsWith('wasm-simd128-')) throw new Error(`webaccel-wasm-simd128 ran ${x.profile.build}`);
              if (engine === 'wllama' && (x.threads !== threads || x.buffers.some((b) => !/^CPU/.test(b)))) {
                throw new Error(`wllama ran ${x.threads} threads on ${x.buffers.join(',')}, not ${threads} on the CPU`);
              }
            }
            extra[extra.length - 1].load = load();
            samples.push({ model: name, size, engine, threads, test: `pp${o.pp}`, ts: res.pp });
            samples.push({ model: name, size, engine, threads, test: `tg${o.tg}`, ts: res.tg });
            log(`${name} t=${threads} rep ${r + 1}/${o.reps} ${engine}: pp${o.pp} ${res.pp.toFixed(2)} t/s, tg${o.tg} ${res.tg.toFixed(2)} t/s (${((Date.now() - t) / 1000).toFixed(0)} s, load ${load()})`);
          }
        }
      }
    }
  } finally {
    clearTimeout(killer);
    await cleanup();
  }
  env.load_end = load();

  // The table: one row per model x engine x threads x test.
  const RUNTIME = { 'webaccel-wasm': env.browser, 'webaccel-wasm-simd128': env.browser, wllama: env.browser, 'webaccel-native': 'native' };
  // webaccel-wasm's module as the package chose it (profile.build).
  const chosen = extra.find((x) => x.engine === 'webaccel-wasm')?.profile?.build ?? 'wasm';
  const LABEL = {
    'webaccel-wasm': `webaccel (${chosen})`,
    'webaccel-wasm-simd128': 'webaccel (wasm-simd128, relaxedSimd: false)',
    wllama: 'wllama 3.8.1 (wasm CPU)',
    'webaccel-native': 'webaccel (native CLI)',
  };
  const rows = [];
  const key = (s) => `${s.model}|${s.engine}|${s.threads}|${s.test}`;
  for (const s of samples) {
    let row = rows.find((r) => key(r) === key(s));
    if (!row) rows.push((row = { model: s.model, size: s.size, engine: s.engine, threads: s.threads, test: s.test, samples_ts: [] }));
    row.samples_ts.push(s.ts);
  }
  for (const r of rows) {
    r.median_ts = median(r.samples_ts);
    r.sd_ts = sd(r.samples_ts);
    r.runtime = RUNTIME[r.engine];
  }
  const lines = ['| model | size | engine | runtime | threads | test | t/s |', '| --- | ---: | --- | --- | ---: | ---: | ---: |'];
  for (const r of rows) {
    lines.push(`| ${r.model} | ${fmtSize(r.size)} | ${LABEL[r.engine]} | ${r.runtime} | ${r.threads} | ${r.test} | ${r.median_ts.toFixed(2)} ± ${r.sd_ts.toFixed(2)} |`);
  }
  // Ratios of medians, with the goals.
  const ratios = [];
  const get = (m, e, t, test) => rows.find((r) => r.model === m && r.engine === e && r.threads === t && r.test === test)?.median_ts;
  for (const r of rows.filter((x) => x.engine === 'webaccel-wasm')) {
    for (const [peer, goal] of [['wllama', 3], ['webaccel-native', 0.5], ['webaccel-wasm-simd128', null]]) {
      const p = get(r.model, peer, r.threads, r.test);
      if (p) ratios.push({ model: r.model, threads: r.threads, test: r.test, vs: peer, ratio: r.median_ts / p, goal });
    }
  }
  if (ratios.length) {
    lines.push('', '| model | threads | test | webaccel wasm vs | ratio | goal |', '| --- | ---: | ---: | --- | ---: | ---: |');
    for (const q of ratios) {
      const goal = q.goal === null ? '-' : `>= ${q.goal}x ${q.ratio >= q.goal ? 'met' : 'NOT met'}`;
      lines.push(`| ${q.model} | ${q.threads} | ${q.test} | ${q.vs} | ${q.ratio.toFixed(2)}x | ${goal} |`);
    }
  }
  lines.push('', `${env.date}, ${env.cpu} (${env.cores} cores), ${env.browser}, load ${env.load_start} -> ${env.load_end}, ${o.reps} rep(s), median ± sd, ${env.commit}`);
  console.log(lines.join('\n'));
  if (o.json) {
    writeFileSync(o.json, JSON.stringify({ env, options: { ...o, cli: undefined }, rows, ratios, runs: extra }, null, 2) + '\n');
    log(`wrote ${o.json}`);
  }
}

main().catch((e) => {
  console.error(`run.mjs: ${e.stack ?? e}`);
  process.exit(1);
});
