// Replays the C++ WebGPU backend's command stream on a GPUDevice
// (src/backends/webgpu/command_stream.h defines the format). No kernel
// logic here: C++ decided every buffer, pipeline, binding and dispatch; this
// file only turns words into WebGPU calls, caches bind groups, and copies
// readbacks into wasm memory.
import { WebAccelError } from '../errors.js';
import type { GpuBindGroup, GpuBindGroupLayout, GpuBuffer, GpuCommandEncoder, GpuComputePass, GpuDevice, GpuPipeline } from './webgpu.js';

const enum Cmd {
  createBuffer = 1,
  destroyBuffer = 2,
  writeBuffer = 3,
  createPipeline = 4,
  dispatch = 5,
  copyBuffer = 6,
  readback = 7,
  submit = 8,
  uploadFromSource = 9,
}

// The model file being loaded, for upload_from_source (js/src/loader.ts's
// SequentialReader): ranges come in increasing file order.
export interface ModelByteSource {
  copy(offset: number, size: number, sink: (bytes: Uint8Array, at: number) => void): Promise<void>;
}

// Bytes written from the source between waits for the queue: bounds what the
// WebGPU implementation holds in staging memory on the way to the device.
const UPLOAD_WAIT_BYTES = 64 * 1024 * 1024;

const UNIFORM_BUFFER_ID = 1;
const UNIFORM_SLOT_BYTES = 256; // kMaxParamsBytes rounded to minUniformBufferOffsetAlignment
const MAP_READ = 0x0001;
const COPY_DST = 0x0008;

interface BufferEntry {
  buffer: GpuBuffer;
  serial: number; // distinguishes a recreated buffer of the same id in bind group keys
}

interface PipelineEntry {
  ready: Promise<GpuPipeline>;
  pipeline: GpuPipeline | null;
  layout: GpuBindGroupLayout;
  layoutKey: string;
  layoutIndex: number;
  nStorage: number;
  label: string;
}

// GPU time per pipeline (label), from timestamp queries around each dispatch
// when profiling is on: every dispatch then gets its own compute pass, which
// costs a little; for finding where time goes, not for headline numbers.
export interface GpuProfile {
  [label: string]: { dispatches: number; ms: number };
}

export interface DriverStats {
  // wall time replaying streams (JS + Dawn calls up to the last submit) and
  // waiting for their readbacks
  encodeMs: number;
  waitMs: number;
  streams: number;
  dispatches: number;
  submits: number;
  pipelinesCreated: number;
  bindGroupsCreated: number;
  // bytes copied back to wasm memory (a decode step that chooses its
  // token on the GPU reads one id, not the logits)
  readbackBytes: number;
}

const textDecoder = new TextDecoder();

export class GpuDriver {
  readonly device: GpuDevice;
  private readonly buffers = new Map<number, BufferEntry>();
  private readonly pipelines = new Map<number, PipelineEntry>();
  private readonly layouts = new Map<string, GpuBindGroupLayout>();
  private readonly pipelineLayouts = new Map<string, unknown>();
  private readonly bindGroups = new Map<number | string, GpuBindGroup>();
  private readonly bindGroupsOf = new Map<number, (number | string)[]>(); // buffer serial -> bind group keys
  // Reused per dispatch. (Dawn's Node binding measured slower with the
  // Uint32Array form of setBindGroup, and with redundant setPipeline calls
  // skipped: 150 vs 176 tokens/s on an H200, 2026-11-26.)
  private readonly dynamicOffset = [0];
  // Dispatches per command buffer: submitting in pieces lets the GPU start
  // while the rest of a step is still being encoded. (Settable for
  // benchmarks: bench/webgpu/webaccel-node.mjs --dispatches-per-submit.)
  dispatchesPerSubmit = 64;
  // Readback staging buffers for reuse, by size: creating a mappable buffer
  // cost ~160 us in Dawn on an H100 host (a decode step reads back one
  // token id per step), more than encoding ten dispatches.
  private readonly stagingPool = new Map<number, GpuBuffer[]>();
  private static readonly STAGING_POOL_BYTES = 1 << 22; // kept at most, in all
  private stagingPooled = 0;
  private serial = 0;
  private lostReason: string | null = null;
  readonly stats: DriverStats = { encodeMs: 0, waitMs: 0, streams: 0, dispatches: 0, submits: 0, pipelinesCreated: 0, bindGroupsCreated: 0, readbackBytes: 0 };
  // Set to collect GPU time per pipeline (needs 'timestamp-query').
  profile: GpuProfile | null = null;
  // With `profile`: time each stream as a whole instead, under the label
  // '(stream)', from the start of its first pass to the end of an empty pass
  // after its last, all in one submission: the GPU's own time for a decode
  // step, gaps between dependent dispatches included, without the passes
  // per dispatch that timing each one takes.
  profileStreams = false;
  // Measurement aid (bench/webgpu/webaccel-node.mjs --kernel-times): the
  // pipelines of these labels are dispatched twice, so a stream's GPU time
  // grows by what one of their dispatches costs where it runs. The results
  // of non-idempotent dispatches (an in-place residual add) are then wrong:
  // for timing only.
  repeatLabels: Set<string> | null = null;
  // The opposite aid (--kernel-skip-times): the pipelines of these labels are
  // not dispatched at all, so a stream's GPU time shrinks by what removing
  // them (fusing them away) would save, their barrier included. Every later
  // result is wrong: for timing only.
  skipLabels: Set<string> | null = null;
  private querySet: { destroy(): void } | null = null;
  private static readonly MAX_QUERIES = 4096; // the most a query set may hold

