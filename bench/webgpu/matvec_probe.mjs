#!/usr/bin/env node
// Decode matvec kernels timed alone, under Node + Dawn, printed as JSON: the
// engine's WGSL (src/backends/webgpu/shaders, the Params struct parsed from
// kernel_params.h) on random weights in the GPU layout, for LLaMA 1B/7B
// shapes. Each variant is first checked against a JS reference of the same
// data (max relative error), then timed: k dispatches in one compute pass,
// GPU timestamps around the pass, median of --reps. GB/s = weight bytes read
// per dispatch / time per dispatch, to be read against probe.mjs's
// streaming read.
//
// The weights are copied until the copies exceed --l2-bytes (256 MiB) and
// consecutive dispatches read different copies, so a matrix that fits the
// GPU's L2 (50 MB on an H100) is still read from memory, as in a model.
//
// usage: node bench/webgpu/matvec_probe.mjs [--types q4_0,q8_0] [--shapes 4096x4096,...]
//          [--rows 1,2,4] [--unroll 1,2,4] [--groups 4,8] [--xq 0,1] [--modes plain,glu,multi] [--norm 0,1] [--sg 0,1] [--old] [--l2-bytes N]
//          [--reps 5] [--rep-ms 20] [--warm-ms 300] [--dawn-flag F]... [--quick] [--out FILE]
// Shapes are NxK (output rows x row length). --sg 0,1: each variant with its
// rows totalled through workgroup memory (mv4_sum_wg.wgsl) and with
// subgroup operations (mv4_sum_sg.wgsl, where the adapter has subgroups);
// the subgroup variant's output is also compared with the other's
// (max_rel_diff_vs_wg), for every mode.

import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { getTestGpu } from '../../js/test/gpu-env.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));
const SHADERS = process.env.WA_SHADER_DIR ?? join(HERE, '../../src/backends/webgpu/shaders');
const log = (s) => process.stderr.write(`[matvec] ${s}\n`);
const median = (a) => [...a].sort((x, y) => x - y)[a.length >> 1];

function parseArgs(argv) {
  const o = { types: ['q4_0', 'q8_0'], shapes: ['4096x4096', '11008x4096', '4096x11008', '32000x4096', '2048x2048', '5632x2048'],
    rows: [1, 2, 4], unroll: [1, 2, 4], groups: [4, 8], xq: [false], modes: ['plain'], norm: [false], sg: [false], old: false, l2Bytes: 256 << 20, reps: 5, repMs: 20, warmMs: 300, dawnFlags: [], out: null };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const next = () => argv[++i];
    if (a === '--types') o.types = next().split(',');
    else if (a === '--shapes') o.shapes = next().split(',');
    else if (a === '--rows') o.rows = next().split(',').map(Number);
    else if (a === '--unroll') o.unroll = next().split(',').map(Number);
    else if (a === '--groups') o.groups = next().split(',').map(Number);
    else if (a === '--old') o.old = true;
    else if (a === '--modes') o.modes = next().split(',');
    else if (a === '--norm') o.norm = next().split(',').map((x) => x === '1' || x === 'true');
    else if (a === '--xq') o.xq = next().split(',').map((x) => x === '1' || x === 'true');
    else if (a === '--sg') o.sg = next().split(',').map((x) => x === '1' || x === 'true');
    else if (a === '--l2-bytes') o.l2Bytes = +next();
    else if (a === '--reps') o.reps = +next();
    else if (a === '--rep-ms') o.repMs = +next();
    else if (a === '--warm-ms') o.warmMs = +next();
    else if (a === '--dawn-flag') o.dawnFlags.push(next());
    else if (a === '--quick') { o.shapes = ['300x256', '64x4096']; o.reps = 1; o.repMs = 1; o.warmMs = 0; }
    else if (a === '--out') o.out = next();
    else throw new Error(`unknown argument ${a}`);
  }
  return o;
}

// struct Params of one of kernel_params.h's X-macro lists, as the C++ side makes it.
function paramsWgsl(list) {
  const h = readFileSync(join(SHADERS, '../kernel_params.h'), 'utf8');
  const m = h.match(new RegExp(`#define ${list}\\(F\\)([\\s\\S]*?)\\nWA_DEFINE_PARAMS`));
  const fields = [...m[1].matchAll(/F\((\w+), (\w+)\)/g)].map(([, t, n]) => ({ t, n }));
  return { fields, wgsl: `struct Params {\n${fields.map((f) => `  ${f.n}: ${f.t},\n`).join('')}};\n` };
}

