// (sample_window.wgsl left out: no repetition penalty in this pipeline, so
// no window buffer is bound and the logits are sampled as they are)
fn apply_window(li: u32) {}
fn window_append(pick: u32) {}
fn restore_logits(li: u32) {}
