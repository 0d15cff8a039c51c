#!/usr/bin/env node
// WebGPU roofline probes, under Node + Dawn (npm `webgpu`), printed as JSON:
//
//  stream_read  GB/s of a streaming read of one large buffer (stream_read.wgsl:
//               vec4<u32> loads folded to a conditional store). Sizes 256 MiB,
//               512 MiB, 1 GiB, as far as the adapter's maxBufferSize and
//               maxStorageBufferBindingSize allow (requested from the adapter,
//               never assumed) and the allocation succeeds. Each rep is one
//               submit of k dispatches in one compute pass (k chosen so a rep
//               lasts about --rep-ms), timed by the wall clock from submit to
//               onSubmittedWorkDone and, where the adapter has timestamp-query,
//               by the pass's begin/end timestamps. Median over --reps.
//  windows      (--windows-mib) µs per dispatch of a streaming read of S MiB,
//               back to back in one pass, each dispatch on another window of a
//               1 GiB buffer (so none finds its bytes in L2): the floor a decode
//               step's matvec of S MiB of weights can reach, launch, ramp,
//               tail and the barrier between dispatches included.
//  dispatch     µs per dispatch of N tiny dispatches (tiny_dispatch.wgsl): all
//               in one pass; one pass each; and the round trip of one submit
//               + onSubmittedWorkDone.
//
// Every decode figure is read against stream_read: a decoder that reads B
// bytes per token at T tokens/s uses T*B / (stream_read GB/s) of the bandwidth.
//
// usage: node bench/webgpu/probe.mjs [--dawn-flag FLAG]... [--sizes-mib 256,512,1024]
//          [--reps 7] [--rep-ms 25] [--dispatches 2000] [--windows-mib 9,27,50] [--quick] [--out FILE]
//   --quick: 1 size, 3 reps, 200 dispatches (for SwiftShader / CI smoke runs).
// Dawn comes from $WEBGPU_MODULE or js/node_modules/webgpu; the Vulkan driver
// from VK_DRIVER_FILES / VK_ICD_FILENAMES, else SwiftShader (js/test/gpu-env.mjs).
// Timestamp quantization (Dawn's default, 2^16 ns steps here) is turned off
// with `disable-dawn-features=timestamp_quantization` unless --keep-ts-quantization.

import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { getTestGpu } from '../../js/test/gpu-env.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));
const log = (s) => process.stderr.write(`[probe] ${s}\n`);
const MiB = 1048576;

function parseArgs(argv) {
  const o = { dawnFlags: [], sizesMiB: [256, 512, 1024], reps: 7, repMs: 25, dispatches: 2000,
    workgroups: null, quick: false, out: null, tsQuant: false, windowsMiB: [] };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const next = () => { if (i + 1 >= argv.length) throw new Error(`${a} needs a value`); return argv[++i]; };
    switch (a) {
      case '--dawn-flag': o.dawnFlags.push(next()); break;
      case '--sizes-mib': o.sizesMiB = next().split(',').map(Number); break;
      case '--reps': o.reps = +next(); break;
      case '--rep-ms': o.repMs = +next(); break;
      case '--dispatches': o.dispatches = +next(); break;
      case '--windows-mib': o.windowsMiB = next().split(',').map(Number); break;
      case '--workgroups': o.workgroups = next().split(',').map(Number); break;
      case '--quick': o.quick = true; break;
      case '--keep-ts-quantization': o.tsQuant = true; break;
      case '--out': o.out = next(); break;
      case '-h': case '--help':
        process.stdout.write(readFileSync(fileURLToPath(import.meta.url), 'utf8').split('\n')
          .filter((l) => l.startsWith('//')).slice(0, 28).join('\n') + '\n');
        process.exit(0);
        break;
      default: throw new Error(`unknown argument ${a}`);
    }
  }
  if (o.quick) {
    o.sizesMiB = o.sizesMiB.slice(0, 1); o.reps = Math.min(o.reps, 3); o.dispatches = Math.min(o.dispatches, 200);
    o.workgroups ??= [4096];
  }
  if (!o.tsQuant) o.dawnFlags.push('disable-dawn-features=timestamp_quantization');
  return o;
}

const median = (xs) => {
  const a = xs.filter(Number.isFinite).sort((p, q) => p - q);
  if (!a.length) return null;
  const m = a.length >> 1;
  return a.length % 2 ? a[m] : (a[m - 1] + a[m]) / 2;
};
const round = (x, d = 2) => (x == null ? null : +x.toFixed(d));

