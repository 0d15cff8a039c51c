#!/usr/bin/env node
// What one dispatch costs, apart from its kernel: the CPU time to encode and
// submit it (JS + Dawn's Node binding + Dawn) and the GPU time between
// dependent dispatches, under Node + Dawn, printed as JSON. A decode step is
// ~200-300 small dependent dispatches, so these floors bound tokens/s.
//
// A "step" is --dispatches dispatches of a trivial kernel (one workgroup of
// 64 threads adding 1 to a word of a read-write buffer that every dispatch
// binds, as the engine's kernels all bind the activation arena, so Dawn puts
// a barrier between each pair), over --pipelines pipelines and as many
// distinct (cached) bind groups as dispatches, in the engine's bind group
// layout (storage buffers + a uniform with a dynamic offset). Styles:
//   engine      setPipeline when it changes, setBindGroup with a dynamic
//               offset (a reused JS array), submit every 64 dispatches
//   one_submit  the same, one submit per step
//   static_bg   bind groups without dynamic offsets (the offset baked in)
//   same_bg     one bind group for the whole step (setBindGroup once): the
//               cost of dispatchWorkgroups alone
// For each: CPU ms per step (encode + submit, and the submits alone: Dawn
// validates and records the backend's commands at finish/submit), wall ms
// per step (until the queue is done), GPU ms per step (timestamps around the
// step's passes). --bindings B: read-only storage buffers per bind group
// before the arena (the engine's decode matvecs bind up to 4: three weight
// matrices and a norm vector); --dawn-flag F: Dawn instance flags (e.g.
// enable-dawn-features=skip_validation, to see what validation costs).
//
// usage: node bench/webgpu/encode_probe.mjs [--dispatches 250] [--pipelines 8] [--steps 50] [--bindings 1]
//          [--dawn-flag F]... [--out FILE]

import { writeFileSync } from 'node:fs';

import { getTestGpu } from '../../js/test/gpu-env.mjs';

const log = (s) => process.stderr.write(`[encode] ${s}\n`);
const median = (a) => [...a].sort((x, y) => x - y)[a.length >> 1];

function parseArgs(argv) {
  const o = { dispatches: 250, pipelines: 8, steps: 50, bindings: 1, dawnFlags: [], out: null };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const next = () => argv[++i];
    if (a === '--dispatches') o.dispatches = +next();
    else if (a === '--pipelines') o.pipelines = +next();
    else if (a === '--steps') o.steps = +next();
    else if (a === '--bindings') o.bindings = +next();
    else if (a === '--dawn-flag') o.dawnFlags.push(next());
    else if (a === '--out') o.out = next();
    else throw new Error(`unknown argument ${a}`);
  }
  return o;
}

