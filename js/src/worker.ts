// The Web Worker side: runs a LocalEngine and answers the page's requests
// (see worker-client.ts for the protocol). Loaded as a module worker.
import type { Capabilities } from './capabilities.js';
import { LocalEngine, type LocalModel } from './engine.js';
import { asWebAccelError } from './errors.js';
import type { BackendChangeEvent, EngineOptions, GenerateOptions, ModelLoadOptions, ModelSource, Prompt } from './types.js';

interface Request {
  id: number;
  op: string;
  args: unknown[];
}

const scope = globalThis as unknown as {
  postMessage(msg: unknown, transfer?: Transferable[]): void;
  onmessage: ((e: MessageEvent<Request>) => void) | null;
};

let engine: LocalEngine | null = null;
const models = new Map<number, LocalModel>();
const controllers = new Map<number, AbortController>();
let nextModel = 1;

function reply(id: number, result: unknown, transfer: Transferable[] = []): void {
  scope.postMessage({ id, ok: true, result }, transfer);
}

function model(handle: unknown) {
  const m = models.get(handle as number);
  if (!m) throw new Error('unknown model handle');
  return m;
}

async function handle(req: Request): Promise<void> {
  const { id, op, args } = req;
  switch (op) {
    case 'init': {
      const [options, caps] = args as [EngineOptions, Capabilities];
      // Callbacks cannot cross to the page: engine-level backend changes go
      // as messages without a request id (worker-client.ts calls the app's).
      engine = await LocalEngine.create(
        { ...options, onBackendChange: (e) => scope.postMessage({ event: 'backendChange', data: e }) },
        caps,
      );
      return reply(id, engine.capabilities());
    }
    case 'load': {
      const [source, opts] = args as [ModelSource, Pick<ModelLoadOptions, 'nCtx' | 'streamWeights'>];
      const ac = new AbortController();
      controllers.set(id, ac);
      const m = (await engine!.load(source, {
        ...opts,
        signal: ac.signal,
        onProgress: (p) => scope.postMessage({ id, progress: p }),
      })) as LocalModel;
      const h = nextModel++;
      models.set(h, m);
      return reply(id, h);
    }
    case 'generate': {
      const [h, prompt, opts] = args as [number, Prompt, Omit<GenerateOptions, 'signal'>];
      const ac = new AbortController();
      controllers.set(id, ac);
      const onBackendChange = (e: BackendChangeEvent) => scope.postMessage({ id, backendChange: e });
      for await (const t of model(h).generate(prompt, { ...opts, signal: ac.signal, onBackendChange })) {
        scope.postMessage({ id, token: t });
      }
      return reply(id, null);
    }
    case 'tokenize':
      return reply(id, await model(args[0]).tokenize(args[1] as string, args[2] as object));
    case 'detokenize':
      return reply(id, await model(args[0]).detokenize(args[1] as number[]));
    case 'logits': {
      const l = await model(args[0]).logits(args[1] as number[]);
      return reply(id, l, [l.buffer]);
    }
    case 'info':
      return reply(id, await model(args[0]).info());
    case 'lastStats':
      return reply(id, await model(args[0]).lastStats());
    case 'unload':
      await model(args[0]).unload();
      models.delete(args[0] as number);
      return reply(id, null);
    case 'memory':
      return reply(id, await engine!.memory());
    case 'dispose':
      await engine?.dispose();
      models.clear();
      return reply(id, null);
    default:
      throw new Error(`unknown request ${op}`);
  }
}

scope.onmessage = (e: MessageEvent<Request>) => {
  const req = e.data;
  if (req.op === 'abort') {
    controllers.get(req.args[0] as number)?.abort();
    return;
  }
  handle(req)
    .catch((err) => scope.postMessage({ id: req.id, ok: false, error: asWebAccelError(err).toJSON() }))
    .finally(() => controllers.delete(req.id));
};
