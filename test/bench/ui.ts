// The UI's benchmark: a session (not started) fed Bookinfo-shaped traces as OTLP/JSON
// batches, as sidecars send them, with their access-log lines, while the App renders
// into a dummy terminal at its capped frame rate. Reports spans/s ingested, frame time
// (snapshot and render) and RSS. Bounded in time and count.

import { PassThrough, Writable } from 'node:stream';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import React from 'react';
import { render } from 'ink';
import { App } from '../../src/tui/app.js';
import { UiStore } from '../../src/tui/store.js';
import { MeshSession } from '../../src/mesh/session.js';
import { loadScenarioFile } from '../../src/scenario/load.js';
import { runtimeFactory } from '../../src/runtime/registry.js';
import { decodeSpans, encodeSpans } from '../../src/telemetry/otlp.js';
import { ATTR, type Span } from '../../src/telemetry/span.js';
import { newSpanId, newTraceId } from '../../src/telemetry/trace-context.js';
import { PACKAGE_ROOT } from '../../src/version.js';
import { quantile } from '../helpers/quantile.js';

const HOPS: Array<[string, string, 'client' | 'server', number, number]> = [
  // service, peer, kind, parent index, duration ms
  ['istio-ingressgateway', 'productpage', 'client', -1, 20],
  ['productpage', '', 'server', 0, 19],
  ['productpage', 'details', 'client', 1, 3],
  ['details', '', 'server', 2, 2],
  ['productpage', 'reviews', 'client', 1, 12],
  ['reviews', '', 'server', 4, 11],
  ['reviews', 'ratings', 'client', 5, 4],
  ['ratings', '', 'server', 6, 3],
];

function trace(now: number): Span[] {
  const traceId = newTraceId();
  const ids = HOPS.map(() => newSpanId());
  return HOPS.map(([service, peer, kind, parent, ms], i) => ({
    traceId,
    spanId: ids[i]!,
    parentSpanId: parent < 0 ? undefined : ids[parent],
    name: `${service} ${kind}`,
    kind,
    startMs: now - 20 + i,
    endMs: now - 20 + i + ms,
    service,
    attributes: {
      [ATTR.method]: 'GET', [ATTR.path]: '/x', [ATTR.status]: 200, [ATTR.responseFlags]: '-', [ATTR.canonicalRevision]: 'v1',
      ...(kind === 'client' ? { [ATTR.peerService]: peer, [ATTR.final]: true, [ATTR.attempt]: 1 } : {}),
    },
    error: false,
  }));
}

function accessLine(service: string, now: number): string {
  return JSON.stringify({
    start_time: new Date(now).toISOString(), method: 'GET', path: '/x', protocol: 'HTTP/1.1', response_code: 200, response_flags: '-',
    response_code_details: 'via_upstream', bytes_received: 0, bytes_sent: 128, duration: 3, upstream_service_time: null, upstream_host: null,
    upstream_cluster: 'inbound|1||', upstream_request_attempt_count: 1, request_id: 'r', traceparent: 't', connection_termination_details: null, upstream_transport_failure_reason: null, x_forwarded_for: null, upstream_local_address: null, downstream_local_address: null, downstream_remote_address: null, requested_server_name: null, authority: `${service}:9080`,
    user_agent: null, route_name: null, reporter: 'destination', workload: `${service}-v1`, instance: `${service}-v1-0`, destination_service: service,
  });
}

const mb = (bytes: number) => Math.round((bytes / 1024 / 1024) * 10) / 10;

/** Bookinfo's session and the UI store over it, fed spans as the collector would, without a mesh. */
async function uiSession(clock: () => number): Promise<{ session: MeshSession; store: UiStore; ingest: (spans: Span[]) => void }> {
  const loaded = await loadScenarioFile(`${PACKAGE_ROOT}/scenarios/bookinfo.yaml`);
  const session = new MeshSession(loaded, { runtimeFactory: runtimeFactory('process'), seed: 42, clock });
  session.trafficStartedAt = clock();
  const store = new UiStore(session, 'process');
  store.setPhase('running');
  const ingest = (spans: Span[]) => (session as unknown as { onSpans(s: Span[]): void }).onSpans(spans);
  return { session, store, ingest };
}

