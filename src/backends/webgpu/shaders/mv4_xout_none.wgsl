// matvec4.wgsl's x_out where the output is not also written as int8 blocks
// (mv4_xout.wgsl): nothing.
fn x_out(li: u32, wgx: u32, i: u32, valid: bool, out: f32) {}
