// What the two Redis buses share (one Redis: redis-bus.ts; a Redis Cluster's sharded pub/sub: sharded-bus.ts):
// handlers kept under each channel's name on Redis, the transport told only of a channel's first handler and
// its last, incoming messages handed to the channel's handlers, and the reconnect listeners told, each on its
// own, when messages may have been lost. A subclass says how a name becomes a channel and how to publish,
// subscribe and unsubscribe on its connections, which it borrows and never closes.
import { Subscriptions, type Bus, type BusHandler } from './bus.ts'

export abstract class PubSubBus implements Bus {
  #subs = new Subscriptions()
  #reconnectListeners = new Set<() => void>()
  #closed = false
  protected readonly onError: (error: unknown) => void

  constructor(onError: ((error: unknown) => void) | undefined) {
    this.onError = onError ?? (() => {})
  }

  abstract get ready(): boolean
  /** The channel's name on Redis. */
  abstract channel(name: string): string
  protected abstract send(channel: string, message: string): Promise<unknown>
  protected abstract listen(channel: string): Promise<unknown>
  protected abstract unlisten(channel: string): Promise<unknown>
  /** Stops listening to the connections and unsubscribes the channels left. */
  protected abstract release(channels: string[]): Promise<void>

  protected get closed(): boolean {
    return this.#closed
  }

  /** A message as Redis delivers it, under its channel's name there. */
  protected deliver = (channel: string, message: string): void => {
    const handlers = this.#subs.handlers(channel)
    if (handlers) for (const handler of handlers) handler(message)
  }

  /** Messages may have been lost and the subscriptions are in force again. */
  protected reconnected(): void {
    if (this.#closed) return
    for (const listener of this.#reconnectListeners) {
      try {
        listener()
      } catch (error) {
        this.onError(error)
      }
    }
  }

  async publish(name: string, message: string): Promise<void> {
    await this.send(this.channel(name), message)
  }

  async subscribe(name: string, handler: BusHandler): Promise<void> {
    const channel = this.channel(name)
    if (!this.#subs.add(channel, handler)) return
    try {
      await this.listen(channel)
    } catch (error) {
      this.#subs.remove(channel, handler)
      throw error
    }
  }

  async unsubscribe(name: string, handler: BusHandler): Promise<void> {
    const channel = this.channel(name)
    // A channel left subscribed on a failure only brings messages nobody handles.
    if (this.#subs.remove(channel, handler) && !this.#closed) await this.unlisten(channel).catch(() => {})
  }

  onReconnect(listener: () => void): () => void {
    this.#reconnectListeners.add(listener)
    return () => this.#reconnectListeners.delete(listener)
  }

  /** Unsubscribes what is left and lets go of the connections; closing them is their owner's job. */
  async close(): Promise<void> {
    if (this.#closed) return
    const channels = this.#subs.channels
    this.#closed = true
    this.#subs.clear()
    this.#reconnectListeners.clear()
    await this.release(channels)
  }
}
