// Counting words for messages people read: "1 run", "2 runs", "3 processes".

export function plural(n: number, word: string, many = `${word}s`): string {
  return `${n} ${n === 1 ? word : many}`;
}
