// The seam between nodes: the hub only needs fire-and-forget pub/sub of strings plus word of a
// reconnect, so Redis (redis-bus.ts) and the in-process MemoryBus are interchangeable behind it.

export type BusHandler = (message: string) => void

export interface Bus {
  /** True while the bus can deliver (readiness probes read it). */
  readonly ready: boolean
  publish(channel: string, message: string): Promise<void>
  /** Adds one handler; a handler subscribed twice is called once. */
  subscribe(channel: string, handler: BusHandler): Promise<void>
  /** Removes that handler only; the transport drops the channel when no handler is left. */
  unsubscribe(channel: string, handler: BusHandler): Promise<void>
  /**
   * Called after the bus came back from an outage, once it is subscribed again: messages
   * published meanwhile may be lost. Returns a function that removes the listener.
   */
  onReconnect(listener: () => void): () => void
  close(): Promise<void>
}

/** Which handlers each channel has; tells the transport when a channel gains its first or loses its last. */
export class Subscriptions {
  #channels = new Map<string, Set<BusHandler>>()

  /** Adds the handler; true when the channel had none before. */
  add(channel: string, handler: BusHandler): boolean {
    const handlers = this.#channels.get(channel)
    if (handlers) {
      handlers.add(handler)
      return false
    }
    this.#channels.set(channel, new Set([handler]))
    return true
  }

  /** Removes the handler; true when the channel has none left. */
  remove(channel: string, handler: BusHandler): boolean {
    const handlers = this.#channels.get(channel)
    if (!handlers?.delete(handler)) return false
    if (handlers.size > 0) return false
    this.#channels.delete(channel)
    return true
  }

  has(channel: string, handler: BusHandler): boolean {
    return this.#channels.get(channel)?.has(handler) ?? false
  }

  handlers(channel: string): ReadonlySet<BusHandler> | undefined {
    return this.#channels.get(channel)
  }

  get channels(): string[] {
    return [...this.#channels.keys()]
  }

  clear(): void {
    this.#channels.clear()
  }
}

/**
 * Single-process bus. Delivery is asynchronous (one microtask per handler and message), in publish
 * order, like a network bus would be; several hubs sharing one instance behave as several nodes.
 */
export class MemoryBus implements Bus {
  #subs = new Subscriptions()
  #closed = false

  get ready(): boolean {
    return !this.#closed
  }

  async publish(channel: string, message: string): Promise<void> {
    if (this.#closed) throw new Error('bus is closed')
    const handlers = this.#subs.handlers(channel)
    if (!handlers) return
    for (const handler of handlers) {
      queueMicrotask(() => {
        if (this.#subs.has(channel, handler)) handler(message)
      })
    }
  }

  async subscribe(channel: string, handler: BusHandler): Promise<void> {
    if (this.#closed) throw new Error('bus is closed')
    this.#subs.add(channel, handler)
  }

  async unsubscribe(channel: string, handler: BusHandler): Promise<void> {
    this.#subs.remove(channel, handler)
  }

  /** An in-process bus never loses its connection. */
  onReconnect(): () => void {
    return () => {}
  }

  /** Channels with at least one handler, so tests can check that hubs clean up. */
  get channels(): string[] {
    return this.#subs.channels
  }

  async close(): Promise<void> {
    this.#closed = true
    this.#subs.clear()
  }
}