  constructor(device: GpuDevice) {
    this.device = device;
    device.lost.then((info) => {
      this.lostReason = `${info.reason ?? 'unknown'}: ${info.message ?? ''}`;
    });
  }

  get lost(): string | null {
    return this.lostReason;
  }

  // Executes a stream (a copy of the words; pointers refer to `memory()`,
  // re-read after every await because wasm memory may grow). `source`: the
  // model file for upload_from_source commands. A stream that fails part way
  // (an aborted upload) still destroys the buffers it was to destroy. Any
  // failure on a device that was lost meanwhile is reported as device_lost,
  // which is what the engine recovers from (it continues on the CPU).
  async execute(words: Uint32Array, memory: () => ArrayBuffer, source?: ModelByteSource): Promise<void> {
    const { done } = await this.start(words, memory, source);
    await done;
  }

  // execute() in two halves: resolves once the stream is encoded and
  // submitted, to `done`, which settles when its readbacks are in wasm
  // memory. The next stream may be started before `done` (streams are
  // submitted in start order): a step is encoded while the GPU still runs
  // the one before it. Errors of either half are reported as execute's.
  async start(words: Uint32Array, memory: () => ArrayBuffer, source?: ModelByteSource): Promise<{ done: Promise<void> }> {
    let done: Promise<void>;
    try {
      ({ done } = await this.run(words, memory, source));
    } catch (e) {
      throw await this.failure(e);
    }
    const settled = done.catch(async (e: unknown) => {
      throw await this.failure(e);
    });
    settled.catch(() => {}); // reported to whoever awaits it
    return { done: settled };
  }

  // What a failure of a stream is reported as: device_lost when the device
  // was lost meanwhile (which the engine recovers from), else the error.
  private async failure(e: unknown): Promise<unknown> {
    if (e instanceof WebAccelError && e.code === 'device_lost') return e;
    // A destroyed device rejects pending mapAsync calls and error scopes,
    // possibly before `device.lost` has resolved: wait a little for it
    // (bounded, so a genuine error is not held up and nothing hangs).
    if (!this.lostReason) await Promise.race([this.device.lost, new Promise((r) => setTimeout(r, 250))]);
    if (this.lostReason) return this.lostError();
    return e;
  }

  private lostError(): WebAccelError {
    return new WebAccelError('device_lost', `the WebGPU device was lost (${this.lostReason})`);
  }

