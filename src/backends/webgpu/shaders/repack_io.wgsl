// The bindings of the repack kernels that rewrite a type's file blocks into
// its GPU block format (repack.wgsl, repack_q.wgsl, repack_vq.wgsl): the file's bytes as
// uploaded (raw), the device copy (w), and reads of the file's fields at any
// byte offset (blocks of 70, 98 or 210 bytes leave them unaligned).
@group(0) @binding(0) var<storage, read> raw: array<u32>;
@group(0) @binding(1) var<storage, read_write> w: array<u32>;
@group(0) @binding(2) var<uniform> params: Params;

fn byte_at(o: u32) -> u32 {
  return (raw[o >> 2u] >> (8u * (o & 3u))) & 0xffu;
}
fn half_at(o: u32) -> u32 {
  return byte_at(o) | (byte_at(o + 1u) << 8u);
}
fn word_at(o: u32) -> u32 {
  return half_at(o) | (half_at(o + 2u) << 16u);
}