class Probe {
  constructor(device) {
    this.device = device;
    this.hasTs = device.features.has('timestamp-query');
    this.errors = [];
    device.addEventListener('uncapturederror', (e) => this.errors.push(String(e.error?.message).split('\n')[0]));
    if (this.hasTs) {
      this.querySet = device.createQuerySet({ type: 'timestamp', count: 2 });
      this.tsResolve = device.createBuffer({ size: 16, usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC });
      this.tsRead = device.createBuffer({ size: 16, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
    }
  }

  async pipeline(file, entryPoint, constants = {}) {
    const code = readFileSync(join(HERE, file), 'utf8');
    const module = this.device.createShaderModule({ code });
    const info = await module.getCompilationInfo?.();
    const errs = (info?.messages ?? []).filter((m) => m.type === 'error');
    if (errs.length) throw new Error(`${file}: ${errs.map((m) => `${m.lineNum}:${m.linePos} ${m.message}`).join('; ')}`);
    return await this.device.createComputePipelineAsync({ layout: 'auto', compute: { module, entryPoint, constants } });
  }

  bind(pipeline, buffers) {
    return this.device.createBindGroup({
      layout: pipeline.getBindGroupLayout(0),
      entries: Object.entries(buffers).map(([binding, buffer]) => ({ binding: +binding, resource: { buffer } })),
    });
  }

  // Encodes `record(pass)` into one pass (with timestamps where available),
  // submits it, waits for it; returns { wallMs, gpuMs|null, encodeMs }.
  async timedPass(record, { passes = 1 } = {}) {
    const t0 = performance.now();
    const enc = this.device.createCommandEncoder();
    for (let k = 0; k < passes; k++) {
      const desc = {};
      if (this.hasTs && (k === 0 || k === passes - 1)) {
        desc.timestampWrites = { querySet: this.querySet };
        if (k === 0) desc.timestampWrites.beginningOfPassWriteIndex = 0;
        if (k === passes - 1) desc.timestampWrites.endOfPassWriteIndex = 1;
      }
      const pass = enc.beginComputePass(desc);
      record(pass, k);
      pass.end();
    }
    if (this.hasTs) enc.resolveQuerySet(this.querySet, 0, 2, this.tsResolve, 0);
    const cmd = enc.finish();
    const t1 = performance.now();
    this.device.queue.submit([cmd]);
    await this.device.queue.onSubmittedWorkDone();
    const t2 = performance.now();
    let gpuMs = null;
    if (this.hasTs) {
      const e2 = this.device.createCommandEncoder();
      e2.copyBufferToBuffer(this.tsResolve, 0, this.tsRead, 0, 16);
      this.device.queue.submit([e2.finish()]);
      await this.tsRead.mapAsync(GPUMapMode.READ);
      const [b, e] = new BigUint64Array(this.tsRead.getMappedRange());
      this.tsRead.unmap();
      if (e > b) gpuMs = Number(e - b) / 1e6;
    }
    return { wallMs: t2 - t1, gpuMs, encodeMs: t1 - t0 };
  }

  async allocate(size, usage) {
    this.device.pushErrorScope('out-of-memory');
    this.device.pushErrorScope('validation');
    let buffer = null, thrown = null;
    try { buffer = this.device.createBuffer({ size, usage }); } catch (e) { thrown = e; }
    const v = await this.device.popErrorScope();
    const o = await this.device.popErrorScope();
    const err = thrown ?? v ?? o;
    if (err) { buffer?.destroy(); return { buffer: null, error: String(err.message).split('\n')[0] }; }
    return { buffer, error: null };
  }
}

// stream_read.wgsl's pipelines and the device's limits they run under.
async function streamKernels(probe) {
  const { device } = probe;
  const maxBytes = Math.min(device.limits.maxBufferSize, device.limits.maxStorageBufferBindingSize);
  const wg = Math.min(256, device.limits.maxComputeInvocationsPerWorkgroup, device.limits.maxComputeWorkgroupSizeX);
  const maxWgs = device.limits.maxComputeWorkgroupsPerDimension;
  const read = await probe.pipeline('stream_read.wgsl', 'stream', { WG_SIZE: wg });
  const fill = await probe.pipeline('stream_read.wgsl', 'fill', { WG_SIZE: wg });
  return { maxBytes, wg, maxWgs, read, fill };
}

async function streamRead(probe, o) {
  const { device } = probe;
  const U = GPUBufferUsage;
  const { maxBytes, wg, maxWgs, read, fill } = await streamKernels(probe);
  const sink = device.createBuffer({ size: 256, usage: U.STORAGE });
  const out = { wgsl: 'stream_read.wgsl', workgroup_size: wg, max_binding_bytes: maxBytes, runs: [], skipped: [] };

  for (const mib of o.sizesMiB) {
    const size = mib * MiB;
    if (size > maxBytes) { out.skipped.push({ size_mib: mib, why: `above the device limit ${maxBytes}` }); continue; }
    const { buffer, error } = await probe.allocate(size, U.STORAGE);
    if (!buffer) { out.skipped.push({ size_mib: mib, why: error }); log(`${mib} MiB: ${error}`); continue; }
    const n = size / 16;
    const params = device.createBuffer({ size: 16, usage: U.UNIFORM | U.COPY_DST });
    device.queue.writeBuffer(params, 0, new Uint32Array([n, 0x5eed1234, 0x9e3779b9, 0]));
    const fillBind = probe.bind(fill, { 2: params, 3: buffer });
    await probe.timedPass((p) => { p.setPipeline(fill); p.setBindGroup(0, fillBind); p.dispatchWorkgroups(Math.min(maxWgs, 4096)); });
    const bind = probe.bind(read, { 0: buffer, 1: sink, 2: params });
    // Grid sizes: a few "persistent" grids and the largest one (fewest loop trips).
    const grids = o.workgroups ?? [...new Set([1024, 4096, 16384, Math.min(maxWgs, Math.ceil(n / wg))])]
      .filter((g) => g <= Math.min(maxWgs, Math.ceil(n / wg)));
    for (const g of grids) {
      const rec = (k) => (p) => { p.setPipeline(read); p.setBindGroup(0, bind); for (let j = 0; j < k; j++) p.dispatchWorkgroups(g); };
      const warm = await probe.timedPass(rec(1)); // first use: pipeline warm-up
      const one = (await probe.timedPass(rec(1)));
      const perDispatchMs = one.gpuMs ?? one.wallMs;
      const k = Math.max(1, Math.min(256, Math.round(o.repMs / Math.max(perDispatchMs, 1e-3))));
      const reps = [];
      for (let r = 0; r < o.reps; r++) reps.push(await probe.timedPass(rec(k)));
      const bytes = size * k;
      const wallGBs = median(reps.map((x) => bytes / (x.wallMs * 1e6)));
      const tsGBs = probe.hasTs ? median(reps.map((x) => (x.gpuMs ? bytes / (x.gpuMs * 1e6) : NaN))) : null;
      const run = {
        size_bytes: size, size_mib: mib, workgroups: g, dispatches_per_rep: k, reps: o.reps,
        wall_gbps: round(wallGBs, 1), timestamp_gbps: round(tsGBs, 1),
        wall_ms_per_rep: reps.map((x) => round(x.wallMs, 3)),
        gpu_ms_per_rep: probe.hasTs ? reps.map((x) => round(x.gpuMs, 3)) : null,
        first_dispatch_ms: round(warm.wallMs, 3),
      };
      out.runs.push(run);
      log(`stream_read ${mib} MiB x${k} grid=${g}: wall ${run.wall_gbps} GB/s, timestamps ${run.timestamp_gbps ?? '-'} GB/s`);
    }
    buffer.destroy();
    params.destroy();
  }
  const best = (key) => out.runs.reduce((b, r) => (r[key] != null && (!b || r[key] > b[key]) ? r : b), null);
  const bw = best('wall_gbps'), bt = best('timestamp_gbps');
  out.best = {
    wall_gbps: bw?.wall_gbps ?? null, wall_at: bw && { size_mib: bw.size_mib, workgroups: bw.workgroups },
    timestamp_gbps: bt?.timestamp_gbps ?? null, timestamp_at: bt && { size_mib: bt.size_mib, workgroups: bt.workgroups },
  };
  // The figure decode rates are divided by: timestamps where present (no submit overhead), else wall.
  out.gbps = out.best.timestamp_gbps ?? out.best.wall_gbps;
  out.gbps_method = out.best.timestamp_gbps != null ? 'timestamp-query' : 'wall clock (submit..onSubmittedWorkDone)';
  sink.destroy();
  return out;
}

async function streamWindows(probe, o) {
  const { device } = probe;
  const U = GPUBufferUsage;
  const { maxBytes, wg, maxWgs, read, fill } = await streamKernels(probe);
  const align = device.limits.minStorageBufferOffsetAlignment;
  // 1 GiB (over 20 times an H100's L2), halved while the allocation fails
  let total = Math.min(1024 * MiB, Math.floor(maxBytes / align) * align);
  let { buffer, error } = await probe.allocate(total, U.STORAGE);
  while (!buffer && total > 128 * MiB) {
    total /= 2;
    ({ buffer, error } = await probe.allocate(total, U.STORAGE));
  }
  const out = { wgsl: 'stream_read.wgsl', buffer_bytes: total, runs: [] };
  if (!buffer) { out.error = error; return out; }
  const sink = device.createBuffer({ size: 256, usage: U.STORAGE });
  const fillParams = device.createBuffer({ size: 16, usage: U.UNIFORM | U.COPY_DST });
  device.queue.writeBuffer(fillParams, 0, new Uint32Array([total / 16, 0x5eed1234, 0x9e3779b9, 0]));
  const fillBind = probe.bind(fill, { 2: fillParams, 3: buffer });
  await probe.timedPass((p) => { p.setPipeline(fill); p.setBindGroup(0, fillBind); p.dispatchWorkgroups(Math.min(maxWgs, 4096)); });
  for (const mib of o.windowsMiB) {
    const size = Math.floor((mib * MiB) / align) * align;
    const n = size / 16;
    const count = Math.floor(total / size);
    const params = device.createBuffer({ size: 16, usage: U.UNIFORM | U.COPY_DST });
    device.queue.writeBuffer(params, 0, new Uint32Array([n, 0x5eed1234, 0x9e3779b9, 0]));
    const binds = [];
    for (let w = 0; w < count; w++) {
      binds.push(device.createBindGroup({ layout: read.getBindGroupLayout(0), entries: [
        { binding: 0, resource: { buffer, offset: w * size, size } }, { binding: 1, resource: { buffer: sink } },
        { binding: 2, resource: { buffer: params } }] }));
    }
    // the largest grid (one vec4 per thread and loop trip of 4) and a few persistent ones
    const grids = [...new Set([528, 1056, 2112, Math.min(maxWgs, Math.ceil(n / wg / 4))])].filter((g) => g * wg <= n);
    for (const g of grids) {
      const k = count;  // each window once per rep: nothing in L2 from an earlier dispatch of the rep
      const rec = (p) => { p.setPipeline(read); for (let j = 0; j < k; j++) { p.setBindGroup(0, binds[j]); p.dispatchWorkgroups(g); } };
      await probe.timedPass(rec);
      const reps = [];
      for (let r = 0; r < o.reps; r++) reps.push(await probe.timedPass(rec));
      const us = median(reps.map((x) => ((x.gpuMs ?? x.wallMs) * 1000) / k));
      const run = { size_bytes: size, workgroups: g, dispatches_per_rep: k, us_per_dispatch: round(us, 2),
        gbps: round(size / (us * 1e3), 1), clock: probe.hasTs ? 'timestamps' : 'wall' };
      out.runs.push(run);
      log(`windows ${mib} MiB grid=${g}: ${run.us_per_dispatch} us per dispatch, ${run.gbps} GB/s`);
    }
    params.destroy();
  }
  buffer.destroy();
  sink.destroy();
  fillParams.destroy();
  return out;
}

async function dispatchOverhead(probe, o) {
  const { device } = probe;
  const U = GPUBufferUsage;
  const pipe = await probe.pipeline('tiny_dispatch.wgsl', 'main');
  const counter = device.createBuffer({ size: 16, usage: U.STORAGE | U.COPY_SRC | U.COPY_DST });
  const readBack = device.createBuffer({ size: 16, usage: U.MAP_READ | U.COPY_DST });
  const bind = probe.bind(pipe, { 0: counter });
  const count = async () => {
    const e = device.createCommandEncoder();
    e.copyBufferToBuffer(counter, 0, readBack, 0, 16);
    e.clearBuffer(counter);
    device.queue.submit([e.finish()]);
    await readBack.mapAsync(GPUMapMode.READ);
    const c = new Uint32Array(readBack.getMappedRange())[0];
    readBack.unmap();
    return c;
  };
  const N = o.dispatches, reps = Math.max(3, Math.min(o.reps, 7));
  const out = { wgsl: 'tiny_dispatch.wgsl', dispatches: N, reps };
  const measure = async (name, passes, perPass) => {
    await probe.timedPass((p) => { p.setPipeline(pipe); p.setBindGroup(0, bind); p.dispatchWorkgroups(1); });
    await count();
    const rs = [];
    let counted = 0;
    for (let r = 0; r < reps; r++) {
      rs.push(await probe.timedPass((p) => {
        p.setPipeline(pipe);
        p.setBindGroup(0, bind);
        for (let j = 0; j < perPass; j++) p.dispatchWorkgroups(1);
      }, { passes }));
      counted = await count();
    }
    const n = passes * perPass;
    out[name] = {
      wall_us_per_dispatch: round(median(rs.map((x) => (x.wallMs * 1000) / n)), 3),
      timestamp_us_per_dispatch: probe.hasTs ? round(median(rs.map((x) => (x.gpuMs ? (x.gpuMs * 1000) / n : NaN))), 3) : null,
      encode_us_per_dispatch: round(median(rs.map((x) => (x.encodeMs * 1000) / n)), 3),
      counted_last_rep: counted, expected: n,
    };
    if (counted !== n) probe.errors.push(`${name}: counter ${counted}, expected ${n} dispatches`);
    log(`dispatch ${name}: ${JSON.stringify(out[name])}`);
  };
  await measure('one_pass', 1, N);
  await measure('pass_each', N, 1);
  // One dispatch per submit, waited for: the latency floor of a step that reads back.
  const rt = [];
  for (let r = 0; r < Math.min(200, N); r++) {
    rt.push((await probe.timedPass((p) => { p.setPipeline(pipe); p.setBindGroup(0, bind); p.dispatchWorkgroups(1); })).wallMs * 1000);
  }
  out.submit_roundtrip_us = { median: round(median(rt), 1), min: round(Math.min(...rt), 1), n: rt.length };
  log(`submit+onSubmittedWorkDone round trip: ${JSON.stringify(out.submit_roundtrip_us)}`);
  counter.destroy();
  readBack.destroy();
  return out;
}

async function main() {
  const o = parseArgs(process.argv.slice(2));
  const t0 = performance.now();
  const { adapter, info, reason } = await getTestGpu({ dawnFlags: o.dawnFlags });
  const result = {
    tool: 'bench/webgpu/probe.mjs', date: new Date().toISOString(), node: process.version,
    dawn_flags: o.dawnFlags, VK_DRIVER_FILES: process.env.VK_DRIVER_FILES ?? null,
    VK_ICD_FILENAMES: process.env.VK_ICD_FILENAMES ?? null,
  };
  if (!adapter) {
    result.ok = false;
    result.error = reason;
  } else {
    const { limits, ...ident } = info;
    result.adapter = { ...ident, limits: pick(limits, ['maxBufferSize', 'maxStorageBufferBindingSize',
      'maxComputeWorkgroupStorageSize', 'maxComputeInvocationsPerWorkgroup', 'maxComputeWorkgroupsPerDimension',
      'maxStorageBuffersPerShaderStage', 'maxUniformBufferBindingSize']) };
    const requiredFeatures = ['timestamp-query'].filter((f) => adapter.features.has(f));
    const requiredLimits = pick(adapter.limits, ['maxBufferSize', 'maxStorageBufferBindingSize',
      'maxComputeInvocationsPerWorkgroup', 'maxComputeWorkgroupSizeX']);
    const device = await adapter.requestDevice({ requiredFeatures, requiredLimits });
    result.device = { features: [...device.features].sort(), limits: pick(device.limits, Object.keys(requiredLimits)) };
    const probe = new Probe(device);
    try {
      result.stream_read = await streamRead(probe, o);
      if (o.windowsMiB.length) result.windows = await streamWindows(probe, o);
      result.dispatch = await dispatchOverhead(probe, o);
      result.ok = probe.errors.length === 0 && result.stream_read.runs.length > 0;
    } catch (e) {
      result.ok = false;
      result.error = String(e?.stack ?? e);
    }
    result.errors = probe.errors;
    device.destroy();
  }
  result.seconds = round((performance.now() - t0) / 1000, 1);
  const json = JSON.stringify(result, null, 2);
  if (o.out) writeFileSync(o.out, json + '\n');
  process.stdout.write(json + '\n');
  return result.ok ? 0 : 1;
}

function pick(obj, keys) {
  const r = {};
  for (const k of keys) if (obj[k] !== undefined) r[k] = obj[k];
  return r;
}

main().then((rc) => process.exit(rc), (e) => { console.error(e); process.exit(2); });