  // Encodes and submits the stream; returns the promise of its readbacks.
  // The error scopes are popped right after the submission (before the
  // next stream can push its own), and awaited with the readbacks.
  private async run(words: Uint32Array, memory: () => ArrayBuffer, source?: ModelByteSource): Promise<{ done: Promise<void> }> {
    if (this.lostReason) throw this.lostError();
    const dev = this.device;
    dev.pushErrorScope('out-of-memory');
    dev.pushErrorScope('validation');
    let encoder: GpuCommandEncoder | null = null;
    let pass: GpuComputePass | null = null;
    let inBuffer = 0; // dispatches in the current command buffer
    const readbacks: { staging: GpuBuffer; size: number; dst: number }[] = [];
    const profiling = this.profile !== null && this.device.features.has('timestamp-query');
    if (profiling && !this.querySet) {
      this.querySet = (dev as unknown as { createQuerySet(d: unknown): { destroy(): void } }).createQuerySet({
        type: 'timestamp',
        count: GpuDriver.MAX_QUERIES,
      });
    }
    const timed: string[] = []; // label of each timed dispatch, in query order
    const spanning = profiling && this.profileStreams;
    let spanStart = -1; // query index of the stream's start (spanning)
    let spanOpen = false; // its end not yet written: nothing is resolved before
    const resolveTimed = () => {
      if (!timed.length || !encoder || spanOpen) return null;
      const bytes = timed.length * 16;
      const resolve = dev.createBuffer({ size: bytes, usage: 0x0200 /* QUERY_RESOLVE */ | 0x0004 /* COPY_SRC */ });
      const staging = dev.createBuffer({ size: bytes, usage: MAP_READ | COPY_DST });
      (encoder as unknown as { resolveQuerySet(q: unknown, first: number, n: number, dst: GpuBuffer, off: number): void }).resolveQuerySet(
        this.querySet,
        0,
        timed.length * 2,
        resolve,
        0,
      );
      encoder.copyBufferToBuffer(resolve, 0, staging, 0, bytes);
      toDestroy.push(resolve);
      const labels = timed.splice(0);
      return { staging, labels };
    };
    const timings: { staging: GpuBuffer; labels: string[] }[] = [];
    const toDestroy: GpuBuffer[] = [];
    let passPipeline: unknown = null; // what the current pass has set (consecutive dispatches often share it)
    const endPass = () => {
      if (pass) {
        pass.end();
        pass = null;
        passPipeline = null;
      }
    };
    const enc = (): GpuCommandEncoder => (encoder ??= dev.createCommandEncoder());
    const submit = () => {
      endPass();
      const t = profiling ? resolveTimed() : null;
      if (t) timings.push(t);
      if (encoder) {
        dev.queue.submit([encoder.finish()]);
        encoder = null;
        this.stats.submits++;
      }
      // Work that used them is submitted: WebGPU frees them once it is done.
      for (const b of toDestroy) b.destroy();
      toDestroy.length = 0;
    };
    const write = (buf: GpuBuffer, offset: number, src: Uint8Array) => {
      const shared = typeof SharedArrayBuffer !== 'undefined' && src.buffer instanceof SharedArrayBuffer;
      if (src.byteLength % 4 === 0 && !shared) {
        dev.queue.writeBuffer(buf, offset, src, 0, src.byteLength);
      } else {
        // writeBuffer wants a multiple of 4 bytes (and Dawn copies out of
        // shared memory poorly): pad a private copy.
        const copy = new Uint8Array((src.byteLength + 3) & ~3);
        copy.set(src);
        dev.queue.writeBuffer(buf, offset, copy, 0, copy.length);
      }
    };
    let uploaded = 0;
    this.stats.streams++;
    let i = 0;
    const replay = async () => {
      for (; i + 1 < words.length; ) {
        const op = words[i];
        const n = words[i + 1];
        const a = i + 2;
        i = a + n;
        switch (op) {
          case Cmd.createBuffer: {
            this.drop(words[a], toDestroy);
            const buffer = dev.createBuffer({ size: words[a + 1], usage: words[a + 2] });
            this.buffers.set(words[a], { buffer, serial: ++this.serial });
            break;
          }
          case Cmd.destroyBuffer:
            // Work already encoded may still use it: destroyed after submission.
            this.drop(words[a], toDestroy);
            break;
          case Cmd.writeBuffer: {
            // Queue writes run before any command buffer submitted after them:
            // submit what is encoded so far to keep stream order.
            if (encoder) submit();
            write(this.buffer(words[a]), words[a + 1], new Uint8Array(memory(), words[a + 2], words[a + 3]));
            break;
          }
          case Cmd.uploadFromSource: {
            if (!source) throw new WebAccelError('internal', 'upload_from_source without a model source');
            if (encoder) submit();
            const buf = this.buffer(words[a]);
            const dst = words[a + 1];
            const size = words[a + 4];
            await source.copy(words[a + 2] + words[a + 3] * 2 ** 32, size, (bytes, at) => write(buf, dst + at, bytes));
            uploaded += size;
            if (uploaded >= UPLOAD_WAIT_BYTES) {
              uploaded = 0;
              submit();
              dev.queue.submit([]);
              await dev.queue.onSubmittedWorkDone();
            }
            break;
          }
          case Cmd.createPipeline:
            this.createPipeline(words, a, memory());
            break;
          case Cmd.dispatch: {
            const p = this.pipelines.get(words[a]);
            if (!p) throw new WebAccelError('internal', `unknown pipeline ${words[a]}`);
            if (!p.pipeline) {
              endPass();
              p.pipeline = await p.ready;
            }
            const nb = words[a + 5];
            const bg = this.bindGroup(p, words, a + 6, nb);
            if (spanning) {
              if (spanStart < 0) {
                endPass();
                spanStart = timed.length * 2;
                spanOpen = true;
                pass = enc().beginComputePass({ timestampWrites: { querySet: this.querySet, beginningOfPassWriteIndex: spanStart } });
                timed.push('(stream)');
              }
            } else if (profiling) {
              if (timed.length * 2 + 2 > GpuDriver.MAX_QUERIES) submit();
              endPass();
              const q = timed.length * 2;
              pass = enc().beginComputePass({
                timestampWrites: { querySet: this.querySet, beginningOfPassWriteIndex: q, endOfPassWriteIndex: q + 1 },
              });
              timed.push(p.label);
            }
            pass ??= enc().beginComputePass();
            if (passPipeline !== p.pipeline) {
              pass.setPipeline(p.pipeline);
              passPipeline = p.pipeline;
            }
            this.dynamicOffset[0] = words[a + 4];
            pass.setBindGroup(0, bg, this.dynamicOffset);
            if (!this.skipLabels?.has(p.label)) pass.dispatchWorkgroups(words[a + 1], words[a + 2], words[a + 3]);
            if (this.repeatLabels?.has(p.label)) pass.dispatchWorkgroups(words[a + 1], words[a + 2], words[a + 3]);
            this.stats.dispatches++;
            if (++inBuffer >= this.dispatchesPerSubmit && !profiling) {
              submit();
              inBuffer = 0;
            }
            break;
          }
          case Cmd.copyBuffer:
            endPass();
            enc().copyBufferToBuffer(this.buffer(words[a]), words[a + 1], this.buffer(words[a + 2]), words[a + 3], words[a + 4]);
            break;
          case Cmd.readback: {
            endPass();
            const size = words[a + 2];
            const staging = this.takeStaging((size + 3) & ~3);
            enc().copyBufferToBuffer(this.buffer(words[a]), words[a + 1], staging, 0, (size + 3) & ~3);
            readbacks.push({ staging, size, dst: words[a + 3] });
            this.stats.readbackBytes += size;
            break;
          }
          case Cmd.submit:
            submit();
            break;
          default:
            throw new WebAccelError('internal', `unknown command ${op} in the GPU stream`);
        }
      }
    };
    const t0 = performance.now();
    const popScopes = () => {
      // A lost device may reject these instead of answering null.
      const validation = dev.popErrorScope().catch(() => null);
      const oom = dev.popErrorScope().catch(() => null);
      return async () => {
        const [v, o] = [await validation, await oom];
        if (this.lostReason) throw this.lostError();
        if (o) throw new WebAccelError('out_of_memory', `WebGPU: ${o.message}`);
        if (v) throw new WebAccelError('internal', `WebGPU validation error: ${v.message}`);
      };
    };
    try {
      await replay();
      if (spanStart >= 0) {
        endPass();
        enc().beginComputePass({ timestampWrites: { querySet: this.querySet, endOfPassWriteIndex: spanStart + 1 } }).end();
        spanOpen = false;
      }
      submit();
    } catch (e) {
      // The rest of the stream's destroys (a staging buffer, a model
      // released in the same stream) still happen: nothing stays allocated.
      for (let j = i; j + 1 < words.length; j += 2 + words[j + 1]) {
        if (words[j] === Cmd.destroyBuffer) this.drop(words[j + 2], toDestroy);
      }
      submit();
      for (const r of readbacks) r.staging.destroy();
      const check = popScopes();
      await check().catch(() => {}); // the replay's own error says more
      throw e;
    }
    const checkScopes = popScopes();
    const t1 = performance.now();
    this.stats.encodeMs += t1 - t0;
    const done = (async () => {
      try {
        for (const t of timings) {
          await t.staging.mapAsync(1);
          const ts = new BigUint64Array(t.staging.getMappedRange());
          t.labels.forEach((label, i) => {
            const e = (this.profile![label] ??= { dispatches: 0, ms: 0 });
            e.dispatches++;
            e.ms += Number(ts[2 * i + 1] - ts[2 * i]) / 1e6;
          });
          t.staging.unmap();
          t.staging.destroy();
        }
        for (const r of readbacks) {
          await r.staging.mapAsync(1 /* GPUMapMode.READ */);
          const bytes = new Uint8Array(r.staging.getMappedRange(), 0, r.size);
          new Uint8Array(memory(), r.dst, r.size).set(bytes);
          r.staging.unmap();
          this.returnStaging(r.staging);
        }
        this.stats.waitMs += performance.now() - t1;
      } finally {
        await checkScopes();
      }
    })();
    return { done }; // an object: awaiting run() must not wait for `done`
  }

