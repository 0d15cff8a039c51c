// Elementwise ops on [D, T] activations: y = a + b, a * b, a * f, silu(a),
// silu(a) * b. b has one column (broadcast) when params.b_stride is 0; it
// lives in the activations or, for the `_w` variant, in a weight buffer
// (biases): B_SOURCE names the binding. Grid: (ceil(D / 256), T).
@group(0) @binding(0) var<storage, read_write> act: array<f32>;
B_BINDING
@group(0) @binding(B_UNIFORM) var<uniform> params: Params;

const OP_ADD: u32 = 0u;
const OP_MUL: u32 = 1u;
const OP_SCALE: u32 = 2u;
const OP_SILU: u32 = 3u;
const OP_SWIGLU: u32 = 4u;

fn silu(x: f32) -> f32 {
  return x / (1.0 + exp(-x));
}

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = gid.x;
  let t = gid.y;
  if (i >= params.D) {
    return;
  }
  let a = act[params.a_off + t * params.a_stride + i];
  var y = 0.0;
  switch params.op {
    case OP_ADD: { y = a + B_SOURCE[params.b_off + t * params.b_stride + i]; }
    case OP_MUL: { y = a * B_SOURCE[params.b_off + t * params.b_stride + i]; }
    case OP_SCALE: { y = a * params.f; }
    case OP_SILU: { y = silu(a); }
    default: { y = silu(a) * B_SOURCE[params.b_off + t * params.b_stride + i]; }
  }
  act[params.y_off + t * params.y_stride + i] = y;
}
