// Prometheus beside a mesh of local processes: the prometheus binary installed here
// (Debian's package, say), on 127.0.0.1, scraping every sidecar's /stats/prometheus
// through a file of targets it rereads when instances move (a restart gets new ports).

import { spawn, type ChildProcess } from 'node:child_process';
import { rm, writeFile, rename } from 'node:fs/promises';
import { join } from 'node:path';
import { runScratchDirectory } from '../run-record.js';
import { freePorts } from './ports.js';
import type { Address } from '../runtime.js';

export class LocalPrometheus {
  private child: ChildProcess | undefined;
  /** Where its data lives: deleted on stop, or by the next run if mesh-sim was killed. */
  dir: string | undefined;
  url: string | undefined;

  constructor(private readonly binary: string, private readonly runId: string) {}

  async start(targets: Address[], scrapeIntervalSeconds: number): Promise<string> {
    this.dir = await runScratchDirectory(this.runId, 'prometheus');
    const [port] = await freePorts(1);
    await this.setTargets(targets);
    await writeFile(join(this.dir, 'prometheus.yml'), [
      'global:',
      `  scrape_interval: ${scrapeIntervalSeconds}s`,
      `  evaluation_interval: ${scrapeIntervalSeconds}s`,
      'scrape_configs:',
      // Istio's job name for the sidecars' own metrics.
      '  - job_name: envoy-stats',
      '    metrics_path: /stats/prometheus',
      '    file_sd_configs:',
      `      - files: ['${join(this.dir, 'targets.json')}']`,
      `        refresh_interval: ${Math.max(1, scrapeIntervalSeconds)}s`,
      '',
    ].join('\n'));
    this.child = spawn(this.binary, [
      `--config.file=${join(this.dir, 'prometheus.yml')}`,
      `--storage.tsdb.path=${join(this.dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--log.level=warn',
    ], {
      stdio: ['ignore', 'ignore', 'pipe'],
      detached: true,
      // Marks it as ours for `mesh-sim down`, which will not kill a stranger that reused its pid.
      env: { ...process.env, MESH_SIM_INSTANCE: 'prometheus' },
    });
    let stderr = '';
    this.child.stderr?.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-2000)));
    this.url = `http://127.0.0.1:${port}`;
    const deadline = Date.now() + 15_000;
    while (Date.now() < deadline) {
      if (this.child.exitCode !== null) throw new Error(`prometheus exited: ${stderr.trim().split('\n').pop()}`);
      try {
        const res = await fetch(`${this.url}/-/ready`);
        if (res.ok) return this.url;
      } catch {
        // Not listening yet.
      }
      await new Promise((r) => setTimeout(r, 200));
    }
    throw new Error('prometheus did not become ready within 15 s');
  }

  /** Its own process group: it holds no IPC channel, so it cannot tell when mesh-sim dies. */
  get pid(): number | undefined {
    return this.child?.exitCode === null ? this.child.pid : undefined;
  }

  /** Rewrites the target list atomically; Prometheus picks it up at its next refresh. */
  async setTargets(targets: Address[]): Promise<void> {
    if (!this.dir) return;
    const file = join(this.dir, 'targets.json');
    await writeFile(`${file}.tmp`, JSON.stringify([{ targets: targets.map((t) => `${t.host}:${t.port}`), labels: {} }]));
    await rename(`${file}.tmp`, file);
  }

  async stop(): Promise<void> {
    const child = this.child;
    if (child && child.exitCode === null && child.pid !== undefined) {
      const exited = new Promise((r) => child.once('exit', r));
      try {
        process.kill(-child.pid, 'SIGTERM');
      } catch {
        // Gone.
      }
      await Promise.race([exited, new Promise((r) => setTimeout(r, 3000))]);
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        // Gone.
      }
    }
    if (this.dir) await rm(this.dir, { recursive: true, force: true });
  }
}
