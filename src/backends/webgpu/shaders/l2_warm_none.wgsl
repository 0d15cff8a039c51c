// (l2_warm.wgsl left out: no warming rows in this pipeline's grid)
fn warm_next_weights(li: u32, w: u32) {}
