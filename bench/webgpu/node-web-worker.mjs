// A browser-style `Worker` for Node, enough for web libraries that start their
// engine in a module worker made from a Blob (wllama does), optionally with
// WebGPU (Dawn from npm `webgpu`) as `navigator.gpu` inside the worker.
// A benchmark tool for peers (bench/webgpu/wllama-node.mjs); not product code.
//
// What the worker sees (set up by BOOT below, before the library's code runs):
// - web-worker globals over worker_threads: self, postMessage, onmessage, location;
// - messages delivered to onmessage as they arrive, never waiting for an earlier
//   async handler: a wasm call suspended by JSPI may be waiting for a later
//   message (wllama's 'fs.read_res');
// - `require`, so emscripten glue takes its Node path (fs for the .wasm file,
//   worker_threads for pthreads);
// - pthread workers: emscripten starts them with the main script as a blob: URL,
//   which worker_threads cannot load. Any Blob that arrives in a message is read
//   to text before that message is delivered, and worker_threads.Worker is
//   replaced by a subclass that runs blob: URLs from that text.

import { resolveObjectURL } from 'node:buffer';
import { pathToFileURL } from 'node:url';
import { Worker as ThreadWorker } from 'node:worker_threads';

const BOOT = String.raw`
'use strict';
const threads = require('node:worker_threads');
const { parentPort, workerData } = threads;
globalThis.require = require;
globalThis.self = globalThis;
globalThis.location = { href: workerData.href };
globalThis.onmessage = null;
globalThis.postMessage = (data, transfer) =>
  parentPort.postMessage(data, Array.isArray(transfer) ? transfer : transfer?.transfer);

// blob: URL -> script text, for the pthread workers
const blobScripts = new Map();
const blobText = new WeakMap();
const createObjectURL = URL.createObjectURL;
URL.createObjectURL = (blob) => {
  const url = createObjectURL(blob);
  if (blobText.has(blob)) blobScripts.set(url, blobText.get(blob));
  return url;
};
class BlobAwareWorker extends threads.Worker {
  constructor(url, options = {}) {
    const s = String(url);
    if (!s.startsWith('blob:')) { super(url, options); return; }
    const text = blobScripts.get(s);
    if (text === undefined) throw new Error('worker shim: no text for ' + s + ' (its Blob never came in a message)');
    super(text, { ...options, eval: true });
  }
}
threads.Worker = BlobAwareWorker;

// Delivery: in order of arrival; a message waits only for the reading of Blobs
// inside it and inside earlier messages, never for an earlier handler.
let ready = false;
const early = [];
let reads = Promise.resolve();
function deliver(data) {
  const blobs = (data && Array.isArray(data.args)) ? data.args.filter((a) => a instanceof Blob) : [];
  for (const b of blobs) reads = reads.then(() => b.text()).then((t) => { blobText.set(b, t); });
  reads.then(() => { if (globalThis.onmessage) globalThis.onmessage({ data }); })
    .catch((e) => console.error('[worker shim] delivery failed:', e));
}
parentPort.on('message', (data) => (ready ? deliver(data) : early.push(data)));

(async () => {
  if (workerData.webgpu) {
    const { create, globals } = await import(workerData.webgpu.module);
    for (const [k, v] of Object.entries(globals)) if (!(k in globalThis)) globalThis[k] = v;
    const gpu = create(workerData.webgpu.flags);
    Object.defineProperty(globalThis.navigator, 'gpu', { value: gpu, configurable: true, enumerable: true });
  }
  (0, eval)(workerData.code);
  ready = true;
  for (const d of early.splice(0)) deliver(d);
})().catch((e) => { console.error('[worker shim] start failed:', e); process.exit(1); });
`;

/**
 * `new NodeWebWorker(blobUrl)` behaves like `new Worker(blobUrl, {type:'module'})`
 * of a browser for code that only uses postMessage/onmessage. Configure with
 * the static fields before the library creates its worker.
 */
export class NodeWebWorker {
  /** { module: file URL of webgpu's index.js, flags: [Dawn flags] } or null: no navigator.gpu */
  static webgpu = null;
  /** what `self.location.href` reads in the worker */
  static baseHref = pathToFileURL(process.cwd() + '/').href;

  constructor(url) {
    this.onmessage = null;
    this.onerror = null;
    this.thread = null;
    this.pending = [];
    this.terminated = false;
    const blob = resolveObjectURL(String(url));
    if (!blob) throw new Error(`NodeWebWorker runs blob: URLs only, got ${url}`);
    blob.text().then((code) => {
      if (this.terminated) return;
      this.thread = new ThreadWorker(BOOT, {
        eval: true,
        workerData: { code, href: NodeWebWorker.baseHref, webgpu: NodeWebWorker.webgpu },
      });
      this.thread.on('message', (data) => this.onmessage?.({ data }));
      this.thread.on('error', (e) => (this.onerror ? this.onerror(e) : console.error('[worker]', e)));
      for (const [data, transfer] of this.pending.splice(0)) this.thread.postMessage(data, transfer);
    });
  }

  postMessage(data, transfer) {
    const list = Array.isArray(transfer) ? transfer : transfer?.transfer;
    if (this.thread) this.thread.postMessage(data, list);
    else this.pending.push([data, list]);
  }

  addEventListener(type, fn) {
    if (type === 'message') this.onmessage = fn;
    else if (type === 'error') this.onerror = fn;
  }

  terminate() {
    this.terminated = true;
    return this.thread?.terminate();
  }
}

/** Installs the globals a web library expects on the main thread. */
export function installWebGlobals({ webgpu = null } = {}) {
  NodeWebWorker.webgpu = webgpu;
  globalThis.self ??= globalThis;
  globalThis.location ??= { href: NodeWebWorker.baseHref };
  globalThis.Worker = NodeWebWorker;
}
