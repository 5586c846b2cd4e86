// Istio's fault.delay: the chosen share of requests waits fixedDelay before it leaves
// the caller's sidecar (flag DI). The route's timeout starts after it, as in Envoy,
// where the fault filter runs before the router.

import { chance } from '../../policy/decide.js';
import type { FaultType } from './fault-type.js';
import { causeOf } from '../stream.js';

export const delayFault: FaultType<'delay'> = {
  name: 'delay',
  async apply(stream, delay) {
    if (!chance(delay.percentage, stream.seed, 'delay', stream.key)) return 'continue';
    stream.addFlag('DI');
    stream.fault = 'delay';
    stream.blame(causeOf(stream.route?.ref, 'fault.delay', delay.where));
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        cancel();
        resolve();
      }, delay.fixedDelayMs);
      // The app gave up while its call was being delayed: stop waiting.
      const cancel = stream.onDownstreamReset(() => {
        clearTimeout(timer);
        resolve();
      });
    });
    return stream.downstreamGone ? 'stop' : 'continue';
  },
};
