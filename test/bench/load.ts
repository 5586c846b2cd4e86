// The benchmark's load generator, in its own process so it does not share an event
// loop with what it measures. Closed loop (as fast as `connections` allow) for
// throughput; open loop at a fixed rate for latency. Always bounded in time and count.
// Prints one JSON line with its results.

import { Pool } from 'undici';
import type { LoadArgs } from './load-args.js';

const args = JSON.parse(process.argv[2]!) as LoadArgs;
const pool = new Pool(args.url, { connections: args.connections, pipelining: 1 });
const path = args.absolute ? `http://${args.host}/bench` : '/bench';
const headers = { host: args.host };
const MAX_REQUESTS = 2_000_000;

async function one(): Promise<number> {
  const started = performance.now();
  const { statusCode, body } = await pool.request({ path, method: 'GET', headers });
  await body.dump();
  if (statusCode !== 200) throw new Error(`status ${statusCode}`);
  return performance.now() - started;
}

const deadline = performance.now() + args.seconds * 1000;
let done = 0;
let failed = 0;
const latencies: number[] = [];

if (args.mode === 'closed') {
  const worker = async () => {
    while (performance.now() < deadline && done < MAX_REQUESTS) {
      try {
        await one();
        done++;
      } catch {
        failed++;
      }
    }
  };
  const began = performance.now();
  await Promise.all(Array.from({ length: args.connections }, worker));
  const seconds = (performance.now() - began) / 1000;
  process.stdout.write(JSON.stringify({ rps: done / seconds, done, failed }) + '\n');
} else {
  const gap = 1000 / args.rate;
  const total = Math.min(Math.floor(args.rate * args.seconds), MAX_REQUESTS);
  const began = performance.now();
  const pending: Promise<void>[] = [];
  for (let i = 0; i < total; i++) {
    const at = began + i * gap;
    const wait = at - performance.now();
    if (wait > 1) await new Promise((r) => setTimeout(r, wait));
    pending.push(one().then((ms) => void latencies.push(ms), () => void failed++));
  }
  await Promise.all(pending);
  latencies.sort((a, b) => a - b);
  const q = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))] ?? NaN;
  process.stdout.write(JSON.stringify({ done: latencies.length, failed, p50: q(0.5), p99: q(0.99) }) + '\n');
}
await pool.close();
