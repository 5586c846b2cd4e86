import test from 'ava';
import { mergePatch } from '../../src/scenario/merge-patch.js';

test('a merge patch merges mappings, replaces lists and removes keys set to null', (t) => {
  const target = { mesh: { a: { timeout: '1s', retries: { attempts: 2 } }, b: { timeout: '2s' } }, traffic: [{ to: 'a' }, { to: 'b' }] };
  const patched = mergePatch(target, { mesh: { a: { retries: { attempts: 5 } }, b: null }, traffic: [{ to: 'c' }] });
  t.deepEqual(patched, { mesh: { a: { timeout: '1s', retries: { attempts: 5 } } }, traffic: [{ to: 'c' }] });
  t.deepEqual(target.mesh.b, { timeout: '2s' }, 'the target is left as it was');
});

test('RFC 7386 examples hold', (t) => {
  t.deepEqual(mergePatch({ a: 'b' }, { a: 'c' }), { a: 'c' });
  t.deepEqual(mergePatch({ a: 'b' }, { b: 'c' }), { a: 'b', b: 'c' });
  t.deepEqual(mergePatch({ a: 'b' }, { a: null }), {});
  t.deepEqual(mergePatch({ a: ['b'] }, { a: 'c' }), { a: 'c' });
  t.deepEqual(mergePatch({ a: 'c' }, { a: ['b'] }), { a: ['b'] });
  t.deepEqual(mergePatch({ a: { b: 'c' } }, { a: { b: 'd', c: null } }), { a: { b: 'd' } });
  t.deepEqual(mergePatch(['c'], { a: 'b' }), { a: 'b' });
  t.deepEqual(mergePatch({ e: null }, { a: 1 }), { e: null, a: 1 });
});
