#!/usr/bin/env node
// The WebGPU backend-ops cases (backend_ops.cpp, through harness.mjs) as a
// program, for a GPU where `make test` does not run them: the GPU machine
// (bench/webgpu/device_ops.sh), whose shader-f16 (with Dawn's
// vulkan_enable_f16_on_nvidia toggle) runs kernels SwiftShader cannot.
//   node tests/webgpu/run_ops.mjs [--dawn-flag F]... [--filter REGEX] [--out FILE.json]
// Prints one line per failed case and a summary; exits 1 when a case fails.
import { writeFileSync } from 'node:fs';

import { getTestGpu } from '../../js/test/gpu-env.mjs';
import { describeResult, runBackendOps } from './harness.mjs';

const args = process.argv.slice(2);
const opt = (name) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};
const dawnFlags = args.flatMap((a, i) => (a === '--dawn-flag' ? [args[i + 1]] : []));
const env = await getTestGpu({ dawnFlags });
if (!env.adapter) {
  console.error(env.reason);
  process.exit(2);
}
const keepAlive = setInterval(() => {}, 1000); // Dawn's promises do not hold Node's loop
const filter = opt('--filter') ? new RegExp(opt('--filter')) : undefined;
const run = await runBackendOps(env.gpu, { filter });
clearInterval(keepAlive);
const failed = run.results.filter((r) => !r.ok);
for (const r of failed) console.log(`FAIL ${r.name}: ${describeResult(r)}`);
const summary = { adapter: run.adapter, features: run.features, dawnFlags, cases: run.results.length, failed: failed.length, ms: run.ms };
console.log(JSON.stringify(summary));
if (opt('--out')) writeFileSync(opt('--out'), JSON.stringify({ ...summary, results: run.results }, null, 1));
process.exit(failed.length ? 1 : 0);
