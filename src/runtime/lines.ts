// A child's output, one line at a time, whatever size its chunks come in.

import { Writable } from 'node:stream';

/** Lines longer than this are cut: a runaway program must not eat memory through its logs. */
const MAX_LINE = 64 * 1024;

export class LineSplitter extends Writable {
  private rest = '';

  constructor(private readonly onLine: (line: string) => void) {
    super({ decodeStrings: false });
  }

  override _write(chunk: Buffer | string, _encoding: BufferEncoding, callback: () => void): void {
    const text = this.rest + chunk.toString();
    const lines = text.split('\n');
    this.rest = lines.pop() ?? '';
    if (this.rest.length > MAX_LINE) {
      lines.push(this.rest.slice(0, MAX_LINE));
      this.rest = '';
    }
    for (const line of lines) this.onLine(line.endsWith('\r') ? line.slice(0, -1) : line);
    callback();
  }

  override _final(callback: () => void): void {
    if (this.rest !== '') this.onLine(this.rest);
    this.rest = '';
    callback();
  }
}
