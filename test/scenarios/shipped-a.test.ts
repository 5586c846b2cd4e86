// Every shipped scenario runs to its end and its checks hold (two files, so two run at once).
import test from 'ava';
import { runShipped } from '../helpers/shipped.js';

test.serial('bookinfo runs and its checks hold', (t) => runShipped(t, 'bookinfo'));
test.serial('retry-storm runs: the storm multiplies db load, the fix brings it back', (t) => runShipped(t, 'retry-storm'));
