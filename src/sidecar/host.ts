// What a sidecar needs from the process it runs in: the control plane's snapshots, and
// somewhere to send its spans. On its own (a process or container of its own) it polls
// and exports by itself; hosted on a node process with many pods, the node does both
// once for all of them (src/runtime/process/node-main.ts).

import { subscribe, type Subscription } from '../control/client.js';
import type { SidecarSnapshot } from '../control/protocol.js';
import type { Resource } from '../telemetry/otlp.js';
import type { SidecarBoot } from './boot.js';
import { OtlpHttpExporter, SpanBatcher, type SpanSink } from './telemetry.js';

export interface SidecarHost {
  /** Snapshots for this sidecar; a returned promise holds back the acknowledgement until it settles. */
  subscribe(instance: string, onSnapshot: (snapshot: SidecarSnapshot) => void | Promise<void>, onTrouble: (message: string) => void): Subscription;
  /** Where this sidecar's spans go. */
  spans(resource: Resource): SpanSink;
  /** Calls `fn` every quarter second (outlier detection's sweep); one timer per process, not per sidecar. Returns its cancel. */
  everyQuarterSecond(fn: () => void): () => void;
}

/** Quarter-second work of every sidecar in this process, on one timer that runs only while there is some. */
const quarterly = new Set<() => void>();
let quarterTimer: NodeJS.Timeout | undefined;

export function everyQuarterSecond(fn: () => void): () => void {
  quarterly.add(fn);
  if (!quarterTimer) {
    quarterTimer = setInterval(() => {
      for (const f of quarterly) f();
    }, 250);
    quarterTimer.unref();
  }
  return () => {
    quarterly.delete(fn);
    if (quarterly.size === 0) {
      clearInterval(quarterTimer);
      quarterTimer = undefined;
    }
  };
}

/** A sidecar in a process of its own: its own long poll, its own batches. */
export function standaloneHost(boot: SidecarBoot): SidecarHost {
  return {
    subscribe: (instance, onSnapshot, onTrouble) =>
      subscribe<SidecarSnapshot>(`${boot.controlUrl}/v1/sidecar/${instance}`, onSnapshot, onTrouble, 0, boot.controlSecret),
    spans: (resource) => new SpanBatcher(new OtlpHttpExporter(boot.controlUrl, boot.controlSecret)).sink(resource, true),
    everyQuarterSecond,
  };
}
