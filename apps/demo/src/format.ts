const MEBIBYTE = 1024 * 1024

/** `1536` → `1.5 KiB`; binary units, as file sizes are usually shown. */
export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`
  if (bytes < MEBIBYTE) return `${(bytes / 1024).toFixed(1)} KiB`
  if (bytes < 1024 * MEBIBYTE) return `${(bytes / MEBIBYTE).toFixed(1)} MiB`
  return `${(bytes / (1024 * MEBIBYTE)).toFixed(2)} GiB`
}

/** Bytes per second as `12.3 MiB/s`. */
export function formatRate(bytesPerSecond: number): string {
  return `${formatBytes(Math.round(bytesPerSecond))}/s`
}

/** Milliseconds as `850 ms`, `3.2 s` or `2 min 5 s`. */
export function formatDuration(milliseconds: number): string {
  if (milliseconds < 1000) return `${Math.round(milliseconds)} ms`
  if (milliseconds < 60_000) return `${(milliseconds / 1000).toFixed(1)} s`
  const minutes = Math.floor(milliseconds / 60_000)
  return `${minutes} min ${Math.round((milliseconds - minutes * 60_000) / 1000)} s`
}

/** `12D3KooWRGHw…9i2W`: enough of a peer id to tell two apart in a line of text. */
export function shortPeerId(peerId: string): string {
  return peerId.length <= 16 ? peerId : `${peerId.slice(0, 12)}…${peerId.slice(-4)}`
}

/** An error as one line: its message, without the stack. */
export function errorMessage(error: unknown): string {
  if (error instanceof Error) return error.message.replace(/\s*\n\s*/g, ' ')
  return String(error)
}

/** `1 address`, `3 addresses`: `plural` defaults to `singular` + `s`. */
export function count(amount: number, singular: string, plural = `${singular}s`): string {
  return `${amount} ${amount === 1 ? singular : plural}`
}
