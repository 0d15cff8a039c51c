// Model bytes from any source, with progress and abort: into wasm memory
// (readIntoWasm: the bytes go straight into one wasm allocation when the size
// is known, from a URL with Content-Length, file, Blob, ArrayBuffer;
// otherwise chunks are gathered and copied once at the end), or front to back
// for a WebGPU engine (SequentialReader: the header, then tensor data that the
// GPU driver writes to device buffers, never all in wasm memory).
import { WebAccelError, cancelled } from './errors.js';
import { isNode, type Native } from './native.js';
import type { LoadProgress, ModelSource } from './types.js';

// Loading a model allocates, beside the file's bytes, its metadata, tensor
// table and tokenizer in C++ containers. In wasm their allocation failure
// cannot be caught (it stops the module), so a file is accepted only with
// this much room left beyond it. Generous: a 32k-token vocabulary takes a
// few MiB; the KV cache and activations come later, from allocations that
// fail with a status.
export function loadReserve(fileBytes: number): number {
  return 16 * 1024 ** 2 + Math.ceil(fileBytes / 64);
}

const mib = (n: number) => `${(n / 1024 ** 2).toFixed(1)} MiB`;

export interface ByteSource {
  total: number | undefined;
  chunks: AsyncIterable<Uint8Array>;
  name: string;
  // Releases the source when it is refused before its chunks were read
  // (a stream left open would keep a file or a connection busy).
  cancel?: () => void;
}

function cancelStream(s: ReadableStream<Uint8Array>): () => void {
  return () => void s.cancel().catch(() => {});
}

function checkAbort(signal: AbortSignal | undefined, what: string): void {
  if (signal?.aborted) throw cancelled(what);
}

async function* readStream(stream: ReadableStream<Uint8Array>, signal?: AbortSignal): AsyncIterable<Uint8Array> {
  const reader = stream.getReader();
  const onAbort = () => void reader.cancel().catch(() => {});
  signal?.addEventListener('abort', onAbort);
  let finished = false;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      checkAbort(signal, 'loading the model');
      if (done) {
        finished = true;
        return;
      }
      if (value && value.byteLength) yield value;
    }
  } finally {
    signal?.removeEventListener('abort', onAbort);
    // Refused part-way (too big, aborted): the source need not go on.
    if (!finished) void reader.cancel().catch(() => {});
    reader.releaseLock();
  }
}

async function* single(bytes: Uint8Array): AsyncIterable<Uint8Array> {
  // Large buffers in slices so progress and abort still work.
  const step = 16 * 1024 * 1024;
  for (let o = 0; o < bytes.byteLength; o += step) yield bytes.subarray(o, Math.min(bytes.byteLength, o + step));
}

function isUrlLike(s: string): boolean {
  return /^(https?|blob|data):/i.test(s);
}

export async function openSource(source: ModelSource, signal?: AbortSignal): Promise<ByteSource> {
  if (source instanceof ArrayBuffer) {
    return { total: source.byteLength, chunks: single(new Uint8Array(source)), name: 'ArrayBuffer' };
  }
  if (ArrayBuffer.isView(source)) {
    const u8 = new Uint8Array(source.buffer, source.byteOffset, source.byteLength);
    return { total: u8.byteLength, chunks: single(u8), name: 'buffer' };
  }
  if (typeof Blob !== 'undefined' && source instanceof Blob) {
    const name = (source as File).name ?? 'Blob';
    const stream = source.stream() as ReadableStream<Uint8Array>;
    return { total: source.size, chunks: readStream(stream, signal), name, cancel: cancelStream(stream) };
  }
  if (typeof ReadableStream !== 'undefined' && source instanceof ReadableStream) {
    return { total: undefined, chunks: readStream(source, signal), name: 'stream', cancel: cancelStream(source) };
  }
  if (typeof source === 'string' || source instanceof URL) {
    const s = source.toString();
    if (isNode && !isUrlLike(s)) {
      // A file path or file: URL.
      const fs = await import('node:fs');
      const { fileURLToPath } = await import('node:url');
      const path = s.startsWith('file:') ? fileURLToPath(s) : s;
      let size: number;
      try {
        size = (await fs.promises.stat(path)).size;
      } catch (e) {
        throw new WebAccelError('io_error', `cannot open ${path}: ${(e as Error).message}`);
      }
      const stream = fs.createReadStream(path, { highWaterMark: 4 * 1024 * 1024 });
      async function* chunks(): AsyncIterable<Uint8Array> {
        try {
          for await (const c of stream) {
            checkAbort(signal, 'loading the model');
            yield c as Uint8Array;
          }
        } catch (e) {
          if (e instanceof WebAccelError) throw e;
          throw new WebAccelError('io_error', `reading ${path}: ${(e as Error).message}`);
        } finally {
          stream.destroy();
        }
      }
      return { total: size, chunks: chunks(), name: path, cancel: () => stream.destroy() };
    }
    let res: Response;
    try {
      res = await fetch(s, { signal });
    } catch (e) {
      if (signal?.aborted) throw cancelled('loading the model');
      throw new WebAccelError('io_error', `cannot fetch ${s}: ${(e as Error).message}`);
    }
    if (!res.ok || !res.body) throw new WebAccelError('io_error', `cannot fetch ${s}: HTTP ${res.status}`);
    const len = res.headers.get('content-length');
    // A compressed response's Content-Length counts compressed bytes.
    const total = len && !res.headers.get('content-encoding') ? Number(len) : undefined;
    return { total, chunks: readStream(res.body, signal), name: s, cancel: cancelStream(res.body) };
  }
  throw new WebAccelError('invalid_argument', 'model source must be a URL, a file path (Node), an ArrayBuffer, a Blob/File or a ReadableStream');
}

