// A mergeable quantile sketch (DDSketch): latencies land in logarithmic buckets, so
// any percentile is known within 1 % of its true value, in memory that grows with the
// range of values, not their number, and sketches of windows merge into one.

const RELATIVE_ACCURACY = 0.01;
const GAMMA = (1 + RELATIVE_ACCURACY) / (1 - RELATIVE_ACCURACY);
const LOG_GAMMA = Math.log(GAMMA);
/** Below this (in ms) a value counts as zero: a microsecond is below any latency we show. */
const MIN_VALUE = 1e-3;

export class Sketch {
  private buckets = new Map<number, number>();
  private zeros = 0;
  count = 0;
  sum = 0;
  min = Infinity;
  max = -Infinity;

  add(value: number, times = 1): void {
    if (!(value >= 0)) return;
    this.count += times;
    this.sum += value * times;
    if (value < this.min) this.min = value;
    if (value > this.max) this.max = value;
    if (value < MIN_VALUE) {
      this.zeros += times;
      return;
    }
    const index = Math.ceil(Math.log(value) / LOG_GAMMA);
    this.buckets.set(index, (this.buckets.get(index) ?? 0) + times);
  }

  merge(other: Sketch): this {
    if (other.count === 0) return this;
    for (const [index, n] of other.buckets) this.buckets.set(index, (this.buckets.get(index) ?? 0) + n);
    this.zeros += other.zeros;
    this.count += other.count;
    this.sum += other.sum;
    this.min = Math.min(this.min, other.min);
    this.max = Math.max(this.max, other.max);
    return this;
  }

  /** The q-quantile (0..1), within 1 %; NaN when empty. */
  quantile(q: number): number {
    if (this.count === 0) return NaN;
    if (q <= 0) return this.min;
    if (q >= 1) return this.max;
    const rank = q * (this.count - 1);
    let seen = this.zeros;
    if (rank < seen) return 0;
    const indexes = [...this.buckets.keys()].sort((a, b) => a - b);
    for (const index of indexes) {
      seen += this.buckets.get(index)!;
      if (rank < seen) {
        const estimate = (2 * GAMMA ** index) / (GAMMA + 1);
        return Math.min(Math.max(estimate, this.min), this.max);
      }
    }
    return this.max;
  }

  get mean(): number {
    return this.count === 0 ? NaN : this.sum / this.count;
  }
}