async function main() {
  const o = parseArgs(process.argv.slice(2));
  const { adapter, info, reason } = await getTestGpu({ dawnFlags: ['disable-dawn-features=timestamp_quantization', ...o.dawnFlags] });
  if (!adapter) throw new Error(reason);
  const keep = setInterval(() => {}, 1000);
  const device = await adapter.requestDevice({ requiredFeatures: adapter.features.has('timestamp-query') ? ['timestamp-query'] : [] });
  const hasTs = device.features.has('timestamp-query');
  const U = GPUBufferUsage;
  const arena = device.createBuffer({ size: 1 << 20, usage: U.STORAGE | U.COPY_SRC });
  const weights = Array.from({ length: 64 }, () => device.createBuffer({ size: 1 << 16, usage: U.STORAGE }));
  const uniforms = device.createBuffer({ size: 256 * (o.dispatches + 1), usage: U.UNIFORM | U.COPY_DST });
  const layouts = {};
  for (const dynamic of [true, false]) {
    const B = o.bindings;
    const bgl = device.createBindGroupLayout({ entries: [
      ...Array.from({ length: B }, (_, i) => ({ binding: i, visibility: 4, buffer: { type: 'read-only-storage' } })),
      { binding: B, visibility: 4, buffer: { type: 'storage' } },
      { binding: B + 1, visibility: 4, buffer: { type: 'uniform', hasDynamicOffset: dynamic } }] });
    const pipes = [];
    for (let p = 0; p < o.pipelines; p++) {
      const code = `
        struct Params { slot: u32, pad0: u32, pad1: u32, pad2: u32 };
        ${Array.from({ length: B }, (_, i) => `@group(0) @binding(${i}) var<storage, read> w${i}: array<u32>;`).join('\n')}
        @group(0) @binding(${B}) var<storage, read_write> act: array<u32>;
        @group(0) @binding(${B + 1}) var<uniform> params: Params;
        @compute @workgroup_size(64) fn main(@builtin(local_invocation_index) li: u32) {
          if (li == 0u) { act[${p} * 64u + (params.slot & 63u)] += ${Array.from({ length: B }, (_, i) => `w${i}[li]`).join(' + ')} + 1u; }
        }`;
      pipes.push(await device.createComputePipelineAsync({ layout: device.createPipelineLayout({ bindGroupLayouts: [bgl] }),
        compute: { module: device.createShaderModule({ code }), entryPoint: 'main' } }));
    }
    const groups = [];
    for (let d = 0; d < o.dispatches; d++) {
      groups.push(device.createBindGroup({ layout: bgl, entries: [
        ...Array.from({ length: B }, (_, i) => ({ binding: i, resource: { buffer: weights[(d * B + i) % weights.length] } })),
        { binding: B, resource: { buffer: arena } },
        { binding: B + 1, resource: dynamic ? { buffer: uniforms, size: 256 } : { buffer: uniforms, offset: 256 * d, size: 256 } }] }));
    }
    layouts[dynamic ? 'dynamic' : 'static'] = { pipes, groups };
  }
  const qs = hasTs ? device.createQuerySet({ type: 'timestamp', count: 2 }) : null;
  const tsResolve = device.createBuffer({ size: 16, usage: 0x0200 | U.COPY_SRC });
  const tsRead = device.createBuffer({ size: 16, usage: U.MAP_READ | U.COPY_DST });
  // Consecutive dispatches mostly share a pipeline, as in the engine's
  // layers (runs of 1-3): pipeline of dispatch d.
  const pipeOf = (d) => Math.floor(d / 2) % o.pipelines;
  const offsets = [0];
  const styles = {
    engine: { layout: 'dynamic', submitEvery: 64, sameBg: false },
    one_submit: { layout: 'dynamic', submitEvery: Infinity, sameBg: false },
    static_bg: { layout: 'static', submitEvery: 64, sameBg: false },
    same_bg: { layout: 'static', submitEvery: 64, sameBg: true },
  };
  const results = [];
  for (const [name, st] of Object.entries(styles)) {
    const { pipes, groups } = layouts[st.layout];
    const step = async (timed) => {
      const t0 = performance.now();
      let submitMs = 0;
      const submit = (e) => {
        const ts = performance.now();
        device.queue.submit([e.finish()]);
        submitMs += performance.now() - ts;
      };
      let enc = device.createCommandEncoder();
      let pass = enc.beginComputePass(timed ? { timestampWrites: { querySet: qs, beginningOfPassWriteIndex: 0 } } : {});
      let current = null;
      let inBuffer = 0;
      for (let d = 0; d < o.dispatches; d++) {
        const p = pipes[pipeOf(d)];
        if (p !== current) { pass.setPipeline(p); current = p; }
        if (st.layout === 'dynamic') {
          offsets[0] = 256 * d;
          pass.setBindGroup(0, groups[d], offsets);
        } else if (!st.sameBg || d === 0) {
          pass.setBindGroup(0, groups[d]);
        }
        pass.dispatchWorkgroups(1, 1, 1);
        const last = d === o.dispatches - 1;
        if (++inBuffer >= st.submitEvery && !last) {
          pass.end();
          submit(enc);
          enc = device.createCommandEncoder();
          pass = enc.beginComputePass();
          current = null;
          inBuffer = 0;
        }
      }
      if (timed) {
        pass.end();
        pass = enc.beginComputePass({ timestampWrites: { querySet: qs, endOfPassWriteIndex: 1 } });
      }
      pass.end();
      if (timed) { enc.resolveQuerySet(qs, 0, 2, tsResolve, 0); enc.copyBufferToBuffer(tsResolve, 0, tsRead, 0, 16); }
      submit(enc);
      const t1 = performance.now();
      await device.queue.onSubmittedWorkDone();
      const t2 = performance.now();
      let gpu = null;
      if (timed) {
        await tsRead.mapAsync(GPUMapMode.READ);
        const [b, e] = new BigUint64Array(tsRead.getMappedRange());
        tsRead.unmap();
        gpu = Number(e - b) / 1e6;
      }
      return { cpu: t1 - t0, submit: submitMs, wall: t2 - t0, gpu };
    };
    for (let i = 0; i < 5; i++) await step(false);
    const cpu = [], sub = [], wall = [], gpu = [];
    for (let i = 0; i < o.steps; i++) {
      const r = await step(hasTs && i % 2 === 1);
      if (r.gpu === null) { cpu.push(r.cpu); sub.push(r.submit); wall.push(r.wall); } else gpu.push(r.gpu);
    }
    const res = { style: name, dispatches: o.dispatches, cpu_ms: +median(cpu).toFixed(3), wall_ms: +median(wall).toFixed(3),
      gpu_ms: gpu.length ? +median(gpu).toFixed(3) : null, cpu_us_per_dispatch: +(1000 * median(cpu) / o.dispatches).toFixed(2),
      submit_us_per_dispatch: +(1000 * median(sub) / o.dispatches).toFixed(2), bindings: o.bindings,
      gpu_us_per_dispatch: gpu.length ? +(1000 * median(gpu) / o.dispatches).toFixed(2) : null };
    results.push(res);
    log(`${name}: cpu ${res.cpu_ms} ms (${res.cpu_us_per_dispatch} us/dispatch, ${res.submit_us_per_dispatch} in submits), wall ${res.wall_ms} ms, gpu ${res.gpu_ms} ms (${res.gpu_us_per_dispatch} us/dispatch)`);
  }
  const out = { adapter: info, timestamps: hasTs, results };
  const json = JSON.stringify(out, null, 1);
  if (o.out) writeFileSync(o.out, json);
  process.stdout.write(json + '\n');
  clearInterval(keep);
  device.destroy();
}

main().catch((e) => { console.error(e); process.exit(1); });
