import path from 'node:path'
import { parseArgs } from 'node:util'
import { findKuboBinary } from './kubo-binary.js'
import { pinnedKubo } from './kubo-build.js'

const HELP = `Usage: tk-kubo [--json] [--quiet] [--module <dir>]

Prints the path of a Kubo binary, finding or building it first:
  1. KUBO_BINARY  2. ipfs on PATH (supported version)  3. the user cache dir
  4. building the pinned Kubo with Go into that cache (first time: a few minutes)

Options:
  --json          print {"path","version","source","pinned"} instead of the path
  --quiet         no build progress on stderr
  --module <dir>  the Kubo pinned by another Go module folder shaped like @tk/testkit's kubo/
                  (e.g. the repo's packages/testkit/kubo-oldest): from the cache, or built into
                  it; KUBO_BINARY and PATH are not consulted
  --help          this text

Environment: KUBO_BINARY, TK_CACHE_DIR (cache folder; default the user cache dir)`

export async function main(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      json: { type: 'boolean', default: false },
      quiet: { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
      module: { type: 'string' }
    }
  })
  if (values.help) {
    console.log(HELP)
    return 0
  }
  const controller = new AbortController()
  process.once('SIGINT', () => controller.abort(new Error('interrupted')))
  const moduleDir = values.module == null ? undefined : path.resolve(values.module)
  const binary = await findKuboBinary({
    signal: controller.signal,
    ...(moduleDir == null ? {} : { moduleDir }),
    ...(values.quiet ? { onProgress: () => {} } : {})
  })
  console.log(
    values.json ? JSON.stringify({ ...binary, pinned: pinnedKubo(moduleDir).version }) : binary.path
  )
  return 0
}
