/**
 * Reading Kubo's output, the same whatever carried it (HTTP or the CLI): for transports.
 */

/** One JSON value from a command's whole output; when it printed several, one per line, the last is the result. */
export function parseJsonOutput<T>(text: string): T {
  if (text.trim() === '') return undefined as T
  try {
    return JSON.parse(text) as T
  } catch {
    const lines = text.trim().split('\n')
    return JSON.parse(lines[lines.length - 1] ?? 'null') as T
  }
}

/** Splits streamed text output into lines as the chunks arrive (without the newlines). */
export async function* splitLines(chunks: AsyncIterable<Uint8Array>): AsyncGenerator<string> {
  const decoder = new TextDecoder()
  let buffered = ''
  for await (const chunk of chunks) {
    buffered += decoder.decode(chunk, { stream: true })
    let newline = buffered.indexOf('\n')
    while (newline !== -1) {
      yield buffered.slice(0, newline)
      buffered = buffered.slice(newline + 1)
      newline = buffered.indexOf('\n')
    }
  }
  buffered += decoder.decode()
  if (buffered !== '') yield buffered
}

/** Parses newline-delimited JSON as the chunks arrive, one value per line. */
export async function* parseNdjson<T>(chunks: AsyncIterable<Uint8Array>): AsyncGenerator<T> {
  for await (const line of splitLines(chunks)) {
    if (line.trim() !== '') yield JSON.parse(line) as T
  }
}
