#!/usr/bin/env node
// Merges the JSON files of one device_bench.sh run (machine.json, gpu-env*.json,
// probe.json, wllama-*.json, webaccel-*.json) into one results.json and a
// markdown table. Every decode rate is also given as the share of the
// streaming-read bandwidth measured in the same run that it implies:
//   tg t/s x model bytes / (probe GB/s)   (the weights are read once per token;
//   the KV cache at these lengths is small beside them).
//
// usage: node bench/webgpu/summarize.mjs --dir RESULTS_DIR [--json OUT.json] [--md OUT.md] [--steps "..."]

import fs from 'node:fs';
import path from 'node:path';

function parseArgs(argv) {
  const o = { dir: null, json: null, md: null, steps: '' };
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i].replace(/^--/, '');
    if (!(k in o)) throw new Error(`unknown argument ${argv[i]}`);
    o[k] = argv[++i];
  }
  if (!o.dir) throw new Error('--dir is required');
  return o;
}

const readJson = (f) => {
  try { return JSON.parse(fs.readFileSync(f, 'utf8')); } catch (e) { return { unreadable: String(e.message) }; }
};
const fmt = (x, d = 1) => (x == null || !Number.isFinite(x) ? '–' : x.toFixed(d));

export function summarize(dir) {
  const files = fs.existsSync(dir) ? fs.readdirSync(dir).filter((f) => f.endsWith('.json')).sort() : [];
  const raw = Object.fromEntries(files.map((f) => [f.replace(/\.json$/, ''), readJson(path.join(dir, f))]));
  const probe = raw.probe;
  const gbps = probe?.stream_read?.gbps ?? null;
  const caps = {};
  for (const [k, v] of Object.entries(raw)) {
    if (!k.startsWith('gpu-env')) continue;
    caps[k === 'gpu-env' ? 'default' : 'f16_toggle'] = v.adapter
      ? { adapter: [v.adapter.vendor, v.adapter.architecture, v.adapter.device, v.adapter.description].filter(Boolean).join(' / '),
          shader_f16: v.adapter.shaderF16, features: v.adapter.features,
          maxBufferSize: v.adapter.limits?.maxBufferSize, maxStorageBufferBindingSize: v.adapter.limits?.maxStorageBufferBindingSize,
          maxComputeWorkgroupStorageSize: v.adapter.limits?.maxComputeWorkgroupStorageSize,
          maxComputeInvocationsPerWorkgroup: v.adapter.limits?.maxComputeInvocationsPerWorkgroup,
          subgroup_sizes: [v.adapter.subgroupMinSize, v.adapter.subgroupMaxSize],
          checks: Object.fromEntries(Object.entries(v.checks ?? {}).map(([c, r]) => [c, r?.ok ?? r])) }
      : { error: v.reason ?? v.unreadable };
  }
  const rows = [];
  for (const [k, v] of Object.entries(raw)) {
    if (!/^(wllama|webaccel)-/.test(k) || !Array.isArray(v.runs)) continue;
    for (const r of v.runs) {
      const res = Object.fromEntries((r.results ?? []).map((x) => [x.test.replace(/\d+$/, ''), x]));
      const tg = res.tg?.tps ?? null;
      rows.push({
        engine: v.engine ?? k.split('-')[0], label: v.label ?? k, file: path.basename(r.model_file ?? '?'),
        model_bytes: r.model_bytes, f16_toggle: (v.dawn_flags ?? []).some((f) => /vulkan_enable_f16_on_nvidia/.test(f)),
        backend_used: r.backend_used, threads: r.threads, reduced: !!r.reduced, ok: !!r.ok,
        pp_test: res.pp?.test ?? null, pp_tps: res.pp?.tps ?? null, pp_stddev: res.pp?.stddev ?? null,
        tg_test: res.tg?.test ?? null, tg_tps: tg, tg_stddev: res.tg?.stddev ?? null,
        tg_gbps: tg != null && r.model_bytes ? (tg * r.model_bytes) / 1e9 : null,
        tg_bw_fraction: tg != null && r.model_bytes && gbps ? (tg * r.model_bytes) / (gbps * 1e9) : null,
        error: r.error ? String(r.error).split('\n')[0].slice(0, 200) : null,
      });
    }
  }
  return { machine: raw.machine ?? null, capabilities: caps,
    roofline: probe ? { stream_read_gbps: gbps, method: probe.stream_read?.gbps_method, best: probe.stream_read?.best,
      dispatch: probe.dispatch && { one_pass_us: probe.dispatch.one_pass, pass_each_us: probe.dispatch.pass_each,
        submit_roundtrip_us: probe.dispatch.submit_roundtrip_us }, ok: probe.ok, error: probe.error ?? null } : null,
    rows, raw };
}

