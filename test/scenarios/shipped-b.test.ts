// Every shipped scenario runs to its end and its checks hold (two files, so two run at once).
import test from 'ava';
import { runShipped } from '../helpers/shipped.js';

test.serial('canary runs: header route, weighted shift, rollback', (t) => runShipped(t, 'canary'));
test.serial('circuit-breaker runs: ejection keeps errors low, the pool overflows fast', (t) => runShipped(t, 'circuit-breaker'));
test.serial('cascading-failure runs: a slow db fails its callers, graceful degradation fixes it', (t) => runShipped(t, 'cascading-failure'));
