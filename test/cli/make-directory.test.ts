// Making a directory and its missing ancestors ends, whatever the file system answers.
import test from 'ava';
import { mkdtemp, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeDirectory } from '../../src/make-directory.js';

test('makes every missing ancestor, leaves an existing directory be, and refuses a file in the way', async (t) => {
  const base = await mkdtemp(join(tmpdir(), 'mesh-sim-mkdir-'));
  await makeDirectory(join(base, 'a', 'b', 'c'), 0o700);
  t.true((await stat(join(base, 'a', 'b', 'c'))).isDirectory());
  t.is((await stat(join(base, 'a'))).mode & 0o777, 0o700);
  await t.notThrowsAsync(makeDirectory(join(base, 'a', 'b')));
  await writeFile(join(base, 'file'), 'x');
  await t.throwsAsync(makeDirectory(join(base, 'file')), { code: 'EEXIST' });
  await t.throwsAsync(makeDirectory(join(base, 'file', 'below')), { code: 'ENOTDIR' });
});

test("where the file system says ENOENT under a parent that exists, it fails instead of looping (Node's recursive mkdir loops)", async (t) => {
  t.timeout(5000);
  await t.throwsAsync(makeDirectory('/proc/mesh-sim-cannot-be-here/x'), { code: 'ENOENT' });
});
