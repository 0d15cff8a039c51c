// Self time per function of a V8 .cpuprofile (bench/webgpu/webaccel-node.mjs
// --cpu-profile), top N, with wasm functions named from the build's symbol
// map (emcc --emit-symbol-map: build/wasm-st/dist/webaccel-st.js.symbols,
// "index:name" per line) when it is given and matches the profiled build.
//
//   node bench/webgpu/cpuprofile_summary.mjs PROFILE.cpuprofile [--symbols FILE] [--top 40]
import { readFileSync } from 'node:fs';

const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : dflt;
};
const profile = JSON.parse(readFileSync(args[0], 'utf8'));
const names = new Map();
const symbols = opt('--symbols');
if (symbols) {
  for (const line of readFileSync(symbols, 'utf8').split('\n')) {
    const at = line.indexOf(':');
    if (at > 0) names.set(Number(line.slice(0, at)), line.slice(at + 1));
  }
}
const label = (frame) => {
  const wasm = /^(?:\$?wasm-function\[(\d+)\])$/.exec(frame.functionName);
  if (wasm) return `wasm ${names.get(Number(wasm[1])) ?? frame.functionName}`;
  const file = frame.url.split('/').pop();
  return `${frame.functionName || '(anonymous)'}${file ? ` ${file}:${frame.lineNumber + 1}` : ''}`;
};
const nodes = new Map(profile.nodes.map((n) => [n.id, n]));
const self = new Map();
let total = 0;
profile.samples.forEach((id, i) => {
  const dt = profile.timeDeltas[i] ?? 0;
  total += dt;
  const k = label(nodes.get(id).callFrame);
  self.set(k, (self.get(k) ?? 0) + dt);
});
const top = [...self].sort((a, b) => b[1] - a[1]).slice(0, Number(opt('--top', '40')));
console.log(`total ${(total / 1000).toFixed(1)} ms sampled`);
for (const [k, us] of top) console.log(`${(us / 1000).toFixed(1).padStart(9)} ms ${((100 * us) / total).toFixed(1).padStart(5)}%  ${k}`);
