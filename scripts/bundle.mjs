// Bundles what `tsc` built into dist/bundle: the `mesh-sim` command and the programs it
// starts on this machine (a node, hosting pods; the reaper), each one file and shared
// chunks, so that starting them reads a few files instead of some 700 modules. Loading
// those modules was most of a start: 0.45 s before `mesh-sim run` said its first line,
// and 0.2-0.4 s before each node could start its pods.
//
// Left out of the bundle, and loaded from node_modules when used: the terminal UI (ink,
// React: one copy of React for ink and the panes), Docker's client, and OpenTelemetry's
// serializer. Everything else is bundled. Programs that run inside containers or on a
// cluster (dist/src/.../main.js) are not bundled: the image copies dist/src.
//
// Run by `npm run build` (and `prepare`, `test`, `bench`), after tsc.

import { build } from 'esbuild';
import { rm } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../', import.meta.url));
const outdir = `${root}dist/bundle`;

// Chunks are named by content: what an earlier build left would pile up.
await rm(outdir, { recursive: true, force: true });
await build({
  entryPoints: {
    'mesh-sim': `${root}dist/src/cli/main.js`,
    // Started by path, beside the code that starts them (node-process.ts, reaper.ts).
    'node-main': `${root}dist/src/runtime/process/node-main.js`,
    'reaper-main': `${root}dist/src/runtime/reaper-main.js`,
  },
  outdir,
  chunkNames: 'chunk-[hash]',
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  external: ['ink', 'react', 'dockerode', '@opentelemetry/otlp-transformer'],
  // Bundled CommonJS packages call require() (for Node's own modules): give each file one.
  banner: { js: "import { createRequire as __meshSimCreateRequire } from 'node:module'; const require = __meshSimCreateRequire(import.meta.url);" },
  logLevel: 'warning',
});
