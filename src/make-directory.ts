// Making a directory and whatever is missing above it, in a bounded number of steps.
// Node's own `mkdir(dir, {recursive: true})` can loop for ever where a file system
// answers ENOENT under a parent that exists (as /proc does: `mkdir /proc/x` is ENOENT),
// so a path a user mistypes there hangs mesh-sim instead of failing. Here each missing
// ancestor is made once, and a second ENOENT is an answer.

import { mkdir, stat } from 'node:fs/promises';
import { dirname } from 'node:path';

export async function makeDirectory(dir: string, mode?: number): Promise<void> {
  try {
    await mkdir(dir, { mode });
    return;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') {
      if ((await stat(dir)).isDirectory()) return;
      throw error;
    }
    if (code !== 'ENOENT' || dirname(dir) === dir) throw error;
  }
  await makeDirectory(dirname(dir), mode);
  try {
    await mkdir(dir, { mode });
  } catch (error) {
    // Made meanwhile by someone else: as good as made.
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  }
}
