import os from 'node:os'
import path from 'node:path'
import { CONTACTS_PATH_ENV, DATA_DIR_NAME, STORE_FILE_NAME } from './constants.js'

export interface ContactsPathOptions {
  /** Where `TK_CONTACTS`, `XDG_DATA_HOME` and `LOCALAPPDATA` are read; default `process.env`. */
  env?: NodeJS.ProcessEnv
  /** Default `process.platform`. */
  platform?: NodeJS.Platform
  /** The user's home folder; default `os.homedir()`. */
  home?: string
}

/**
 * The user's data folder, as each platform expects it: `%LOCALAPPDATA%` on Windows,
 * `~/Library/Application Support` on macOS, `$XDG_DATA_HOME` or `~/.local/share` elsewhere.
 */
export function userDataDir(options: ContactsPathOptions = {}): string {
  const env = options.env ?? process.env
  const platform = options.platform ?? process.platform
  const home = options.home ?? os.homedir()
  if (platform === 'win32') {
    const local = env.LOCALAPPDATA
    return local != null && local !== '' ? local : path.win32.join(home, 'AppData', 'Local')
  }
  if (platform === 'darwin') return path.posix.join(home, 'Library', 'Application Support')
  // The XDG spec says to ignore a relative XDG_DATA_HOME.
  const xdg = env.XDG_DATA_HOME
  return xdg != null && path.posix.isAbsolute(xdg) ? xdg : path.posix.join(home, '.local', 'share')
}

/** Where the contacts file lives when no `path` is given: `TK_CONTACTS`, else `<data dir>/tk/contacts.json`. */
export function defaultContactsPath(options: ContactsPathOptions = {}): string {
  const env = options.env ?? process.env
  const override = env[CONTACTS_PATH_ENV]
  if (override != null && override !== '') return path.resolve(override)
  const platform = options.platform ?? process.platform
  const join = platform === 'win32' ? path.win32.join : path.posix.join
  return join(userDataDir(options), DATA_DIR_NAME, STORE_FILE_NAME)
}