const shader = (f) => readFileSync(join(SHADERS, f), 'utf8');
let SG_RUNS = 32; // set from the adapter in main
// matvec4.wgsl (MODE 0, no norm) as the backend instantiates it: R rows
// per group of 32 lanes, U blocks in flight per lane, G groups per workgroup;
// x in f32 (mvx_f32.wgsl) or, with xq, quantized to int8 in workgroup memory
// (mvx_q8.wgsl, the type's mv4x8_<type>.wgsl dot).
// mode: plain (MODE 0), glu (MODE 1: both matrices the same weights) or
// multi (MODE 2: the rows split in three matrices of the same weights);
// norm: x is RMSNorm(h) * g computed in the kernel. Only plain without the
// norm is checked against the reference (the others are timed only: the
// backend-ops tests check them).
const MODES = { plain: 0, glu: 1, multi: 2 };
// All six bindings, as the backend declares a multi-mode instance with a norm
// (matvec4_bindings in webgpu_backend.cpp): every mode binds the same here.
const MATVEC4_BINDINGS = `
@group(0) @binding(0) var<storage, read> w0: array<vec4<u32>>;
@group(0) @binding(1) var<storage, read> w1: array<vec4<u32>>;
@group(0) @binding(2) var<storage, read> w2: array<vec4<u32>>;
@group(0) @binding(3) var<storage, read> nw: array<vec4<f32>>;
@group(0) @binding(4) var<storage, read_write> act: array<vec4<f32>>;
@group(0) @binding(5) var<uniform> params: Params;
fn norm_gain(i: u32) -> vec4<f32> { return nw[i]; }
`;
const matvec4 = (type, r, u, g, xq, K, mode, norm, sg) => ({
  params: 'WA_MATVEC_PARAMS',
  enable: sg ? 'enable subgroups;\n' : '',
  src: (MATVEC4_BINDINGS + shader(`mv4_${type}.wgsl`) + shader('mvx_from_act.wgsl') + (xq ? shader(`mv4x8_${type}.wgsl`) + shader('mvx_q8.wgsl') : shader('mvx_f32.wgsl')) +
    ['w0', 'w1', 'w2'].map((b) => shader('mv4_binding.wgsl').replaceAll('WB', b)).join('') +
    shader(sg ? 'mv4_sum_sg.wgsl' : 'mv4_sum_wg.wgsl') + shader('matvec4.wgsl')).replaceAll('MV_ROWS', `${r}u`).replaceAll('MV_BLOCKS_IN_FLIGHT', `${u}u`).replaceAll('MV_GROUPS', `${g}u`).replaceAll('MV_UNIT', '1u').replaceAll('MV_SG_RUNS', `${SG_RUNS}u`)
      .replaceAll('MV_MODE', `${MODES[mode]}u`).replaceAll('MV_NORM', `${norm}`).replaceAll('MV_MATRICES', mode === 'glu' ? '2u' : '1u')
      .replaceAll('MV_X_BLOCKS', `${K / 32}u`),
  rowsPerWg: g * r,
  mode,
  // int8 x: the rounding of x bounds the error, not float sums
  tolerance: mode !== 'plain' || norm ? Infinity : xq ? 2e-2 : 1e-4,
});
function variantsFor(o) {
  const v = {};
  if (o.old) v.matvec = (type) => ({ params: 'WA_MATMUL_PARAMS', src: shader(`w_${type}.wgsl`) + shader('w_block_scales.wgsl') + shader(`mv_${type}.wgsl`) + shader('matvec.wgsl'), rowsPerWg: 8, tolerance: 1e-4, mode: 'plain' });
  for (const mode of o.modes) for (const norm of o.norm) for (const xq of o.xq) for (const r of o.rows) for (const u of o.unroll) for (const g of o.groups) for (const sg of o.sg) {
    if (sg && !o.hasSubgroups) continue;
    const name = `matvec4${mode === 'plain' ? '' : `_${mode}`}${norm ? '_norm' : ''}${xq ? '_x8' : ''}${sg ? '_sg' : ''}_r${r}u${u}g${g}`;
    v[name] = (type, K) => ({ ...matvec4(type, r, u, g, xq, K, mode, norm, sg), twin: sg ? name.replace('_sg', '') : null });
  }
  return v;
}