  // Waits for every pipeline created so far (precompilation finishes before
  // the first token).
  async pipelinesReady(): Promise<void> {
    for (const p of this.pipelines.values()) p.pipeline ??= await p.ready;
  }

  private takeStaging(bytes: number): GpuBuffer {
    const pooled = this.stagingPool.get(bytes)?.pop();
    if (pooled) {
      this.stagingPooled -= bytes;
      return pooled;
    }
    return this.device.createBuffer({ size: bytes, usage: MAP_READ | COPY_DST });
  }

  // An unmapped staging buffer whose readback is done.
  private returnStaging(b: GpuBuffer): void {
    const bytes = b.size;
    if (this.stagingPooled + bytes > GpuDriver.STAGING_POOL_BYTES) {
      b.destroy();
      return;
    }
    const list = this.stagingPool.get(bytes);
    if (list) list.push(b);
    else this.stagingPool.set(bytes, [b]);
    this.stagingPooled += bytes;
  }

  destroy(): void {
    for (const list of this.stagingPool.values()) for (const b of list) b.destroy();
    this.stagingPool.clear();
    this.stagingPooled = 0;
    for (const b of this.buffers.values()) b.buffer.destroy();
    this.buffers.clear();
    this.bindGroups.clear();
    this.bindGroupsOf.clear();
  }

