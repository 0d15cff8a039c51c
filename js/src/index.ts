// webaccel: transformer LLMs in browsers and Node on the webaccel C++ runtime
// compiled to WebAssembly.
//
//   import { createEngine } from 'webaccel';
//   const engine = await createEngine({ backend: 'auto' });
//   const model = await engine.load('model.gguf', { onProgress: (p) => console.log(p.loaded, p.total) });
//   for await (const t of model.generate('Once upon a time', { maxTokens: 64 })) process.stdout.write(t.text);
import { detectCapabilities } from './capabilities.js';
import { LocalEngine } from './engine.js';
import { asWebAccelError } from './errors.js';
import type { Engine, EngineOptions } from './types.js';

export { WebAccelError } from './errors.js';
export type { WebAccelErrorCode } from './errors.js';
export type { Capabilities, WebGpuReport } from './capabilities.js';
export * from './types.js';

export async function createEngine(options: EngineOptions = {}): Promise<Engine> {
  try {
    const caps = await detectCapabilities(options);
    if (caps.profile.inWorker) {
      const { WorkerEngine } = await import('./worker-client.js');
      return await WorkerEngine.create(options, caps);
    }
    return await LocalEngine.create(options, caps);
  } catch (e) {
    throw asWebAccelError(e);
  }
}
