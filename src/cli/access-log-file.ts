// `run --access-log FILE`: every sidecar's access-log entries and outlier events, one a
// line, in Istio's JSON encoding or its TEXT one (outlier events stay JSON either way,
// as Envoy's outlier event log is). The file is opened before anything starts, so a
// path that cannot be written is bad input, not a crash mid-run; a write that fails
// later is said once and the run goes on; closing waits until every line is written.

import { open } from 'node:fs/promises';
import type { WriteStream } from 'node:fs';
import type { LogRecord } from '../telemetry/access-log.js';
import { ACCESS_LOG_ENCODINGS, istioTextLine, type AccessLogEncoding } from '../telemetry/access-log-text.js';
import { UserError } from './exit-codes.js';

/** `--access-log-encoding`: json (the default) or text, as meshConfig's accessLogEncoding spells them in either case. */
export function accessLogEncodingOption(given: string | undefined, file: string | undefined): AccessLogEncoding {
  if (given === undefined) return 'json';
  const encoding = given.toLowerCase();
  if (!(ACCESS_LOG_ENCODINGS as readonly string[]).includes(encoding)) {
    throw new UserError(`--access-log-encoding is json or text (Istio's accessLogEncoding JSON or TEXT), not \`${given}\``);
  }
  if (file === undefined) throw new UserError('--access-log-encoding says how --access-log writes its file: give --access-log FILE too');
  return encoding as AccessLogEncoding;
}

export class AccessLogFile {
  private failed = false;

  private constructor(private readonly stream: WriteStream, private readonly encoding: AccessLogEncoding, file: string, onError: (message: string) => void) {
    stream.on('error', (error) => {
      if (this.failed) return;
      this.failed = true;
      onError(`cannot write the access log to ${file} any more (${error.message}); the run goes on without it`);
    });
  }

  static async open(file: string, encoding: AccessLogEncoding, onError: (message: string) => void): Promise<AccessLogFile> {
    try {
      const handle = await open(file, 'w');
      return new AccessLogFile(handle.createWriteStream(), encoding, file, onError);
    } catch (error) {
      throw new UserError(`--access-log: cannot write ${file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
    }
  }

  /** A sidecar's line: `text` as it wrote it (JSON), `record` as read from it. */
  write(record: LogRecord, text: string): void {
    if (this.failed || record.kind === 'text') return;
    this.stream.write((record.kind === 'access' && this.encoding === 'text' ? istioTextLine(record.entry) : text) + '\n');
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      if (this.stream.closed) return resolve();
      this.stream.end(() => resolve());
      this.stream.once('error', () => resolve());
    });
  }
}
