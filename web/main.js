// The demo page: the built package (js/dist) in the browser, nothing else.
// The engine runs in a Web Worker by default (createEngine's worker option),
// so generation never blocks the page.
import { createEngine } from '../js/dist/index.js';

const $ = (id) => document.getElementById(id);
let engine = null; // a promise: concurrent callers share one start
let engineKey = '';
let model = null;
let abort = null;

function status(s) {
  $('status').textContent = s;
}

// One engine per (threads, worker) choice; changing either starts a new one.
async function getEngine() {
  const threads = Number($('threads').value) || undefined;
  const worker = $('worker').checked;
  const key = `${threads}|${worker}`;
  if (engine && key === engineKey) return engine;
  const old = engine;
  engineKey = key;
  engine = (async () => {
    if (model) await model.unload().catch(() => {});
    model = null;
    if (old) await (await old.catch(() => null))?.dispose();
    const e = await createEngine({ backend: 'auto', threads, worker });
    $('caps').textContent = JSON.stringify(e.capabilities(), null, 2);
    return e;
  })();
  engine.catch(() => (engine = null));
  return engine;
}

async function load(source, name) {
  $('generate').disabled = true;
  try {
    const e = await getEngine();
    if (model) await model.unload();
    model = null;
    status(`loading ${name}`);
    const t0 = performance.now();
    model = await e.load(source, {
      onProgress: ({ loaded, total }) => {
        $('progress').max = total || loaded || 1;
        $('progress').value = loaded;
        status(`loading ${name}: ${(loaded / 1e6).toFixed(1)}${total ? ` of ${(total / 1e6).toFixed(1)}` : ''} MB`);
      },
    });
    const info = await model.info();
    $('model-info').textContent =
      `${name}: ${info.arch}, ${(info.n_params / 1e6).toFixed(2)}M parameters, ${info.weight_type}, ` +
      `vocabulary ${info.n_vocab}${info.has_tokenizer ? '' : ' (no tokenizer: prompts are ignored)'}, context ${info.n_ctx}`;
    status(`loaded in ${((performance.now() - t0) / 1000).toFixed(2)} s`);
    $('generate').disabled = false;
  } catch (err) {
    status(`load failed: ${err.code ?? ''} ${err.message}`);
  }
}

async function generate() {
  $('generate').disabled = true;
  $('stop').disabled = false;
  $('output').textContent = '';
  $('speed').textContent = '';
  delete $('speed').dataset.done; // set when this run ends (the browser test waits for it)
  abort = new AbortController();
  let n = 0;
  let first = 0;
  try {
    const opts = {
      maxTokens: Number($('max-tokens').value) || 128,
      temperature: Number($('temperature').value),
      seed: Number($('seed').value),
      signal: abort.signal,
    };
    const t0 = performance.now();
    for await (const t of model.generate($('prompt').value, opts)) {
      // Time from the first token: the prompt's evaluation is not decode speed.
      if (n++ === 0) first = performance.now();
      $('output').textContent += t.text;
      if (n > 1) $('speed').textContent = `${n} tokens, ${((n - 1) / ((performance.now() - first) / 1000)).toFixed(1)} tokens/s`;
    }
    const s = await model.lastStats();
    if (s) {
      $('speed').textContent =
        `${s.generatedTokens} tokens, ${(s.generatedTokens / (s.generateMs / 1000)).toFixed(1)} tokens/s ` +
        `(prompt: ${s.promptTokens} tokens in ${s.promptMs.toFixed(0)} ms; wall ${((performance.now() - t0) / 1000).toFixed(2)} s)`;
    }
    status('done');
  } catch (err) {
    status(err.code === 'cancelled' ? 'stopped' : `generation failed: ${err.code ?? ''} ${err.message}`);
  } finally {
    $('generate').disabled = false;
    $('stop').disabled = true;
    $('speed').dataset.done = String(n);
  }
}

$('load-url').onclick = () => load(new URL($('url').value, location.href).href, $('url').value);
$('file').onchange = () => {
  const f = $('file').files[0];
  if (f) load(f, f.name);
};
$('generate').onclick = generate;
$('stop').onclick = () => abort?.abort();

getEngine().then(
  () => status(`ready${crossOriginIsolated ? '' : ' (not cross-origin isolated: single-threaded)'}`),
  (err) => status(`engine failed: ${err.code ?? ''} ${err.message}`),
);
