import test from 'ava';
import { formatDuration, parseDuration, parseSize } from '../../src/scenario/units.js';
import { closest } from '../../src/scenario/suggest.js';

test('durations are read in every unit the contract names', (t) => {
  t.is(parseDuration('250ms'), 250);
  t.is(parseDuration('2s'), 2000);
  t.is(parseDuration('1.5s'), 1500);
  t.is(parseDuration('1m'), 60_000);
  t.is(parseDuration('1m30s'), 90_000);
  t.is(parseDuration('1h'), 3_600_000);
});

test('a duration without a unit, or with an unknown one, is not a duration', (t) => {
  for (const bad of ['250', '2 s', 's', '', '1.s', '2sec', '-1s', '1s2']) t.is(parseDuration(bad), undefined, bad);
});

test('durations print in their shortest form', (t) => {
  t.is(formatDuration(1500), '1.5s');
  t.is(formatDuration(60_000), '1m');
  t.is(formatDuration(74_000), '1m14s');
  t.is(formatDuration(7_200_000), '2h');
  t.is(parseDuration(formatDuration(74_000)), 74_000, 'what it prints reads back');
  t.is(formatDuration(250), '250ms');
});

test('sizes are read in binary and decimal units', (t) => {
  t.is(parseSize('512B'), 512);
  t.is(parseSize('4KiB'), 4096);
  t.is(parseSize('1MiB'), 1_048_576);
  t.is(parseSize('2KB'), 2000);
  t.is(parseSize('4kib'), undefined);
  t.is(parseSize('12'), undefined);
});

test('a misspelt word finds its nearest known word, a foreign one finds none', (t) => {
  t.is(closest('latncy', ['latency', 'calls']), 'latency');
  t.is(closest('retires', ['retries', 'routes']), 'retries');
  t.is(closest('zzzzzz', ['latency', 'calls']), undefined);
});
