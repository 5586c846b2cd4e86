// The fault filter: the matched route's injected faults, each registered kind in order
// (delay before abort, as Envoy's fault filter applies them).

import { abortFault } from '../faults/abort.js';
import { delayFault } from '../faults/delay.js';
import type { FaultConfigs, FaultType } from '../faults/fault-type.js';
import type { OutboundFilter } from './filter.js';

/** Every kind of fault, in the order applied. A new kind is one module and one line here. */
export const FAULT_TYPES: ReadonlyArray<FaultType> = [delayFault, abortFault] as ReadonlyArray<FaultType>;

export const faultFilter: OutboundFilter = {
  name: 'fault',
  async decode(stream, callbacks) {
    const faults: FaultConfigs = stream.route?.fault ?? {};
    for (const type of FAULT_TYPES) {
      const config = faults[type.name];
      if (!config) continue;
      if ((await type.apply(stream, config as never, callbacks)) === 'stop') return 'stop';
    }
    return 'continue';
  },
};
