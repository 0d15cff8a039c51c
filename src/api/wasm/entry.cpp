// Entry point of the wasm build: the module exports the C API
// (include/webaccel/webaccel.h); main() is never run (INVOKE_RUN=0), it only
// gives the linker an executable to build.
int main() { return 0; }
