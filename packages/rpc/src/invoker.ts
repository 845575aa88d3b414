import { type CallOptions, toKuboOptions } from './options.js'
import type { OptionValue, RequestBody, RpcRequest, Transport } from './transport.js'

/** How a command method builds its request beyond the caller's options. */
export interface RequestShape {
  args?: readonly string[]
  body?: RequestBody
  /** Option names that do not map by the camelCase → kebab-case rule. */
  rename?: Record<string, string>
  /** Names in the caller's options that are ours, not Kubo's (e.g. `onProgress`). */
  omit?: readonly string[]
  /** Kubo options added to (and winning over) the caller's. */
  options?: Record<string, OptionValue>
  longLived?: boolean
}

/** What every command module builds on: one request per call, read in the command's output shape. */
export class Invoker {
  readonly transport: Transport

  constructor(transport: Transport) {
    this.transport = transport
  }

  request(command: string, options: CallOptions = {}, shape: RequestShape = {}): RpcRequest {
    let kuboOptions: object = options
    if (shape.omit != null && shape.omit.length > 0) {
      kuboOptions = Object.fromEntries(
        Object.entries(options).filter(([name]) => !shape.omit?.includes(name))
      )
    }
    return {
      command,
      args: shape.args,
      options: { ...toKuboOptions(kuboOptions, shape.rename), ...shape.options },
      body: shape.body,
      signal: options.signal,
      timeout: options.timeout,
      longLived: shape.longLived
    }
  }

  async json<T>(command: string, options?: CallOptions, shape?: RequestShape): Promise<T> {
    const response = await this.transport.request(this.request(command, options, shape))
    return await response.json<T>()
  }

  async text(command: string, options?: CallOptions, shape?: RequestShape): Promise<string> {
    const response = await this.transport.request(this.request(command, options, shape))
    return await response.text()
  }

  async none(command: string, options?: CallOptions, shape?: RequestShape): Promise<void> {
    const response = await this.transport.request(this.request(command, options, shape))
    await response.drain()
  }

  async *ndjson<T>(command: string, options?: CallOptions, shape?: RequestShape): AsyncGenerator<T> {
    const response = await this.transport.request(this.request(command, options, shape))
    yield* response.ndjson<T>()
  }

  async *bytes(command: string, options?: CallOptions, shape?: RequestShape): AsyncGenerator<Uint8Array> {
    const response = await this.transport.request(this.request(command, options, shape))
    yield* response.bytes()
  }
}

/** Kubo writes `null` for empty lists; callers get `[]`. */
export function list<T>(value: T[] | null | undefined): T[] {
  return value ?? []
}
