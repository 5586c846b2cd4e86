// Units of the scenario language: durations, sizes and percentages as people write
// them, turned into the numbers the rest of mesh-sim computes with.

const DURATION_UNITS_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
const DURATION_PART = /(\d+(?:\.\d+)?)(ms|s|m|h)/y;

/** `250ms`, `1.5s`, `1m30s` to milliseconds; undefined when the text is not a duration. */
export function parseDuration(text: string): number | undefined {
  const trimmed = text.trim();
  if (trimmed === '') return undefined;
  let total = 0;
  DURATION_PART.lastIndex = 0;
  while (DURATION_PART.lastIndex < trimmed.length) {
    const start = DURATION_PART.lastIndex;
    const match = DURATION_PART.exec(trimmed);
    if (!match || match.index !== start) return undefined;
    total += Number(match[1]) * DURATION_UNITS_MS[match[2]!]!;
  }
  return total;
}

/** Milliseconds back to the shortest readable duration: 1500 → `1.5s`, 60000 → `1m`. */
export function formatDuration(ms: number): string {
  if (ms >= 3_600_000 && ms % 3_600_000 === 0) return `${ms / 3_600_000}h`;
  if (ms >= 60_000 && ms % 1000 === 0) {
    const minutes = Math.floor(ms / 60_000);
    const seconds = (ms % 60_000) / 1000;
    return seconds === 0 ? `${minutes}m` : `${minutes}m${seconds}s`;
  }
  if (ms >= 1000) return trimNumber(ms / 1000) + 's';
  return trimNumber(ms) + 'ms';
}

function trimNumber(value: number): string {
  return String(Math.round(value * 1000) / 1000);
}

const SIZE_UNITS: Record<string, number> = {
  B: 1, KB: 1000, MB: 1_000_000, GB: 1_000_000_000,
  KiB: 1024, MiB: 1024 ** 2, GiB: 1024 ** 3,
};
const SIZE = /^(\d+(?:\.\d+)?)\s*(B|KB|MB|GB|KiB|MiB|GiB)$/;

/** `512B`, `4KiB`, `1MiB` to bytes; undefined when the text is not a size. */
export function parseSize(text: string): number | undefined {
  const match = SIZE.exec(text.trim());
  if (!match) return undefined;
  return Math.round(Number(match[1]) * SIZE_UNITS[match[2]!]!);
}

export function formatSize(bytes: number): string {
  if (bytes >= 1024 ** 2 && bytes % 1024 ** 2 === 0) return `${bytes / 1024 ** 2}MiB`;
  if (bytes >= 1024 && bytes % 1024 === 0) return `${bytes / 1024}KiB`;
  return `${bytes}B`;
}
