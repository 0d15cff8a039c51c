#!/usr/bin/env node
// Post-link step of the relaxed-SIMD wasm variant (cmake/wasm.cmake).
//
// clang 14 (Debian's emscripten 3.1.6) has no builtin for the relaxed-SIMD
// integer dot products, and the relaxed builtins it has encode with the
// proposal's pre-standard opcodes. The relaxed kernels
// (src/backends/cpu/kernels_wasm_relaxed.cpp) therefore call two of those
// builtins as placeholders of the same shape, and this script rewrites them
// in the linked module to the standard opcodes:
//
//   placeholder (LLVM 14 prototype)         standard relaxed SIMD
//   i8x16.relaxed_swizzle  0xfd 0xa2 (2->1) i16x8.relaxed_dot_i8x16_i7x16_s     0xfd 0x112
//   i32x4.laneselect       0xfd 0xd2 (3->1) i32x4.relaxed_dot_i8x16_i7x16_add_s 0xfd 0x113
//
// The code section is decoded instruction by instruction (every immediate
// of MVP, sign-extension, saturating truncation, bulk memory, reference
// types, tail calls, exceptions, threads and SIMD128), never searched for
// byte patterns; each function must end exactly at its declared size. The
// opcode's LEB keeps its length (non-minimal padding where needed), so no
// size or offset changes. The build fails (exit 1) when:
//   - a function does not decode, or uses an opcode outside the standard
//     SIMD128 set other than the placeholders (so no other pre-standard
//     relaxed op reaches a browser);
//   - --require KIND=N: the count of a placeholder is not N (counted in the
//     relaxed kernel object by `count`, see below), or with --functions
//     REGEX --symbols FILE: a function holding a placeholder is not named
//     by REGEX (the placeholders must come from the relaxed kernels only).
//
// Usage:
//   wasm_relaxed_patch.mjs patch IN.wasm OUT.wasm [--symbols F.symbols] [--functions REGEX] [--min-count N]
//   wasm_relaxed_patch.mjs check IN.wasm          (no placeholder, no relaxed op: the baseline module)
//   wasm_relaxed_patch.mjs count IN.wasm|IN.o     (prints the counts)
import fs from 'node:fs';

const PLACEHOLDERS = new Map([
  [0xa2, { name: 'i16x8.relaxed_dot_i8x16_i7x16_s', to: 0x112 }],
  [0xd2, { name: 'i32x4.relaxed_dot_i8x16_i7x16_add_s', to: 0x113 }],
]);
const RELAXED_FINAL = new Set([0x112, 0x113]);
// SIMD128 opcodes 0x60..0xff that the standard leaves unassigned (the relaxed
// proposal's prototypes used some of them).
const SIMD_UNASSIGNED = new Set([0x9a, 0xa2, 0xa5, 0xa6, 0xaf, 0xb0, 0xb2, 0xb3, 0xb4, 0xbb, 0xc2, 0xc5, 0xc6,
  0xcf, 0xd0, 0xd2, 0xd3, 0xd4, 0xe2, 0xee]);

class Reader {
  constructor(buf, pos = 0, end = buf.length) { this.b = buf; this.p = pos; this.end = end; }
  byte() {
    if (this.p >= this.end) throw new Error(`unexpected end at ${this.p}`);
    return this.b[this.p++];
  }
  // Unsigned LEB128 (up to 32 bits); returns [value, length].
  u32() {
    let v = 0, shift = 0, n = 0, b;
    do {
      b = this.byte(); n++;
      if (n > 5) throw new Error(`LEB too long at ${this.p}`);
      v += (b & 0x7f) * 2 ** shift; shift += 7;
    } while (b & 0x80);
    return v;
  }
  u32len() { const s = this.p; const v = this.u32(); return [v, this.p - s]; }
  sleb(maxBytes) {
    let n = 0, b;
    do { b = this.byte(); n++; if (n > maxBytes) throw new Error(`signed LEB too long at ${this.p}`); } while (b & 0x80);
  }
  skip(n) { if (this.p + n > this.end) throw new Error(`unexpected end at ${this.p}`); this.p += n; }
}

function memarg(r) {
  const align = r.u32();
  if (align & 0x40) r.u32();  // multi-memory: memory index
  r.u32();  // offset
}

function blocktype(r) {
  const b = r.b[r.p];
  if (b === 0x40 || (b >= 0x7b && b <= 0x7f) || b === 0x70 || b === 0x6f) { r.p++; return; }
  r.sleb(5);  // type index as s33
}

