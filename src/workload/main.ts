// The sample workload's process: reads its boot, serves, follows behaviour changes
// from the control plane, and exits when told to or when its parent is gone.

import { readWorkloadBoot } from './boot.js';
import { Workload } from './server.js';
import { TcpEcho } from './tcp-echo.js';
import { subscribe } from '../control/client.js';
import type { WorkloadSnapshot } from '../control/protocol.js';

const boot = readWorkloadBoot(process.env);
const workload = boot.protocol === 'tcp' ? new TcpEcho(boot) : new Workload(boot);
const port = await workload.listen();
process.stdout.write(`${boot.instance}: ${boot.service} ${boot.version} listening on ${boot.listen.host}:${port}\n`);

const subscription = boot.controlUrl
  ? subscribe<WorkloadSnapshot>(
      `${boot.controlUrl}/v1/workload/${boot.instance}`,
      (snapshot) => workload.update(snapshot),
      (message) => process.stderr.write(`${boot.instance}: ${message}\n`),
      boot.initial.version,
      boot.controlSecret,
    )
  : undefined;

const stop = () => {
  subscription?.stop();
  workload.close();
  process.exit(0);
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
// Started with an IPC channel by the process runtime: when mesh-sim dies, so do we.
process.on('disconnect', stop);