export function markdown(s) {
  const m = s.machine ?? {};
  const L = [];
  L.push(`machine: ${m.gpu ?? '?'}; ${m.cpus ?? '?'} CPUs; ${m.node ?? '?'}; Vulkan loader: ${m.vulkan_loader ?? '?'}; date ${m.date ?? '?'}`);
  const r = s.roofline;
  if (r) {
    const d = r.dispatch ?? {};
    L.push('', `streaming read: **${fmt(r.stream_read_gbps)} GB/s** (${r.method}; best wall clock ${fmt(r.best?.wall_gbps)} GB/s)`);
    L.push(`dispatch: ${fmt(d.one_pass_us?.wall_us_per_dispatch, 2)} µs each in one pass (GPU timestamps ${fmt(d.one_pass_us?.timestamp_us_per_dispatch, 2)}), ` +
      `${fmt(d.pass_each_us?.wall_us_per_dispatch, 2)} µs with a pass each, submit + onSubmittedWorkDone ${fmt(d.submit_roundtrip_us?.median, 1)} µs`);
  }
  for (const [k, c] of Object.entries(s.capabilities)) {
    L.push(`adapter (${k}): ${c.adapter ?? c.error}; shader-f16 ${c.shader_f16}; ` +
      `subgroups ${c.features?.includes('subgroups')}; timestamp-query ${c.features?.includes('timestamp-query')}`);
  }
  if (s.rows.length) {
    L.push('', '| engine | file | MiB | f16 toggle | backend_used | pp t/s | tg t/s | tg x bytes | of BW | note |',
      '| --- | --- | ---: | --- | --- | ---: | ---: | ---: | ---: | --- |');
    for (const x of s.rows) {
      const note = [x.reduced ? `reduced (${x.pp_test}/${x.tg_test}, ${x.threads} thr)` : '', x.ok ? '' : `FAILED ${x.error ?? ''}`]
        .filter(Boolean).join('; ');
      L.push(`| ${x.engine} | ${x.file} | ${fmt(x.model_bytes / 1048576, 0)} | ${x.f16_toggle ? 'on' : 'off'} | ${x.backend_used} | ` +
        `${fmt(x.pp_tps)} ± ${fmt(x.pp_stddev)} | ${fmt(x.tg_tps, 2)} ± ${fmt(x.tg_stddev, 2)} | ${fmt(x.tg_gbps)} GB/s | ${x.tg_bw_fraction == null ? '–' : (100 * x.tg_bw_fraction).toFixed(1) + '%'} | ${note} |`);
    }
  }
  return L.join('\n') + '\n';
}

if (import.meta.url === `file://${process.argv[1]}` || process.argv[1]?.endsWith('summarize.mjs')) {
  const o = parseArgs(process.argv.slice(2));
  const s = summarize(o.dir);
  s.steps = o.steps ? o.steps.split(' ').filter(Boolean) : [];
  if (o.json) fs.writeFileSync(o.json, JSON.stringify(s, null, 2) + '\n');
  const md = markdown(s);
  if (o.md) fs.writeFileSync(o.md, md);
  else process.stdout.write(md);
}
