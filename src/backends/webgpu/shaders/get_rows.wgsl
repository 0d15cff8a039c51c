// y[:, t] = table[:, ids[t]], dequantized to f32 (w_<type>.wgsl prepended).
// A table split into parts runs once per part (rows row0 .. row0 + n_rows);
// each writes the tokens whose rows it holds. Ids are validated on the host
// before they reach a graph. Grid: (ceil(K / 256), T).
// row_value comes from get_rows_hot.wgsl (a table with hot rows: ids found
// in the hot table read their row there) or get_rows_hot_none.wgsl; the
// uniform's binding (GET_ROWS_UNIFORM) follows the storage bindings.
@group(0) @binding(0) var<storage, read> w: array<u32>;
@group(0) @binding(1) var<storage, read_write> act: array<f32>;
@group(0) @binding(2) var<storage, read> inputs: array<u32>;
@group(0) @binding(GET_ROWS_UNIFORM) var<uniform> params: Params;

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let k = gid.x;
  let t = gid.y;
  if (k >= params.K) {
    return;
  }
  let id = inputs[params.ids_off + t];
  if (id < params.row0 || id >= params.row0 + params.n_rows) {
    return;
  }
  act[params.y_off + t * params.y_stride + k] = row_value(id, k);
}
