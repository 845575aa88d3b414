#!/usr/bin/env node
// Prints the shell line that puts the repo's own Node and pnpm (under .tools/) first on PATH,
// installing them from the npm registry the first time. Use it in a POSIX shell:
//
//   eval "$(node scripts/env.mjs)"     # then `node --version` is the pinned Node, `pnpm` works
//
// TK_NODE=<version> picks another Node (e.g. TK_NODE=22.19.0, the oldest supported). Everything
// else it prints goes to stderr, so only the export line reaches `eval`.
import path from 'node:path'
import { ensureNode, ensurePnpm, PINNED_NODE } from './tools.mjs'

const log = line => console.error(`▶ ${line}`)
const node = ensureNode(process.env.TK_NODE ?? PINNED_NODE, log)
// pnpm's launcher is a Node script: it must find the new Node first, as it will in the shell.
const env = { ...process.env, PATH: `${path.dirname(node)}${path.delimiter}${process.env.PATH}` }
const pnpm = ensurePnpm(env, log, { preferLocal: true })
const dirs = [path.dirname(node), path.dirname(pnpm)]
const quote = text => `'${text.replaceAll("'", "'\\''")}'`
console.log(`export PATH=${dirs.map(quote).join(':')}:"$PATH"`)
