// How busy mesh-sim's own processes and this machine are, sampled without a timer of
// its own: each call says how the time since the previous call was spent.
//
// An event loop's utilization (Node's performance.eventLoopUtilization) is the share
// of wall time spent running callbacks rather than waiting for events: at 0.9 and up,
// work queues behind work, and the latencies a sidecar records include that wait. The
// machine's CPU busy share (from os.cpus()) catches what a loop cannot see: processes
// waiting for a CPU at all, mesh-sim's or anyone else's.

import os from 'node:os';
import { performance, type EventLoopUtilization } from 'node:perf_hooks';

/** The share of time since the last call this process's event loop ran callbacks, 0 to 1. */
export function loopSampler(): () => number {
  let last: EventLoopUtilization = performance.eventLoopUtilization();
  return () => {
    const now = performance.eventLoopUtilization();
    const since = performance.eventLoopUtilization(now, last);
    last = now;
    return since.utilization;
  };
}

type CpuTimes = os.CpuInfo['times'];

/** Busy and total CPU time summed over every CPU. */
function totals(cpus: readonly { times: CpuTimes }[]): { busy: number; total: number } {
  let busy = 0;
  let total = 0;
  for (const { times } of cpus) {
    const all = times.user + times.nice + times.sys + times.irq + times.idle;
    total += all;
    busy += all - times.idle;
  }
  return { busy, total };
}

/**
 * The share of all CPUs' time spent busy since the last call (the first: since the
 * sampler was made), 0 to 1; undefined when no CPU time passed or the platform reports
 * none. `read` is os.cpus unless a test gives its own.
 */
export function machineSampler(read: () => readonly { times: CpuTimes }[] = os.cpus): () => number | undefined {
  let last = totals(read());
  return () => {
    const now = totals(read());
    const total = now.total - last.total;
    const busy = now.busy - last.busy;
    last = now;
    return total > 0 ? Math.min(1, Math.max(0, busy / total)) : undefined;
  };
}
