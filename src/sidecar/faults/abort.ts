// Istio's fault.abort: the chosen share of requests is answered httpStatus by the
// caller's own sidecar (flag FI); it never leaves, so it is never retried.

import { chance } from '../../policy/decide.js';
import type { FaultType } from './fault-type.js';
import { causeOf } from '../stream.js';

export const abortFault: FaultType<'abort'> = {
  name: 'abort',
  apply(stream, abort, callbacks) {
    if (!chance(abort.percentage, stream.seed, 'abort', stream.key)) return 'continue';
    stream.fault = 'abort';
    stream.blame(causeOf(stream.route?.ref, 'fault.abort', abort.where));
    callbacks.sendLocalReply(stream, { kind: 'fault-abort', status: abort.httpStatus });
    return 'stop';
  },
};
