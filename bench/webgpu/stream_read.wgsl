// Streaming-read bandwidth probe (bench/webgpu/probe.mjs).
//
// `stream` loads every vec4<u32> of `src` exactly once per dispatch and folds
// them into one u32 per thread. The result is stored only when it equals
// `p.magic`, which (almost) never happens: the store stays conditional on every
// load, so no compiler can drop a load, and the output traffic is nil.
// Four independent loads per loop trip keep enough bytes in flight; in each
// trip the threads of the grid read consecutive vec4s (coalesced).
//
// `fill` writes a non-zero pattern once, so nothing can profit from
// zero pages and Dawn's lazy zero-initialisation is done before timing.

struct Params {
  n: u32,      // elements (vec4<u32>) in src
  magic: u32,  // sink is written only when a thread's fold equals this
  seed: u32,   // fill pattern
  _pad: u32,
}

// `stream` binds the buffer read-only (as weights are bound); `fill` binds it
// writable under another binding number (each entry point has its own layout).
@group(0) @binding(0) var<storage, read> src: array<vec4<u32>>;
@group(0) @binding(1) var<storage, read_write> sink: array<u32, 64>;
@group(0) @binding(2) var<uniform> p: Params;
@group(0) @binding(3) var<storage, read_write> dst: array<vec4<u32>>;

override WG_SIZE: u32 = 256u;

@compute @workgroup_size(WG_SIZE)
fn stream(@builtin(global_invocation_id) gid: vec3<u32>,
        @builtin(num_workgroups) nwg: vec3<u32>) {
  let stride = nwg.x * WG_SIZE;
  var a0 = vec4<u32>(0u);
  var a1 = vec4<u32>(0u);
  var a2 = vec4<u32>(0u);
  var a3 = vec4<u32>(0u);
  var i = gid.x;
  loop {
    if (i + 3u * stride >= p.n) { break; }
    a0 ^= src[i];
    a1 ^= src[i + stride];
    a2 ^= src[i + 2u * stride];
    a3 ^= src[i + 3u * stride];
    i += 4u * stride;
  }
  for (; i < p.n; i += stride) {
    a0 ^= src[i];
  }
  let v = (a0 ^ a1) ^ (a2 ^ a3);
  let r = (v.x ^ v.y) ^ (v.z ^ v.w);
  if (r == p.magic) {
    sink[gid.x & 63u] = r;
  }
}

@compute @workgroup_size(WG_SIZE)
fn fill(@builtin(global_invocation_id) gid: vec3<u32>,
        @builtin(num_workgroups) nwg: vec3<u32>) {
  let stride = nwg.x * WG_SIZE;
  for (var i = gid.x; i < p.n; i += stride) {
    let h = (i ^ p.seed) * 2654435761u;
    dst[i] = vec4<u32>(h, h ^ 0x9e3779b9u, h + 0x7f4a7c15u, ~h);
  }
}