// Decodes one function body [pos, end); calls onSimd(op, opPos, opLen) for
// every 0xfd instruction (opPos: where the sub-opcode LEB starts).
function decodeBody(buf, pos, end, onSimd) {
  const r = new Reader(buf, pos, end);
  const nlocals = r.u32();
  for (let i = 0; i < nlocals; i++) { r.u32(); r.byte(); }
  let depth = 1;
  while (depth > 0) {
    const op = r.byte();
    switch (op) {
      case 0x02: case 0x03: case 0x04: case 0x06: blocktype(r); depth++; break;
      case 0x0b: depth--; break;
      case 0x05: case 0x19: break;  // else, catch_all
      case 0x07: case 0x08: case 0x09: case 0x0c: case 0x0d: r.u32(); break;  // catch, throw, rethrow, br, br_if
      case 0x18: r.u32(); depth--; break;  // delegate ends a try
      case 0x0e: { const n = r.u32(); for (let i = 0; i <= n; i++) r.u32(); break; }  // br_table
      case 0x10: case 0x12: r.u32(); break;  // call, return_call
      case 0x11: case 0x13: r.u32(); r.u32(); break;  // call_indirect: type, table
      case 0x1c: { const n = r.u32(); for (let i = 0; i < n; i++) r.byte(); break; }  // select t*
      case 0x20: case 0x21: case 0x22: case 0x23: case 0x24: case 0x25: case 0x26: r.u32(); break;
      case 0x3f: case 0x40: r.u32(); break;  // memory.size/grow: memory index
      case 0x41: r.sleb(5); break;
      case 0x42: r.sleb(10); break;
      case 0x43: r.skip(4); break;
      case 0x44: r.skip(8); break;
      case 0xd0: r.byte(); break;  // ref.null t
      case 0xd2: r.u32(); break;  // ref.func
      case 0xfc: {
        const sub = r.u32();
        if (sub <= 7) break;  // trunc_sat
        if (sub === 8 || sub === 10 || sub === 12 || sub === 14) { r.u32(); r.u32(); break; }
        if (sub === 9 || sub === 11 || sub === 13 || (sub >= 15 && sub <= 17)) { r.u32(); break; }
        throw new Error(`unknown 0xfc ${sub} at ${r.p}`);
      }
      case 0xfd: {
        const at = r.p;
        const [sub, len] = r.u32len();
        if (sub <= 0x0b || sub === 0x5c || sub === 0x5d) memarg(r);
        else if (sub === 0x0c || sub === 0x0d) r.skip(16);
        else if (sub >= 0x15 && sub <= 0x22) r.byte();
        else if (sub >= 0x54 && sub <= 0x5b) { memarg(r); r.byte(); }
        else if (sub > 0xff && !RELAXED_FINAL.has(sub)) throw new Error(`SIMD opcode 0x${sub.toString(16)} at ${at}: not standard SIMD128`);
        else if (SIMD_UNASSIGNED.has(sub) && !PLACEHOLDERS.has(sub)) {
          throw new Error(`SIMD opcode 0x${sub.toString(16)} at ${at}: a pre-standard (relaxed-SIMD prototype) opcode`);
        }
        onSimd(sub, at, len);
        break;
      }
      case 0xfe: {
        const sub = r.u32();
        if (sub === 0x03) r.byte(); else memarg(r);
        break;
      }
      default:
        if ((op >= 0x00 && op <= 0x01) || op === 0x0f || op === 0x1a || op === 0x1b || (op >= 0x45 && op <= 0xc4) ||
            op === 0xd1) break;
        if (op >= 0x28 && op <= 0x3e) { memarg(r); break; }
        throw new Error(`unknown opcode 0x${op.toString(16)} at ${r.p - 1}`);
    }
  }
  if (r.p !== end) throw new Error(`function body ends at ${r.p}, declared end ${end}`);
}

// Sections of a module or object file; returns {funcImports, bodies: [{index, pos, end}]}.
function parseModule(buf) {
  if (buf.readUInt32LE(0) !== 0x6d736100 || buf.readUInt32LE(4) !== 1) throw new Error('not a wasm binary');
  const r = new Reader(buf, 8);
  let funcImports = 0;
  const bodies = [];
  while (r.p < buf.length) {
    const id = r.byte();
    const size = r.u32();
    const start = r.p, end = start + size;
    if (id === 2) {  // imports: count function imports (function indices start after them)
      const s = new Reader(buf, start, end);
      const n = s.u32();
      for (let i = 0; i < n; i++) {
        s.skip(s.u32()); s.skip(s.u32());
        const kind = s.byte();
        if (kind === 0) { s.u32(); funcImports++; }
        else if (kind === 1) { s.byte(); const f = s.u32(); s.u32(); if (f & 1) s.u32(); }
        else if (kind === 2) { const f = s.u32(); s.u32(); if (f & 1) s.u32(); }
        else if (kind === 3) { s.byte(); s.byte(); }
        else if (kind === 4) { s.byte(); s.u32(); }
        else throw new Error(`import kind ${kind}`);
      }
    } else if (id === 10) {
      const s = new Reader(buf, start, end);
      const n = s.u32();
      for (let i = 0; i < n; i++) {
        const bsize = s.u32();
        bodies.push({ index: funcImports + i, pos: s.p, end: s.p + bsize });
        s.skip(bsize);
      }
      if (s.p !== end) throw new Error('code section size mismatch');
    }
    r.p = end;
  }
  return { funcImports, bodies };
}

