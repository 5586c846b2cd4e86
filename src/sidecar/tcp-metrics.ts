// Istio's four TCP metrics, as its stats plugin reports a proxied connection:
// istio_tcp_connections_opened_total and _closed_total, istio_tcp_sent_bytes_total and
// istio_tcp_received_bytes_total (bytes as the proxy's downstream saw them: sent to and
// received from the client). Labels are the request metrics' with request_protocol
// "tcp" and no response code, bounded in number as the request metrics are.

import type { Registry } from 'prom-client';
import { istioLabels, type RequestLabels } from './identity.js';
import { BoundedSeries } from './request-metrics.js';

export type TcpLabels = Omit<RequestLabels, 'status'>;

interface Series {
  labels: Record<string, string>;
  opened: number;
  closed: number;
  sent: number;
  received: number;
}

function labelsOf(r: RequestLabels): Record<string, string> {
  const { response_code: _code, grpc_response_status: _grpc, ...labels } = istioLabels(r);
  return { ...labels, request_protocol: 'tcp' };
}

export class TcpMetrics {
  private readonly series = new BoundedSeries<Series>((r) => ({ labels: labelsOf(r), opened: 0, closed: 0, sent: 0, received: 0 }));

  constructor(registry: Registry) {
    const counter = (name: string, help: string, pick: (s: Series) => number) => registry.registerMetric({
      name, help, type: 'counter', aggregator: 'sum',
      get: async () => ({ name, help, type: 'counter', aggregator: 'sum', values: [...this.series.all.values()].map((s) => ({ labels: s.labels, value: pick(s) })) }),
      reset: () => this.series.all.clear(),
    } as unknown as Parameters<Registry['registerMetric']>[0]);
    counter('istio_tcp_connections_opened_total', 'TCP connections opened, as Istio counts them.', (s) => s.opened);
    counter('istio_tcp_connections_closed_total', 'TCP connections closed.', (s) => s.closed);
    counter('istio_tcp_sent_bytes_total', 'Bytes sent to the downstream during TCP connections.', (s) => s.sent);
    counter('istio_tcp_received_bytes_total', 'Bytes received from the downstream during TCP connections.', (s) => s.received);
  }

  private of(r: TcpLabels): Series {
    return this.series.of({ ...r, status: 0 });
  }

  opened(r: TcpLabels): void {
    this.of(r).opened++;
  }

  /** The connection ended; `sent` and `received` are its bytes to and from the downstream. */
  closed(r: TcpLabels, sent: number, received: number): void {
    const s = this.of(r);
    s.closed++;
    s.sent += sent;
    s.received += received;
  }
}
