// Dispatch-overhead probe (bench/webgpu/probe.mjs): a dispatch that does
// (almost) nothing but counts itself, so the probe can check that all N ran.
// Each dispatch writes the counter its predecessor wrote, so Dawn places the
// same barrier between them that a chain of dependent decode ops gets.

@group(0) @binding(0) var<storage, read_write> counter: array<atomic<u32>, 4>;

@compute @workgroup_size(64)
fn main(@builtin(local_invocation_index) i: u32) {
  if (i == 0u) {
    atomicAdd(&counter[0], 1u);
  }
}
