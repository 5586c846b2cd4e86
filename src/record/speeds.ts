// The playback speeds a replay offers: what `--speed` takes and `+`/`-` step through.

export const SPEEDS = [0.5, 1, 2, 4, 8, 16] as const;
