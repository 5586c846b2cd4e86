// What the benchmark's load generator is asked to do (shared by the driver and the generator).

export interface LoadArgs {
  url: string;
  /** The Host header, naming the mesh service. */
  host: string;
  mode: 'closed' | 'open';
  connections: number;
  /** Requests per second, for the open loop. */
  rate: number;
  seconds: number;
  /** Send absolute-form request targets, as an app behind HTTP_PROXY does. */
  absolute: boolean;
}
