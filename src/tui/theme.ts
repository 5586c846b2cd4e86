// Colours, one meaning each: health (green, yellow, red), a steady colour per service
// (so a service is recognisable across panes, as stern colours pods), and status codes.
// With NO_COLOR set, chalk (through ink) prints none of them.

import type { Health } from './model.js';

export const HEALTH_COLOR: Record<Health, string> = { good: 'green', warn: 'yellow', bad: 'red', idle: 'gray' };

const SERVICE_COLORS = ['cyan', 'magenta', 'blue', 'yellow', 'green', 'cyanBright', 'magentaBright', 'blueBright'];

export function serviceColor(name: string): string {
  let h = 0;
  for (let i = 0; i < name.length; i++) h = (h * 31 + name.charCodeAt(i)) >>> 0;
  return SERVICE_COLORS[h % SERVICE_COLORS.length]!;
}

export function statusColor(status: number | undefined): string {
  if (status === undefined || status === 0) return 'red';
  if (status >= 500) return 'red';
  if (status >= 400) return 'yellow';
  return 'green';
}

/** Fits text to `width` columns, with an ellipsis when cut. */
export function fit(text: string, width: number): string {
  if (width <= 0) return '';
  if (text.length <= width) return text;
  return width <= 1 ? text.slice(0, width) : `${text.slice(0, width - 1)}…`;
}

export function pad(text: string, width: number, right = false): string {
  const fitted = fit(text, width);
  return right ? fitted.padStart(width) : fitted.padEnd(width);
}
