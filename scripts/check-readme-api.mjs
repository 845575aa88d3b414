#!/usr/bin/env node
// Keeps each package README's "## API" section in step with what the package exports: for every
// entry of every packages/*/package.json `exports` map, it imports the built entry point (its
// runtime exports) and reads its .d.ts (its types too, `export type *` included),
// then fails naming each export the README's API section does not mention. Run after a build
// (`npm run lint`, and the lint stage of `npm test`).
//
//   node scripts/check-readme-api.mjs            check every package
//   node scripts/check-readme-api.mjs rpc api    only these (folder names under packages/)
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const packagesDir = path.join(root, 'packages')

/** The README's `## API` section (up to the next `## ` heading), or undefined when it has none. */
export function apiSection(readme) {
  const start = readme.search(/^## API\b.*$/m)
  if (start === -1) return undefined
  const rest = readme.slice(start + 1)
  const end = rest.search(/^## /m)
  return end === -1 ? rest : rest.slice(0, end)
}

/**
 * Whether `markdown` names the identifier `name` in code (inside backticks, as a whole word:
 * `` `createIpfs(init)` `` counts, `` `createIpfsX` `` and a "Pin" in prose do not).
 */
export function names(markdown, name) {
  const code = [...markdown.matchAll(/`[^`]+`/g)].map(match => match[0]).join(' ')
  const escaped = name.replace(/[$]/g, '\\$')
  return new RegExp(`(?<![\\w$])${escaped}(?![\\w$])`).test(code)
}

/** `exports` entries of a package.json as `{ subpath, js, dts }` (absolute paths), `./package.json` left out. */
function entries(packageDir, manifest) {
  const exportsMap =
    typeof manifest.exports === 'string' ? { '.': manifest.exports } : (manifest.exports ?? {})
  const found = []
  for (const [subpath, target] of Object.entries(exportsMap)) {
    if (subpath === './package.json') continue
    const js = typeof target === 'string' ? target : (target.default ?? target.import ?? target.node)
    const dts = typeof target === 'string' ? undefined : target.types
    if (typeof js !== 'string')
      throw new Error(`${manifest.name}: exports["${subpath}"] has no default entry`)
    found.push({
      subpath,
      js: path.join(packageDir, js),
      dts: path.join(packageDir, typeof dts === 'string' ? dts : js.replace(/\.js$/, '.d.ts'))
    })
  }
  return found
}

/**
 * Every name a .d.ts exports, values and types, following its re-exports (`export * from`,
 * `export type * from`). The repo's TypeScript is the native compiler (no JavaScript API), so this
 * reads the declarations tsc emits, which have a regular shape.
 */
function typeExports(file, typesOnly = false, seen = new Set()) {
  if (seen.has(file)) return []
  seen.add(file)
  const text = readFileSync(file, 'utf8')
    .replace(/\/\*[\s\S]*?\*\//g, '')
    .replace(/^\s*\/\/.*$/gm, '')
  const found = []
  const resolve = specifier => path.resolve(path.dirname(file), specifier.replace(/\.js$/, '.d.ts'))
  // `export type *` re-exports a module's functions and constants too, usable in types only
  // (`typeof`); those are not part of the API to document, its types are.
  for (const match of text.matchAll(/^export (type )?\* from ['"]([^'"]+)['"]/gm))
    found.push(...typeExports(resolve(match[2]), typesOnly || match[1] != null, seen))
  for (const match of text.matchAll(/^export (?:type )?\* as (\w+) from/gm)) found.push(match[1])
  for (const match of text.matchAll(/^export (?:type )?\{([^}]*)\}/gm)) {
    for (const item of match[1].split(',')) {
      const name = item
        .trim()
        .replace(/^type\s+/, '')
        .split(/\s+as\s+/)
        .pop()
      if (name) found.push(name)
    }
  }
  for (const match of text.matchAll(
    /^export (?:declare )?(?:abstract )?(function|class|const|let|var|enum|interface|type|namespace) ([\w$]+)/gm
  )) {
    if (!typesOnly || ['class', 'enum', 'interface', 'type'].includes(match[1])) found.push(match[2])
  }
  return [...new Set(found)]
}

const only = process.argv.slice(2)
const packages = readdirSync(packagesDir)
  .filter(name => only.length === 0 || only.includes(name))
  .filter(name => existsSync(path.join(packagesDir, name, 'package.json')))
  .sort()

const plan = []
for (const folder of packages) {
  const packageDir = path.join(packagesDir, folder)
  const manifest = JSON.parse(readFileSync(path.join(packageDir, 'package.json'), 'utf8'))
  if (manifest.private === true) continue
  for (const entry of entries(packageDir, manifest)) {
    for (const file of [entry.js, entry.dts]) {
      if (!existsSync(file))
        throw new Error(`${path.relative(root, file)} is missing: build first (pnpm exec turbo run build)`)
    }
    plan.push({ folder, name: manifest.name, packageDir, ...entry })
  }
}

const problems = []
let checked = 0
for (const entry of plan) {
  const readmeFile = path.join(entry.packageDir, 'README.md')
  const section = existsSync(readmeFile) ? apiSection(readFileSync(readmeFile, 'utf8')) : undefined
  const specifier = entry.subpath === '.' ? entry.name : `${entry.name}/${entry.subpath.slice(2)}`
  const runtime = Object.keys(await import(pathToFileURL(entry.js).href)).filter(name => name !== 'default')
  const typeOnly = typeExports(entry.dts).filter(name => !runtime.includes(name) && name !== 'default')
  if (section == null) {
    problems.push(
      `${entry.name}: README.md has no "## API" section (${specifier} exports ${runtime.length + typeOnly.length} names)`
    )
    continue
  }
  const missing = [...runtime, ...typeOnly].filter(name => !names(section, name))
  checked += runtime.length + typeOnly.length
  if (missing.length > 0)
    problems.push(
      `${specifier}: not named in packages/${entry.folder}/README.md's API section: ${missing.join(', ')}`
    )
}

if (problems.length > 0) {
  console.error(`README API sections do not match the exports:\n- ${problems.join('\n- ')}`)
  process.exit(1)
}
console.log(`README API sections name all ${checked} exports of ${plan.length} entry points`)