// Reads the source into a wa_alloc buffer; returns [ptr, size]. The caller
// hands the buffer to wa_model_load, which owns it from then on.
export async function readIntoWasm(
  native: Native,
  source: ModelSource,
  onProgress?: (p: LoadProgress) => void,
  signal?: AbortSignal,
): Promise<[number, number, string]> {
  checkAbort(signal, 'loading the model');
  return readSourceIntoWasm(native, await openSource(source, signal), onProgress, signal);
}

// The same from an opened source.
export async function readSourceIntoWasm(
  native: Native,
  src: ByteSource,
  onProgress?: (p: LoadProgress) => void,
  signal?: AbortSignal,
): Promise<[number, number, string]> {
  // Checked before a byte is read (when the size is known), against what the
  // module can still allocate: its memory limit minus what it holds.
  let heap: ReturnType<Native['heap']>;
  try {
    heap = native.heap();
  } catch (e) {
    src.cancel?.();
    throw e;
  }
  const fits = (n: number) => n + loadReserve(n) <= heap.available;
  const tooBig = (n: number) =>
    new WebAccelError(
      'out_of_memory',
      `${src.name}: ${n} bytes (${mib(n)}) do not fit the wasm memory: ${mib(heap.available)} of its ` +
        `${mib(heap.limit)} limit can still be allocated, and loading needs ${mib(loadReserve(n))} beside the file`,
    );
  let loaded = 0;
  let ptr = 0;
  const parts: Uint8Array[] = [];
  let started = false;
  try {
    if (src.total !== undefined && !fits(src.total)) throw tooBig(src.total);
    if (src.total !== undefined) ptr = native.alloc(Math.max(1, src.total));
    onProgress?.({ phase: 'read', loaded: 0, total: src.total });
    started = true;
    for await (const chunk of src.chunks) {
      checkAbort(signal, 'loading the model');
      if (src.total !== undefined) {
        if (loaded + chunk.byteLength > src.total) {
          throw new WebAccelError('io_error', `${src.name}: more bytes than the announced ${src.total}`);
        }
        native.u8(ptr + loaded, chunk.byteLength).set(chunk);
      } else {
        if (!fits(loaded + chunk.byteLength)) throw tooBig(loaded + chunk.byteLength);
        parts.push(chunk.slice());
      }
      loaded += chunk.byteLength;
      onProgress?.({ phase: 'read', loaded, total: src.total });
    }
    checkAbort(signal, 'loading the model');
    if (src.total !== undefined && loaded !== src.total) {
      throw new WebAccelError('io_error', `${src.name}: the transfer ended after ${loaded} of ${src.total} bytes`);
    }
    if (src.total === undefined) {
      ptr = native.alloc(Math.max(1, loaded));
      let o = 0;
      for (const p of parts) {
        native.u8(ptr + o, p.byteLength).set(p);
        o += p.byteLength;
      }
      parts.length = 0;
      onProgress?.({ phase: 'read', loaded, total: loaded });
    }
    return [ptr, loaded, src.name];
  } catch (e) {
    if (ptr) native.free(ptr);
    if (!started) src.cancel?.();
    throw e;
  }
}

// Bytes handed to the GPU driver at a time: multiples of 4 (WebGPU's copy
// alignment) except a range's last piece.
const BLOCK_BYTES = 16 * 1024 * 1024;