export async function uiBenchmark(targetSpansPerSecond = 2000, seconds = 8): Promise<Record<string, unknown>> {
  const { session, store, ingest } = await uiSession(Date.now);
  const frames: number[] = [];
  let snapshotMs = 0;
  const source = {
    snapshot: () => {
      const started = performance.now();
      const s = store.snapshot();
      snapshotMs = performance.now() - started;
      return s;
    },
    spansOf: (id: string) => store.spansOf(id),
    declaredEdges: () => store.declaredEdges(),
  };
  const terminal = Object.assign(new Writable({ write: (_chunk, _enc, done) => done() }), { columns: 120, rows: 40, isTTY: true });
  // A keyboard that types nothing: ink wants raw mode, which only a terminal's stdin has.
  const keyboard = Object.assign(new PassThrough(), { isTTY: true, setRawMode: () => keyboard, ref: () => keyboard, unref: () => keyboard });
  const ui = render(React.createElement(App, { source, onQuit: () => {}, onNextEvent: () => {}, size: { columns: 120, rows: 40 } }), {
    stdout: terminal as unknown as NodeJS.WriteStream,
    stdin: keyboard as unknown as NodeJS.ReadStream,
    patchConsole: false,
    exitOnCtrlC: false,
    maxFps: 10,
    onRender: ({ renderTime }) => frames.push(renderTime + snapshotMs),
  });
  const rssBefore = process.memoryUsage().rss;
  const batchEveryMs = 100;
  const tracesPerBatch = Math.max(1, Math.round((targetSpansPerSecond / HOPS.length) * (batchEveryMs / 1000)));
  let spans = 0;
  let ingestMs = 0;
  const deadline = performance.now() + seconds * 1000;
  while (performance.now() < deadline) {
    const tick = performance.now();
    const now = Date.now();
    const batch = Array.from({ length: tracesPerBatch }, () => trace(now)).flat();
    // Each sidecar exports its own spans: one OTLP body per service, decoded as the hub does.
    const started = performance.now();
    for (const service of new Set(batch.map((s) => s.service))) {
      const own = batch.filter((s) => s.service === service);
      ingest(decodeSpans(JSON.parse(encodeSpans({ 'service.name': service }, own))).spans);
      for (let i = 0; i < own.length; i++) {
        session.emit('log', { kind: 'access', entry: JSON.parse(accessLine(service, now)) }, { instance: `${service}-v1-0`, container: 'sidecar', stream: 'stdout', text: '' });
      }
    }
    ingestMs += performance.now() - started;
    spans += batch.length;
    session.traces.tick(Date.now());
    await new Promise((r) => setTimeout(r, Math.max(0, batchEveryMs - (performance.now() - tick))));
  }
  const rssAfter = process.memoryUsage().rss;
  ui.unmount();
  return {
    targetSpansPerSecond,
    ingestedSpansPerSecond: Math.round(spans / seconds),
    ingestCpuPerSpanUs: Math.round((ingestMs * 1000) / spans * 10) / 10,
    frames: frames.length,
    frameP50Ms: Math.round(quantile(frames, 0.5) * 10) / 10,
    frameP99Ms: Math.round(quantile(frames, 0.99) * 10) / 10,
    rssBeforeMB: mb(rssBefore),
    rssAfterMB: mb(rssAfter),
    note: 'frame = snapshot + ink render at 120x40; the app refreshes at 8 fps (ink caps keystroke renders at 10); ingest = OTLP decode, trace assembly, statistics, access-log parsing',
  };
}

/** The heap after a full collection: what is really kept, without garbage not yet swept. */
function heapAfterGc(): number {
  setFlagsFromString('--expose-gc');
  (runInNewContext('gc') as () => void)();
  return process.memoryUsage().heapUsed;
}

/**
 * An hour of Bookinfo at `spansPerSecond`, replayed on a simulated clock through the same
 * path the live UI uses (session statistics and traces, the UI store's logs and snapshots),
 * as fast as the CPU allows. Memory is bounded when the heap stops growing once the
 * windows are full: the report lists it every ten simulated minutes.
 */
export async function uiSoak(spansPerSecond = 2000, simulatedSeconds = 3600): Promise<Record<string, unknown>> {
  let now = Date.now();
  const { session, store, ingest } = await uiSession(() => now);
  const stepMs = 100;
  const tracesPerStep = Math.max(1, Math.round((spansPerSecond / HOPS.length) * (stepMs / 1000)));
  const checkpoints: Array<{ minute: number; heapMB: number }> = [];
  const began = performance.now();
  let spans = 0;
  for (let step = 1; step <= (simulatedSeconds * 1000) / stepMs; step++) {
    now += stepMs;
    const batch = Array.from({ length: tracesPerStep }, () => trace(now)).flat();
    ingest(batch);
    for (const span of batch) {
      if (span.kind !== 'server') continue;
      session.emit('log', { kind: 'access', entry: JSON.parse(accessLine(span.service, now)) }, { instance: `${span.service}-v1-0`, container: 'sidecar', stream: 'stdout', text: '' });
    }
    spans += batch.length;
    if (step % 5 === 0) session.traces.tick(now);
    if (step % 100 === 0) store.snapshot(now);
    if (step % 6000 === 0) {
      checkpoints.push({ minute: (step * stepMs) / 60_000, heapMB: mb(heapAfterGc()) });
      // Let the event loop breathe, as a live session would.
      await new Promise((r) => setImmediate(r));
    }
  }
  const heaps = checkpoints.map((c) => c.heapMB);
  return {
    spansPerSecond,
    simulatedMinutes: simulatedSeconds / 60,
    spans,
    wallSeconds: Math.round((performance.now() - began) / 100) / 10,
    heapAfterGcMB: checkpoints,
    growthAfterFirstCheckpoint: Math.round((heaps[heaps.length - 1]! / heaps[0]! - 1) * 1000) / 1000,
    note: 'heap after a full GC every 10 simulated minutes; bounded means flat once the 15-minute windows are full',
  };
}
