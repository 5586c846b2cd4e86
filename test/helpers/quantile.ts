// Exact quantiles of small samples, for tests and benchmarks that judge a distribution
// rather than every single value (one slow outlier on a busy machine is not a bug).
export function quantile(values: number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN;
}
