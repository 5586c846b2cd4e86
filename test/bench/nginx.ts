// nginx as a reverse proxy in front of the benchmark's upstream: the yardstick for what
// forwarding one request costs in CPU, run in the same benchmark as the sidecar.

import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findOnPath } from '../../src/runtime/which.js';
import { childrenOf } from './cpu.js';

export interface Nginx {
  pids(): Promise<number[]>;
  stop(): Promise<void>;
}

/** nginx with one worker, no access log, keep-alive to the upstream; undefined when not installed. */
export async function startNginx(port: number, upstream: number): Promise<Nginx | undefined> {
  const binary = findOnPath('nginx') ?? (existsSync('/usr/sbin/nginx') ? '/usr/sbin/nginx' : undefined);
  if (!binary) return undefined;
  const dir = await mkdtemp(join(tmpdir(), 'mesh-sim-bench-nginx-'));
  const temp = (name: string) => `${name}_temp_path ${join(dir, name)};`;
  await writeFile(join(dir, 'nginx.conf'), `
worker_processes 1;
daemon off;
pid ${join(dir, 'nginx.pid')};
error_log ${join(dir, 'error.log')};
events { worker_connections 4096; }
http {
  access_log off;
  ${temp('client_body')} ${temp('proxy')} ${temp('fastcgi')} ${temp('uwsgi')} ${temp('scgi')}
  upstream up { server 127.0.0.1:${upstream}; keepalive 64; }
  server {
    listen 127.0.0.1:${port};
    location / {
      proxy_pass http://up;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $host;
    }
  }
}
`);
  let child: ChildProcess;
  try {
    child = spawn(binary, ['-c', join(dir, 'nginx.conf'), '-p', dir, '-e', join(dir, 'error.log')], { stdio: 'ignore' });
  } catch {
    return undefined;
  }
  const started = await new Promise<boolean>((resolve) => {
    child.once('error', () => resolve(false));
    child.once('exit', () => resolve(false));
    setTimeout(() => resolve(true), 500);
  });
  if (!started) return undefined;
  return {
    pids: async () => [child.pid!, ...(await childrenOf(child.pid!))],
    stop: async () => {
      child.kill('SIGQUIT');
      await new Promise((r) => { child.once('exit', r); setTimeout(r, 3000); });
      child.kill('SIGKILL');
    },
  };
}
