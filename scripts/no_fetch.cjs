// Preloaded (`node -r scripts/no_fetch.cjs prog.js`) before an emscripten 3.1.6
// program: its Node loader fetch()es the .wasm file's path whenever fetch
// exists, which fails for a path. Node 18-20 could turn fetch off with
// --no-experimental-fetch; later Nodes refuse that flag.
delete globalThis.fetch;