function f16Bits(v) {
  const f = new Float32Array([v]);
  const u = new Uint32Array(f.buffer)[0];
  const s = (u >>> 16) & 0x8000, e = ((u >>> 23) & 0xff) - 112, m = (u >>> 13) & 0x3ff;
  return e <= 0 ? s : s | (e << 10) | m;
}
function f16Value(h) {
  const e = (h >> 10) & 31, m = h & 0x3ff, s = h & 0x8000 ? -1 : 1;
  return e === 0 ? s * m * 2 ** -24 : s * (1 + m / 1024) * 2 ** (e - 15);
}

// Random weights in repack.wgsl's layout and their JS dequantization per row.
function makeWeights(type, N, K, seed) {
  let st = seed >>> 0;
  const rnd = () => ((st = (Math.imul(st, 1664525) + 1013904223) >>> 0) / 2 ** 32);
  const nb = K / 32, blocks = N * nb;
  const valueWords = type === 'q4_0' ? 4 * blocks : 8 * blocks;
  const scalesWord = valueWords;
  const words = new Uint32Array(((valueWords + Math.ceil(blocks / 2)) + 3) & ~3);
  for (let i = 0; i < valueWords; i++) words[i] = (rnd() * 2 ** 32) >>> 0;
  const scale = new Float32Array(blocks);
  for (let b = 0; b < blocks; b++) {
    const h = f16Bits(0.002 + 0.01 * rnd());
    scale[b] = f16Value(h);
    words[scalesWord + (b >> 1)] |= h << (16 * (b & 1));
  }
  const value = (row, k) => {
    const b = row * nb + (k >> 5), i = k & 31;
    if (type === 'q4_0') {
      const byte = (words[4 * b + ((i & 15) >> 2)] >>> (8 * (i & 3))) & 0xff;
      return ((i < 16 ? byte & 15 : byte >> 4) - 8) * scale[b];
    }
    const byte = (words[8 * b + (i >> 2)] >>> (8 * (i & 3))) & 0xff;
    return (byte > 127 ? byte - 256 : byte) * scale[b];
  };
  return { words, scalesWord, value, bytes: type === 'q4_0' ? blocks * 18 : blocks * 34 };
}