  // Forgets a buffer and the bind groups that hold it.
  private drop(id: number, toDestroy: GpuBuffer[]): void {
    const b = this.buffers.get(id);
    if (!b) return;
    toDestroy.push(b.buffer);
    this.buffers.delete(id);
    for (const k of this.bindGroupsOf.get(b.serial) ?? []) this.bindGroups.delete(k);
    this.bindGroupsOf.delete(b.serial);
  }

  private buffer(id: number): GpuBuffer {
    const b = this.buffers.get(id);
    if (!b) throw new WebAccelError('internal', `unknown GPU buffer ${id}`);
    return b.buffer;
  }

  private layoutFor(nStorage: number, rwMask: number): { layout: GpuBindGroupLayout; pipelineLayout: unknown; key: string; index: number } {
    const key = `${nStorage}/${rwMask}`;
    let layout = this.layouts.get(key);
    if (!layout) {
      const entries: unknown[] = [];
      for (let b = 0; b < nStorage; ++b) {
        entries.push({ binding: b, visibility: 4 /* COMPUTE */, buffer: { type: rwMask & (1 << b) ? 'storage' : 'read-only-storage' } });
      }
      entries.push({ binding: nStorage, visibility: 4, buffer: { type: 'uniform', hasDynamicOffset: true } });
      layout = this.device.createBindGroupLayout({ entries });
      this.layouts.set(key, layout);
      this.pipelineLayouts.set(key, this.device.createPipelineLayout({ bindGroupLayouts: [layout] }));
    }
    return { layout, pipelineLayout: this.pipelineLayouts.get(key), key, index: [...this.layouts.keys()].indexOf(key) };
  }

