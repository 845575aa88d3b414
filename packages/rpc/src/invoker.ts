import { type CallOptions, toKuboOptions } from './options.js'
import type { Argument, OptionValue, RequestBody, RpcRequest, RpcResponse, Transport } from './transport.js'

/** How a command method builds its request beyond the caller's options. */
export interface RequestShape {
  args?: readonly Argument[]
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

  /**
   * NDJSON values, requested when the iteration starts. A `shape` function runs then too, so
   * argument checks in it fail through the iterator like every other error.
   */
  ndjson<T>(
    command: string,
    options?: CallOptions,
    shape?: RequestShape | (() => RequestShape)
  ): AsyncGenerator<T> {
    return new LazyStream(async () => (await this.#send(command, options, shape)).ndjson<T>())
  }

  /** Raw bytes, requested when the iteration starts (see `ndjson` for `shape`). */
  bytes(
    command: string,
    options?: CallOptions,
    shape?: RequestShape | (() => RequestShape)
  ): AsyncGenerator<Uint8Array> {
    return new LazyStream(async () => (await this.#send(command, options, shape)).bytes())
  }

  async #send(
    command: string,
    options: CallOptions | undefined,
    shape: RequestShape | (() => RequestShape) | undefined
  ): Promise<RpcResponse> {
    return await this.transport.request(
      this.request(command, options, typeof shape === 'function' ? shape() : shape)
    )
  }
}

/**
 * An async generator that makes its request on the first `next()` and then hands each call
 * straight to the response's own iterator: no generator in between, so no extra hop per chunk
 * on the hot path of a large `cat`.
 */
class LazyStream<T> implements AsyncGenerator<T, undefined> {
  readonly #open: () => Promise<AsyncIterable<T>>
  #iterator: AsyncIterator<T> | undefined
  #done = false

  constructor(open: () => Promise<AsyncIterable<T>>) {
    this.#open = open
  }

  async next(): Promise<IteratorResult<T, undefined>> {
    if (this.#done) return { done: true, value: undefined }
    try {
      this.#iterator ??= (await this.#open())[Symbol.asyncIterator]()
      const result = await this.#iterator.next()
      if (result.done === true) this.#done = true
      return result.done === true ? { done: true, value: undefined } : result
    } catch (error) {
      this.#done = true
      throw error
    }
  }

  async return(): Promise<IteratorResult<T, undefined>> {
    this.#done = true
    await this.#iterator?.return?.()
    return { done: true, value: undefined }
  }

  async throw(error: unknown): Promise<IteratorResult<T, undefined>> {
    this.#done = true
    await this.#iterator?.return?.()
    throw error
  }

  [Symbol.asyncIterator](): this {
    return this
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.return()
  }
}
/** Kubo writes `null` for empty lists; callers get `[]`. */
export function list<T>(value: T[] | null | undefined): T[] {
  return value ?? []
}
