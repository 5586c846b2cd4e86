// One kind of injected fault (Istio's HTTPFaultInjection has a delay and an abort): it
// draws whether this request gets it, from the seed and the request's identity, and
// applies it. The fault filter runs every registered kind in order.

import type { HttpRoute } from '../../policy/config.js';
import type { FilterCallbacks, FilterStatus } from '../filters/filter.js';
import type { OutboundStream } from '../stream.js';

export type FaultConfigs = HttpRoute['fault'];

export interface FaultType<K extends keyof FaultConfigs = keyof FaultConfigs> {
  readonly name: K;
  apply(stream: OutboundStream, config: NonNullable<FaultConfigs[K]>, callbacks: FilterCallbacks): FilterStatus | Promise<FilterStatus>;
}