  private createPipeline(words: Uint32Array, a: number, mem: ArrayBuffer): void {
    const id = words[a];
    const rwMask = words[a + 1];
    const nStorage = words[a + 2];
    // TextDecoder rejects views of shared memory: copy first.
    const code = textDecoder.decode(new Uint8Array(mem, words[a + 3], words[a + 4]).slice());
    const label = textDecoder.decode(new Uint8Array(mem, words[a + 5], words[a + 6]).slice());
    const { layout, pipelineLayout, key, index } = this.layoutFor(nStorage, rwMask);
    const module = this.device.createShaderModule({ code, label });
    const ready = this.device
      .createComputePipelineAsync({ label, layout: pipelineLayout, compute: { module, entryPoint: 'main' } })
      .catch(async (e: unknown) => {
        // The pipeline's error only says the module is invalid; the WGSL
        // compiler's own messages say why.
        const info = await module.getCompilationInfo?.().catch(() => null);
        const errors = (info?.messages ?? []).filter((m) => m.type === 'error').map((m) => `${m.lineNum}:${m.linePos}: ${m.message}`);
        const why = errors.length ? `; WGSL: ${errors.slice(0, 3).join('; ')}` : '';
        throw new WebAccelError('internal', `WebGPU pipeline '${label}' failed to compile: ${e instanceof Error ? e.message : String(e)}${why}`);
      });
    ready.catch(() => {}); // reported when a dispatch awaits it
    this.pipelines.set(id, { ready, pipeline: null, layout, layoutKey: key, layoutIndex: index, nStorage, label });
    this.stats.pipelinesCreated++;
  }

  // Bind groups are looked up for every dispatch (~300 per decoded 7B token):
  // the key is a number where it can be, a string otherwise. The number is
  // layoutIndex + 16 * (the buffer ids as digits: base 2^16 for up to three,
  // 2^12 for four, 2^9 for five), below 2^49, so exact; the layout fixes
  // how many ids there are, so the bases cannot collide. Ids, not serials: a
  // destroyed buffer drops its bind groups (drop()), so an id reused later
  // cannot hit a stale one.
  private bindGroup(p: PipelineEntry, words: Uint32Array, first: number, count: number): GpuBindGroup {
    let key: number | string = -1;
    if (count <= 5 && p.layoutIndex < 16) {
      const base = count <= 3 ? 65536 : count === 4 ? 4096 : 512;
      let k = 0;
      let fits = true;
      for (let i = count - 1; i >= 0; --i) {
        const id = words[first + i];
        if (id >= base) fits = false;
        k = k * base + id;
      }
      if (fits) key = p.layoutIndex + 16 * k;
    }
    if (key === -1) key = `${p.layoutKey}|${Array.from(words.subarray(first, first + count)).join('/')}`;
    const hit = this.bindGroups.get(key);
    if (hit) return hit;
    const bufs: BufferEntry[] = [];
    for (let i = 0; i < count; ++i) {
      const id = words[first + i];
      const b = this.buffers.get(id);
      if (!b) throw new WebAccelError('internal', `unknown GPU buffer ${id} bound by '${p.label}'`);
      bufs.push(b);
    }
    const u = this.buffers.get(UNIFORM_BUFFER_ID);
    if (!u) throw new WebAccelError('internal', 'no uniform buffer');
    let bg = this.bindGroups.get(key);
    if (!bg) {
      const entries = bufs.map((b, i) => ({ binding: i, resource: { buffer: b.buffer } }));
      entries.push({ binding: bufs.length, resource: { buffer: u.buffer, size: UNIFORM_SLOT_BYTES } as never });
      bg = this.device.createBindGroup({ layout: p.layout, entries });
      this.bindGroups.set(key, bg);
      for (const b of [...bufs, u]) {
        const keys = this.bindGroupsOf.get(b.serial);
        if (keys) keys.push(key);
        else this.bindGroupsOf.set(b.serial, [key]);
      }
      this.stats.bindGroupsCreated++;
    }
    return bg;
  }
}
