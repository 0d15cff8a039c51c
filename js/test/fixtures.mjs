// Test material for the JS tests: models made by the native CLI (built by
// `make test-js`), cached in build/js-fixtures, and the shared references.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
export const repo = resolve(here, '../..');
export const cli = process.env.WEBACCEL_CLI ?? join(repo, 'build/native/bin/webaccel');
export const shared = process.env.WA_SHARED ?? resolve(repo, '../shared');
export const stories = join(shared, 'models/stories260K');
const dir = join(repo, 'build/js-fixtures');

function make(name, args) {
  const out = join(dir, name);
  if (!existsSync(out)) {
    mkdirSync(dir, { recursive: true });
    execFileSync(cli, [...args, out + '.tmp'], { stdio: 'pipe' });
    execFileSync('mv', [out + '.tmp', out]);
  }
  return out;
}

// stories260K (llama2.c) as GGUF f32: no tokenizer; reproduces greedy256 exactly.
export const storiesGguf = () => make('stories260K_f32.gguf', ['convert', join(stories, 'stories260K.bin'), '--type', 'f32']);
// A small random-weight LLaMA with a synthetic SentencePiece vocabulary (4096 tokens).
export const tinyGguf = () => make('synth_tiny_q8_0.gguf', ['synth', '--arch', 'llama', '--preset', 'tiny', '--type', 'q8_0']);
// The same shape, q4_0 weights (exercises the int8 kernels).
export const tinyQ4Gguf = () => make('synth_tiny_q4_0.gguf', ['synth', '--arch', 'llama', '--preset', 'tiny', '--type', 'q4_0']);
// The same shape, q4_K weights (every row is whole 256-weight super-blocks).
export const tinyQ4KGguf = () => make('synth_tiny_q4_K.gguf', ['synth', '--arch', 'llama', '--preset', 'tiny', '--type', 'q4_K']);
// stories260K as q5_K: its rows of 64 fit no super-block and fall back to
// q5_1, the FFN's down rows of 172 to f16 (llama.cpp's rule): a file of
// mixed types, q5_1 among them, with the norms in f32.
export const storiesMixedGguf = () =>
  make('stories260K_q5_K_mixed.gguf', ['convert', join(stories, 'stories260K.bin'), '--type', 'q5_K']);

// A model file as f32: every matrix dequantized by the reference (exact), so
// the native CLI computes in f32 what a GPU that dequantizes its weights in
// its kernels computes.
export const dequantizedGguf = (file) =>
  make(file.replace(/^.*\//, '').replace(/\.gguf$/, '') + '_dequantized_f32.gguf', ['convert', file, '--type', 'f32']);

export function greedyIds() {
  return readFileSync(join(stories, 'greedy256.ids'), 'utf8').trim().split(/\s+/).map(Number);
}

// Teacher-forced logits from the native CLI for `ids` on `model`.
// isa: force the native kernels (WEBACCEL_ISA), e.g. 'scalar' to compare
// with the wasm build's scalar kernels number for number. args: more CLI
// options (e.g. the KV cache type).
export function nativeLogits(model, ids, name, isa, args = []) {
  mkdirSync(dir, { recursive: true });
  const tokens = join(dir, `${name}.ids`);
  const out = join(dir, `${name}.logits.f32`);
  writeFileSync(tokens, ids.join('\n') + '\n');
  const env = isa ? { ...process.env, WEBACCEL_ISA: isa } : process.env;
  execFileSync(cli, ['logits', '-m', model, '--tokens', tokens, '--out', out, '--threads', '1', ...args], { stdio: 'pipe', env });
  const b = readFileSync(out);
  return new Float32Array(b.buffer, b.byteOffset, b.byteLength / 4);
}

export function maxAbsDiff(a, b) {
  let m = 0;
  for (let i = 0; i < a.length; ++i) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

// Normalized mean squared error, as the backend-ops tests measure it.
export function nmse(a, ref) {
  let num = 0;
  let den = 0;
  for (let i = 0; i < a.length; ++i) {
    num += (a[i] - ref[i]) ** 2;
    den += ref[i] ** 2;
  }
  return num / Math.max(den, 1e-30);
}
export const tinyF16Gguf = () => make('synth_tiny_f16.gguf', ['synth', '--arch', 'llama', '--preset', 'tiny', '--type', 'f16']);
// The same shape in webaccel's own vector-quantized types (quantized from
// the f16 file: rows of 256 are whole super-blocks).
export const tinyVqGguf = (type) => make(`synth_tiny_${type}.gguf`, ['quantize', tinyF16Gguf(), '--type', type]);

// The bundled model (f16; a token embedding of 128 x 32000 tied to the
// output) with 64 hot rows (formats/hot_rows.h: the rows a calibration text
// looks up most, again in q8_0 for the lookup) in q4_0, as
// tests/cli/run_malformed_tests.sh makes it, or f16 (whose products the CPU
// and the GPU both compute in f32: their logits agree to summation order);
// and a file of the same matrices without them (quantize drops a file's hot
// rows and copies matrices already of the type).
function storyText() {
  const out = join(dir, 'calib_seed5.txt');
  if (!existsSync(out)) {
    mkdirSync(dir, { recursive: true });
    const text = execFileSync('python3', [join(repo, 'tools/corpus/storygen.py'), '--seed', '5', '--count', '2']);
    writeFileSync(out, text);
  }
  return out;
}
export const hotRowsGguf = (type = 'q4_0') =>
  make(`default_${type}_hot64.gguf`, ['quantize', join(repo, 'models/default.gguf'), '--type', type, '--calib', storyText(), '--hot-rows', '64']);
export const hotRowsStrippedGguf = (type = 'q4_0') => make(`default_${type}_hot64_stripped.gguf`, ['quantize', hotRowsGguf(type), '--type', type]);

/** Every item of an async iterable (a generation's tokens). */
export async function collect(iter) {
  const out = [];
  for await (const t of iter) out.push(t);
  return out;
}

/** Asserts that `promise` rejects with a WebAccelError of `code` (and a message matching `pattern`). */
export async function rejectsWith(promise, code, pattern) {
  const { WebAccelError } = await import('../dist/index.js');
  await assert.rejects(promise, (e) => {
    assert.ok(e instanceof WebAccelError, `expected WebAccelError, got ${e?.stack ?? e}`);
    assert.equal(e.code, code, e.message);
    if (pattern) assert.match(e.message, pattern);
    return true;
  });
}