function writeLeb(buf, at, value, len) {
  for (let i = 0; i < len; i++) {
    const b = value & 0x7f;
    value = Math.floor(value / 128);
    buf[at + i] = i < len - 1 ? b | 0x80 : b;
  }
  if (value !== 0) throw new Error(`opcode does not fit ${len} LEB bytes`);
}

function readSymbols(path) {
  const names = new Map();
  for (const line of fs.readFileSync(path, 'utf8').split('\n')) {
    const i = line.indexOf(':');
    // The map escapes characters outside [A-Za-z0-9_] as \XX (hex).
    if (i > 0) names.set(Number(line.slice(0, i)), line.slice(i + 1).replace(/\\([0-9a-fA-F]{2})/g, (_, h) => String.fromCharCode(parseInt(h, 16))));
  }
  return names;
}

function scan(buf, rewrite) {
  const { bodies } = parseModule(buf);
  const counts = new Map([...PLACEHOLDERS.keys()].map((k) => [k, 0]));
  const finals = new Map([...RELAXED_FINAL].map((k) => [k, 0]));
  const holders = new Set();
  for (const body of bodies) {
    try {
      decodeBody(buf, body.pos, body.end, (sub, at, len) => {
        if (PLACEHOLDERS.has(sub)) {
          counts.set(sub, counts.get(sub) + 1);
          holders.add(body.index);
          if (rewrite) writeLeb(buf, at, PLACEHOLDERS.get(sub).to, len);
        } else if (RELAXED_FINAL.has(sub)) {
          finals.set(sub, finals.get(sub) + 1);
        }
      });
    } catch (e) {
      throw new Error(`function ${body.index}: ${e.message}`);
    }
  }
  return { counts, finals, holders, functions: bodies.length };
}

function main(argv) {
  const [cmd, input, output, ...rest] = argv;
  const opt = (name) => { const i = argv.indexOf(name); return i >= 0 ? argv[i + 1] : undefined; };
  if (!cmd || !input) {
    console.error('usage: wasm_relaxed_patch.mjs patch IN OUT [--symbols F] [--functions REGEX] [--min-count N] | check IN | count IN');
    return 2;
  }
  const buf = fs.readFileSync(input);
  const describe = (m, key) => [...m].map(([op, n]) => `${key(op)}: ${n}`).join(', ');
  if (cmd === 'count' || cmd === 'check') {
    const { counts, finals, functions } = scan(buf, false);
    console.log(`${input}: ${functions} functions; placeholders ${describe(counts, (op) => PLACEHOLDERS.get(op).name)}; ` +
                `standard relaxed ${describe(finals, (op) => '0x' + op.toString(16))}`);
    if (cmd === 'check') {
      const n = [...counts.values(), ...finals.values()].reduce((a, b) => a + b, 0);
      if (n) { console.error(`${input}: the baseline module holds ${n} relaxed-SIMD instructions`); return 1; }
    }
    return 0;
  }
  if (cmd !== 'patch' || !output) { console.error(`unknown command ${cmd}`); return 2; }
  void rest;
  const { counts, finals, holders, functions } = scan(buf, true);
  const total = [...counts.values()].reduce((a, b) => a + b, 0);
  const min = Number(opt('--min-count') ?? 1);
  if ([...finals.values()].some((n) => n)) throw new Error(`${input} already holds standard relaxed-SIMD opcodes`);
  if (total < min) throw new Error(`${input}: ${total} placeholders, expected at least ${min}`);
  const symbols = opt('--symbols'), pattern = opt('--functions');
  if (symbols && pattern) {
    const names = readSymbols(symbols);
    const re = new RegExp(pattern);
    for (const f of holders) {
      const name = names.get(f) ?? `(function ${f}, no name)`;
      if (!re.test(name)) throw new Error(`placeholder in ${name}, outside the relaxed kernels (${pattern})`);
    }
  }
  // The rewritten module must decode with only standard opcodes.
  const check = scan(buf, false);
  if ([...check.counts.values()].some((n) => n)) throw new Error('placeholders left after the rewrite');
  fs.writeFileSync(output, buf);
  console.log(`${output}: ${functions} functions; rewrote ${describe(counts, (op) => PLACEHOLDERS.get(op).name)} in ${holders.size} functions`);
  return 0;
}

try {
  process.exitCode = main(process.argv.slice(2));
} catch (e) {
  console.error(`wasm_relaxed_patch: ${e.message}`);
  process.exitCode = 1;
}