async function main() {
  const o = parseArgs(process.argv.slice(2));
  const { gpu, adapter, info, reason } = await getTestGpu({ dawnFlags: ['disable-dawn-features=timestamp_quantization', ...o.dawnFlags] });
  if (!adapter) throw new Error(reason);
  const keep = setInterval(() => {}, 1000);
  const want = {};
  for (const k of ['maxStorageBufferBindingSize', 'maxBufferSize', 'maxComputeWorkgroupStorageSize']) want[k] = adapter.limits[k];
  o.hasSubgroups = adapter.features.has('subgroups');
  // mv4_sum_sg.wgsl's workgroup memory for the smallest subgroup, as the backend sizes it.
  SG_RUNS = 32 / Math.min(32, 2 ** Math.floor(Math.log2(Math.max(1, adapter.info?.subgroupMinSize ?? 1))));
  const features = ['timestamp-query', 'subgroups'].filter((f) => adapter.features.has(f));
  const device = await adapter.requestDevice({ requiredFeatures: features, requiredLimits: want });
  if (o.sg.includes(true) && !o.hasSubgroups) log('the adapter has no subgroups: workgroup-memory variants only');
  const hasTs = device.features.has('timestamp-query');
  const U = GPUBufferUsage;
  const qs = hasTs ? device.createQuerySet({ type: 'timestamp', count: 2 }) : null;
  const tsResolve = device.createBuffer({ size: 16, usage: 0x0200 | U.COPY_SRC });
  const tsRead = device.createBuffer({ size: 16, usage: U.MAP_READ | U.COPY_DST });
  const results = [];
  for (const type of o.types) {
    for (const shape of o.shapes) {
      const [N, K] = shape.split('x').map(Number);
      const wts = makeWeights(type, N, K, N * 31 + K);
      const copies = Math.max(1, Math.min(64, Math.ceil(o.l2Bytes / wts.words.byteLength)));
      const wbufs = [];
      for (let c = 0; c < copies; c++) {
        const b = device.createBuffer({ size: wts.words.byteLength, usage: U.STORAGE | U.COPY_DST });
        device.queue.writeBuffer(b, 0, wts.words);
        wbufs.push(b);
      }
      const x = new Float32Array(K).map((_, i) => Math.sin(i * 0.37) + 0.25 * Math.cos(i * 1.3));
      const yOff = (K + 3) & ~3;
      const act = device.createBuffer({ size: 4 * (yOff + ((N + 3) & ~3)), usage: U.STORAGE | U.COPY_DST | U.COPY_SRC });
      device.queue.writeBuffer(act, 0, x);
      const ref = new Float64Array(N);
      for (let n = 0; n < N; n++) { let s = 0; for (let k = 0; k < K; k++) s += wts.value(n, k) * x[k]; ref[n] = s; }
      const pv = { K, N, T: 1, w_scales: wts.scalesWord, x_off: 0, x_stride: K, y_off: yOff, y_stride: N, add_r: 0, r_off: 0,
        n0: N, s0: wts.scalesWord, y0: yOff, wg1: 1 << 30, wg2: 1 << 30 };
      const paramBuffer = (list) => {
        const b = device.createBuffer({ size: 256, usage: U.UNIFORM | U.COPY_DST });
        device.queue.writeBuffer(b, 0, new Uint32Array(paramsWgsl(list).fields.map((f) => pv[f.n] ?? 0)));
        return b;
      };
      const ubufs = { WA_MATVEC_PARAMS: paramBuffer('WA_MATVEC_PARAMS'), WA_MATMUL_PARAMS: paramBuffer('WA_MATMUL_PARAMS') };
      const nwbuf = device.createBuffer({ size: 4 * K, usage: U.STORAGE | U.COPY_DST });
      device.queue.writeBuffer(nwbuf, 0, new Float32Array(K).fill(1));
      const readY = device.createBuffer({ size: 4 * N, usage: U.MAP_READ | U.COPY_DST });
      const outputs = {};  // variant -> y, for the subgroup variants' comparison
      for (const [name, make] of Object.entries(variantsFor(o))) {
        const v = make(type, K);
        device.pushErrorScope('validation');
        const module = device.createShaderModule({ code: (v.enable ?? '') + paramsWgsl(v.params).wgsl + v.src });
        const msgs = (await module.getCompilationInfo()).messages.filter((m) => m.type === 'error');
        if (msgs.length) throw new Error(`${name} ${type}: ${msgs.map((m) => `${m.lineNum}:${m.linePos} ${m.message}`).join('; ')}`);
        const pipe = await device.createComputePipelineAsync({ layout: 'auto', compute: { module, entryPoint: 'main' } });
        const ubuf = ubufs[v.params];
        const entries = (wbuf) => v.params === 'WA_MATMUL_PARAMS'
          ? [{ binding: 0, resource: { buffer: wbuf } }, { binding: 1, resource: { buffer: act } }, { binding: 2, resource: { buffer: ubuf, size: 80 } }]
          : [0, 1, 2].map((i) => ({ binding: i, resource: { buffer: wbuf } })).concat([{ binding: 3, resource: { buffer: nwbuf } },
            { binding: 4, resource: { buffer: act } }, { binding: 5, resource: { buffer: ubuf, size: 80 } }]);
        const binds = wbufs.map((wbuf) => device.createBindGroup({ layout: pipe.getBindGroupLayout(0), entries: entries(wbuf) }));
        const err = await device.popErrorScope();
        if (err) { log(`${name} ${type}: ${err.message}`); results.push({ type, N, K, variant: name, error: err.message }); continue; }
        // multi: three matrices of N/3 rows (the last takes the rest), each
        // starting a workgroup of its own
        const third = Math.floor(N / 3);
        const parts = v.mode === 'multi' ? [third, third, N - 2 * third] : [N];
        const wgs = parts.map((p) => Math.ceil(p / v.rowsPerWg));
        const grid = wgs.reduce((a, b) => a + b, 0);
        if (v.params === 'WA_MATVEC_PARAMS') {
          const f = paramsWgsl('WA_MATVEC_PARAMS').fields;
          const pm = { ...pv, n0: parts[0], n1: parts[1] ?? 0, n2: parts[2] ?? 0, s1: wts.scalesWord, s2: wts.scalesWord,
            y1: yOff, y2: yOff, wg1: v.mode === 'multi' ? wgs[0] : 1 << 30, wg2: v.mode === 'multi' ? wgs[0] + wgs[1] : 1 << 30,
            norm_off: 0, eps: 1e-5 };
          const buf = new ArrayBuffer(4 * f.length);
          f.forEach((fl, i) => (fl.t === 'f32' ? new Float32Array(buf, 4 * i, 1) : new Uint32Array(buf, 4 * i, 1))[0] = pm[fl.n] ?? 0);
          device.queue.writeBuffer(ubufs.WA_MATVEC_PARAMS, 0, buf);
        }
        const run = async (k) => {
          const enc = device.createCommandEncoder();
          const pass = enc.beginComputePass(hasTs ? { timestampWrites: { querySet: qs, beginningOfPassWriteIndex: 0, endOfPassWriteIndex: 1 } } : {});
          pass.setPipeline(pipe);
          for (let j = 0; j < k; j++) {
            pass.setBindGroup(0, binds[j % copies]);
            pass.dispatchWorkgroups(grid, 1, 1);
          }
          pass.end();
          if (hasTs) { enc.resolveQuerySet(qs, 0, 2, tsResolve, 0); enc.copyBufferToBuffer(tsResolve, 0, tsRead, 0, 16); }
          const t0 = performance.now();
          device.queue.submit([enc.finish()]);
          await device.queue.onSubmittedWorkDone();
          const wall = performance.now() - t0;
          if (!hasTs) return wall;
          await tsRead.mapAsync(GPUMapMode.READ);
          const [b, e] = new BigUint64Array(tsRead.getMappedRange());
          tsRead.unmap();
          return Number(e - b) / 1e6;
        };
        await run(1);
        // Correctness of what it computed.
        const enc = device.createCommandEncoder();
        enc.copyBufferToBuffer(act, 4 * yOff, readY, 0, 4 * N);
        device.queue.submit([enc.finish()]);
        await readY.mapAsync(GPUMapMode.READ);
        const y = new Float32Array(readY.getMappedRange().slice(0));
        readY.unmap();
        let errMax = 0, scale = 0;
        for (let n = 0; n < N; n++) { errMax = Math.max(errMax, Math.abs(y[n] - ref[n])); scale = Math.max(scale, Math.abs(ref[n])); }
        const relErr = errMax / scale;
        // the subgroup variant against its workgroup-memory twin (same data)
        outputs[name] = y;
        let diff = null;
        if (v.twin && outputs[v.twin]) {
          const w = outputs[v.twin];
          let d = 0, m = 0;
          for (let n = 0; n < N; n++) { d = Math.max(d, Math.abs(y[n] - w[n])); m = Math.max(m, Math.abs(w[n])); }
          diff = d / m;
        }
        const one = await run(1);
        const k = Math.max(1, Math.min(500, Math.round(o.repMs / Math.max(one, 1e-3))));
        // The GPU lowers its clocks while the host computes the reference:
        // keep it busy for a while before timing, or the first variants of
        // a shape read slower than they are.
        for (const t0 = performance.now(); performance.now() - t0 < o.warmMs; ) await run(k);
        const reps = [];
        for (let i = 0; i < o.reps; i++) reps.push((await run(k)) / k);
        const ms = median(reps);
        const res = { type, N, K, variant: name, grid, copies, us_per_dispatch: +(ms * 1000).toFixed(2), gbps: +(wts.bytes / (ms * 1e6)).toFixed(1),
          weight_bytes: wts.bytes, max_rel_err: +relErr.toExponential(2),
          ...(diff === null ? {} : { max_rel_diff_vs_wg: +diff.toExponential(2) }),
          ok: relErr < v.tolerance && (diff === null || diff < 1e-4) };
        results.push(res);
        log(`${type} ${N}x${K} ${name}: ${res.us_per_dispatch} us, ${res.gbps} GB/s, err ${res.max_rel_err}${diff === null ? '' : ` vs wg ${res.max_rel_diff_vs_wg}`}${res.ok ? '' : ' WRONG'}`);
      }
      for (const b of wbufs) b.destroy();
      act.destroy(); nwbuf.destroy(); readY.destroy();
      for (const b of Object.values(ubufs)) b.destroy();
    }
  }
  const out = { adapter: info, timestamps: hasTs, results };
  const json = JSON.stringify(out, null, 1);
  if (o.out) writeFileSync(o.out, json);
  process.stdout.write(json + '\n');
  clearInterval(keep);
  device.destroy();
}

main().catch((e) => { console.error(e); process.exit(1); });
