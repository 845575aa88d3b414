import { createHash } from 'node:crypto'
import fs from 'node:fs/promises'
import path from 'node:path'

/** Longest file name we create, in UTF-8 bytes (most file systems allow 255). */
export const MAX_FILE_NAME_BYTES = 200

/**
 * Turns a file name from the wire into one that is safe to create in the target directory: the
 * last path component only (`/` and `\` both count), no control characters, not `.`/`..`, not
 * starting with a dot (no hidden or dot-dot names), no invisible format characters, at most {@link MAX_FILE_NAME_BYTES} bytes
 * with the extension kept. An empty result becomes `unnamed`.
 */
export function sanitizeFileName(name: string): string {
  const last =
    name
      .split(/[/\\]/)
      .filter(part => part !== '')
      .pop() ?? ''
  // Controls, and invisible format characters (U+202E would show `evil\u202Etxt.exe` as "evilexe.txt").
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is removed
  let clean = last.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]|\p{Cf}/gu, '').trim()
  clean = clean.replace(/^\.+/, '')
  if (clean === '') clean = 'unnamed'
  return truncate(clean, MAX_FILE_NAME_BYTES)
}

function truncate(name: string, maxBytes: number): string {
  const bytes = Buffer.from(name, 'utf8')
  if (bytes.byteLength <= maxBytes) return name
  const extension = path.extname(name)
  const keep = Buffer.byteLength(extension) <= 32 ? extension : ''
  // Cut by bytes (linear even for a name of megabytes), backing off to a character boundary.
  let cut = maxBytes - Buffer.byteLength(keep)
  while (cut > 0 && ((bytes[cut] ?? 0) & 0xc0) === 0x80) cut--
  return bytes.subarray(0, cut).toString('utf8') + keep
}

/**
 * Moves a finished `.part` file to `name` in `directory` without overwriting anything: `name`,
 * else `name (1)`, `name (2)`, … (a hard link fails when the name exists, so two receivers
 * cannot both take the same name). Returns the final path.
 */
export async function publishPart(partPath: string, directory: string, name: string): Promise<string> {
  const extension = path.extname(name)
  const stem = name.slice(0, name.length - extension.length)
  for (let attempt = 0; attempt < 10_000; attempt++) {
    const candidate = path.join(directory, attempt === 0 ? name : `${stem} (${attempt})${extension}`)
    try {
      await fs.link(partPath, candidate)
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code
      if (code === 'EEXIST') continue
      if (code === 'EPERM' || code === 'ENOTSUP' || code === 'EXDEV') {
        // File systems without hard links: check-then-rename (a narrow race, documented).
        if (await exists(candidate)) continue
        await fs.rename(partPath, candidate)
        return candidate
      }
      throw error
    }
    await fs.rm(partPath, { force: true })
    return candidate
  }
  throw new Error(`no free name for ${name} in ${directory}`)
}

async function exists(file: string): Promise<boolean> {
  try {
    await fs.lstat(file)
    return true
  } catch {
    return false
  }
}

/**
 * The `.part` file for a transfer: named from the sender, the file name and its size, so a
 * transfer that broke off finds its part again and resumes.
 */
export function partPathFor(directory: string, peerId: string, name: string, size: number): string {
  const key = createHash('sha256').update(`${peerId}\n${name}\n${size}`).digest('hex').slice(0, 24)
  return path.join(directory, `.tk-${key}.part`)
}
