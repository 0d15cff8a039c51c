// Headless Chromium for the browser tests: Debian's /usr/bin/chromium (or
// $CHROMIUM) driven by playwright-core from js/node_modules; nothing is
// downloaded. One place for the flags every test needs.
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const repo = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const { chromium } = createRequire(join(repo, 'js/package.json'))('playwright-core');

/**
 * Starts Chromium on a fresh profile folder with no background traffic (the
 * tests must not depend on the network).
 *
 * webgpu: false turns the GPU off; 'swiftshader' gives pages WebGPU on
 * Chromium's own SwiftShader adapter (TOOLCHAIN.md). dawnFeatures are Dawn
 * toggles to enable (js/test/gpu-env.mjs's NO_WORKGROUP_INIT_TOGGLE says why a
 * test may want one).
 *
 * @returns {Promise<{ context: object, logs: string[], newPage: (url: string) => Promise<object>, close: () => Promise<void> }>}
 */
export async function launchChromium({ webgpu = false, dawnFeatures = [] } = {}) {
  const profile = mkdtempSync(join(tmpdir(), 'wa-chromium-'));
  const gpuArgs = webgpu === 'swiftshader'
    ? ['--enable-unsafe-webgpu', '--enable-unsafe-swiftshader', '--use-webgpu-adapter=swiftshader']
    : ['--disable-gpu'];
  if (dawnFeatures.length) gpuArgs.push(`--enable-dawn-features=${dawnFeatures.join(',')}`);
  let context;
  try {
    // A persistent context on a fresh folder: playwright's way to pass --user-data-dir.
    context = await chromium.launchPersistentContext(profile, {
      executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
      headless: true,
      args: [
        '--headless=new', '--no-sandbox', ...gpuArgs, '--no-first-run', '--disable-background-networking',
        '--disable-component-update', '--disable-sync', '--disable-quic',
      ],
    });
  } catch (e) {
    rmSync(profile, { recursive: true, force: true });
    throw e;
  }
  const logs = [];
  return {
    context,
    logs,
    /** A new page at `url` whose console output and errors land in `logs`. */
    async newPage(url) {
      const page = await context.newPage();
      page.on('console', (m) => logs.push(`console.${m.type()}: ${m.text()}`));
      page.on('pageerror', (e) => logs.push(`pageerror: ${e.message}`));
      await page.goto(url);
      return page;
    },
    async close() {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}