// A source read once, front to back: first its header (prefix, not consumed),
// then ranges in increasing file order (copy), skipping the bytes between, so
// URLs, streams, Blobs and files all work without random access. Holds at
// most about one block of the file at a time.
export class SequentialReader {
  readonly name: string;
  // The file's size; found at the end of the stream when not announced.
  total: number | undefined;
  private readonly it: AsyncIterator<Uint8Array>;
  private queue: Uint8Array[] = []; // read, not consumed; queue[0] starts at `pos`
  private queued = 0;
  private pos = 0;
  private ended = false;

  constructor(
    src: ByteSource,
    private readonly signal?: AbortSignal,
    private readonly onProgress?: (p: LoadProgress) => void,
  ) {
    this.name = src.name;
    this.total = src.total;
    this.it = src.chunks[Symbol.asyncIterator]();
  }

  private async pull(): Promise<boolean> {
    if (this.ended) return false;
    checkAbort(this.signal, 'loading the model');
    const r = await this.it.next();
    checkAbort(this.signal, 'loading the model');
    if (r.done) {
      this.ended = true;
      this.total ??= this.pos + this.queued;
      return false;
    }
    this.queue.push(r.value);
    this.queued += r.value.byteLength;
    if (this.total !== undefined && this.pos + this.queued > this.total) {
      throw new WebAccelError('io_error', `${this.name}: more bytes than the announced ${this.total}`);
    }
    return true;
  }

  // Bytes consumed so far (the end of the last range copied).
  get position(): number {
    return this.pos;
  }

  // The first n bytes of the file (fewer if it is shorter), left unconsumed.
  async prefix(n: number): Promise<Uint8Array> {
    if (this.pos !== 0) throw new WebAccelError('internal', 'the header is read before any range');
    while (this.queued < n && (await this.pull()));
    return this.take(Math.min(n, this.queued), false);
  }

  // Bytes [offset, offset + size) to sink in blocks, `at` counting from offset.
  async copy(offset: number, size: number, sink: (bytes: Uint8Array, at: number) => void): Promise<void> {
    checkAbort(this.signal, 'loading the model');
    if (offset < this.pos) {
      throw new WebAccelError('internal', `${this.name}: byte ${offset} asked for after byte ${this.pos} (the source is read front to back)`);
    }
    const truncated = () =>
      new WebAccelError('invalid_file', `${this.name}: the file ends at byte ${this.pos + this.queued}, before the end of tensor data at ${offset + size}`);
    while (this.pos < offset) {
      if (!this.queued && !(await this.pull())) throw truncated();
      this.take(Math.min(this.queue[0].byteLength, offset - this.pos), true);
    }
    for (let at = 0; at < size; ) {
      const want = Math.min(BLOCK_BYTES, size - at);
      while (this.queued < want && (await this.pull()));
      if (this.queued < want) throw truncated();
      sink(this.take(want, true), at);
      at += want;
      this.onProgress?.({ phase: 'upload', loaded: this.pos, total: this.total });
      checkAbort(this.signal, 'loading the model');
    }
  }

  // What was not consumed, as a source of its own (a model that needs its
  // bytes in wasm memory after all; nothing was consumed then).
  rest(): ByteSource {
    const self = this;
    async function* chunks(): AsyncIterable<Uint8Array> {
      while (self.queued || (await self.pull())) yield self.take(self.queue[0].byteLength, true);
    }
    return { total: this.total, chunks: chunks(), name: this.name, cancel: () => void this.close().catch(() => {}) };
  }

  // Stops reading the source (the rest of the file is not needed).
  async close(): Promise<void> {
    this.queue = [];
    this.queued = 0;
    if (!this.ended) {
      this.ended = true;
      await this.it.return?.();
    }
  }

  // n <= queued bytes from the front, as one array (a view when they lie in one chunk).
  private take(n: number, consume: boolean): Uint8Array {
    if (n === 0) return new Uint8Array(0);
    let out: Uint8Array;
    if (n <= (this.queue[0]?.byteLength ?? 0)) {
      out = this.queue[0].subarray(0, n);
    } else {
      out = new Uint8Array(n);
      let o = 0;
      for (const c of this.queue) {
        if (o >= n) break;
        const k = Math.min(c.byteLength, n - o);
        out.set(c.subarray(0, k), o);
        o += k;
      }
    }
    if (consume) {
      let left = n;
      while (left > 0) {
        const c = this.queue[0];
        if (c.byteLength <= left) {
          this.queue.shift();
          left -= c.byteLength;
        } else {
          this.queue[0] = c.subarray(left);
          left = 0;
        }
      }
      this.queued -= n;
      this.pos += n;
    }
    return out;
  }
}
