// The seam between nodes: the hub only needs fire-and-forget pub/sub of strings plus word of a
// reconnect, so Redis (added later) and the in-process MemoryBus are interchangeable behind it.

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

/**
 * Single-process bus. Delivery is asynchronous (one microtask per handler and message), in publish
 * order, like a network bus would be; several hubs sharing one instance behave as several nodes.
 */
export class MemoryBus implements Bus {
  #channels = new Map<string, Set<BusHandler>>()
  #closed = false

  get ready(): boolean {
    return !this.#closed
  }

  async publish(channel: string, message: string): Promise<void> {
    if (this.#closed) throw new Error('bus is closed')
    const handlers = this.#channels.get(channel)
    if (!handlers) return
    for (const handler of handlers) {
      queueMicrotask(() => {
        if (this.#channels.get(channel)?.has(handler)) handler(message)
      })
    }
  }

  async subscribe(channel: string, handler: BusHandler): Promise<void> {
    if (this.#closed) throw new Error('bus is closed')
    let handlers = this.#channels.get(channel)
    if (!handlers) {
      handlers = new Set()
      this.#channels.set(channel, handlers)
    }
    handlers.add(handler)
  }

  async unsubscribe(channel: string, handler: BusHandler): Promise<void> {
    const handlers = this.#channels.get(channel)
    if (!handlers) return
    handlers.delete(handler)
    if (handlers.size === 0) this.#channels.delete(channel)
  }

  /** An in-process bus never loses its connection. */
  onReconnect(): () => void {
    return () => {}
  }

  /** Channels with at least one handler, so tests can check that hubs clean up. */
  get channels(): string[] {
    return [...this.#channels.keys()]
  }

  async close(): Promise<void> {
    this.#closed = true
    this.#channels.clear()
  }
}
