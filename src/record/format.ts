// The recording file (`--record FILE`): one line naming the format, then frames, one per
// second of the run, each a 4-byte big-endian length and a gzip member holding that
// second's entries as JSON lines. Appending a frame is one write, so a run that dies
// leaves every second before its last; a torn last frame is noticed and left out.
// Entries are what the run's numbers and panes are made of, in the order they happened.

import { gunzipSync, gzipSync } from 'node:zlib';
import type { Scenario, TimelineEvent } from '../scenario/model.js';
import type { Span } from '../telemetry/span.js';
import type { CheckResult } from '../telemetry/judge.js';
import type { Window } from '../telemetry/stats.js';
import type { InstancePlan, LogLine } from '../runtime/runtime.js';
import type { TrafficCounts } from '../traffic/generator.js';
import type { InstanceState } from '../mesh/session.js';

export const MAGIC = 'mesh-sim recording v1\n';
/** A frame larger than this is not one mesh-sim wrote (one second of a busy mesh is a few MiB). */
export const MAX_FRAME_BYTES = 256 * 1024 * 1024;

/** Every entry carries `t`, the wall-clock time (ms) it happened. */
export type Entry =
  | { k: 'begin'; t: number; seed: number; runtime: string; version: string; retentionSeconds: number; configVersion: number }
  | { k: 'scenario'; t: number; scenario: Scenario; timeline: readonly TimelineEvent[] }
  | { k: 'instance'; t: number; plan: InstancePlan; state: InstanceState; endpoint: string | undefined }
  | { k: 'spans'; t: number; spans: Span[] }
  /** A span counted in the statistics: `span` is its id, from a `spans` entry before it. */
  | { k: 'count'; t: number; span: string; segment: number }
  | { k: 'answer'; t: number; flow: string; segment: number; status: number; ms: number; degraded: boolean }
  | { k: 'log'; t: number; line: LogLine }
  | { k: 'event'; t: number; index: number }
  | { k: 'say'; t: number; index: number; text: string }
  | { k: 'check'; t: number; result: CheckResult; window: Window | undefined; runSeconds: number }
  | { k: 'pushed'; t: number; version: number; acked: number; total: number; ms: number }
  | { k: 'warning'; t: number; message: string }
  | { k: 'applied'; t: number; lines: string[] }
  /** The traces settled; the timeline's clock and position then. */
  | { k: 'settle'; t: number; final: boolean; elapsed: number; position: number }
  | { k: 'traffic'; t: number; startedAt: number | undefined; endedAt: number | undefined }
  | { k: 'end'; t: number; runSeconds: number; traffic: TrafficCounts; unansweredSpans: number; interrupted: boolean };

export function encodeFrame(entries: readonly Entry[]): Buffer {
  const body = gzipSync(entries.map((e) => JSON.stringify(e)).join('\n'));
  const header = Buffer.alloc(4);
  header.writeUInt32BE(body.length);
  return Buffer.concat([header, body]);
}

export interface DecodedRecording {
  entries: Entry[];
  /** The file ended inside a frame (the run died mid-write): what came before is whole. */
  torn: boolean;
}

export class RecordingError extends Error {}

export function decodeRecording(file: string, bytes: Buffer): DecodedRecording {
  const magic = Buffer.from(MAGIC);
  if (bytes.length < magic.length || !bytes.subarray(0, magic.length).equals(magic)) {
    throw new RecordingError(`${file} is not a mesh-sim recording (it does not start with "${MAGIC.trim()}"); make one with \`mesh-sim run FILE --record ${file}\``);
  }
  const entries: Entry[] = [];
  let at = magic.length;
  while (at < bytes.length) {
    if (at + 4 > bytes.length) return { entries, torn: true };
    const length = bytes.readUInt32BE(at);
    if (length > MAX_FRAME_BYTES) throw new RecordingError(`${file}: a frame at byte ${at} claims ${length} bytes: the file is damaged`);
    if (at + 4 + length > bytes.length) return { entries, torn: true };
    let text: string;
    try {
      text = gunzipSync(bytes.subarray(at + 4, at + 4 + length)).toString('utf8');
    } catch {
      throw new RecordingError(`${file}: the frame at byte ${at} does not decompress: the file is damaged`);
    }
    for (const line of text.split('\n')) if (line !== '') entries.push(JSON.parse(line) as Entry);
    at += 4 + length;
  }
  return { entries, torn: false };
}
