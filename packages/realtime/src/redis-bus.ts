// The bus between nodes on Redis pub/sub (ioredis). It is handed two connections it does not own: one for
// commands (publishing) and a dedicated subscriber, both opened and closed by whoever made them. Redis pub/sub
// forgets what it could not deliver, so after the subscriber reconnects (and ioredis has resubscribed) the
// listeners are told, and the hub fills every room's gap from the database. Publishing never waits for a dead
// connection: the commands connection keeps no offline queue, so it fails at once, the event is already stored,
// and the gap fill delivers it.
import type { Redis } from 'ioredis'
import { Subscriptions, type Bus, type BusHandler } from './bus.ts'

export interface RedisBusOptions {
  /** Publishes; should be opened with `enableOfflineQueue: false`. */
  commands: Redis
  /** Subscribes, and nothing else (a subscribed connection takes no other command). */
  subscriber: Redis
  /** Told about connection trouble (ioredis itself keeps retrying). */
  onError?: (error: unknown) => void
  /** Put before every channel name on Redis (the deployment's namespace); none by default. */
  prefix?: string
}

export class RedisBus implements Bus {
  #pub: Redis
  #sub: Redis
  #subs = new Subscriptions()
  #reconnectListeners = new Set<() => void>()
  #wasReady: boolean
  #closed = false
  #onError: (error: unknown) => void
  /** Handlers are kept under the channel's name on Redis, the prefix included, as messages arrive with it. */
  #prefix: string

  constructor(opts: RedisBusOptions) {
    this.#pub = opts.commands
    this.#sub = opts.subscriber
    this.#prefix = opts.prefix ?? ''
    this.#onError = opts.onError ?? (() => {})
    this.#wasReady = this.#sub.status === 'ready'
    this.#sub.on('message', this.#onMessage)
    this.#sub.on('ready', this.#onReady)
  }

  #onMessage = (channel: string, message: string): void => {
    const handlers = this.#subs.handlers(channel)
    if (handlers) for (const handler of handlers) handler(message)
  }

  #onReady = (): void => {
    if (!this.#wasReady) {
      this.#wasReady = true
      return
    }
    // ioredis has sent the SUBSCRIBEs again; a PING answered after them means they are in force.
    this.#sub
      .ping()
      .then(() => {
        for (const listener of this.#reconnectListeners) listener()
      })
      .catch(this.#onError)
  }

  /** Both connections are up (readiness probes read it). */
  get ready(): boolean {
    return !this.#closed && this.#sub.status === 'ready' && this.#pub.status === 'ready'
  }

  async publish(channel: string, message: string): Promise<void> {
    await this.#pub.publish(this.#prefix + channel, message)
  }

  async subscribe(name: string, handler: BusHandler): Promise<void> {
    const channel = this.#prefix + name
    if (!this.#subs.add(channel, handler)) return
    try {
      await this.#sub.subscribe(channel)
    } catch (error) {
      this.#subs.remove(channel, handler)
      throw error
    }
  }

  async unsubscribe(name: string, handler: BusHandler): Promise<void> {
    const channel = this.#prefix + name
    // A channel left subscribed on a failure only brings messages nobody handles.
    if (this.#subs.remove(channel, handler) && !this.#closed) await this.#sub.unsubscribe(channel).catch(() => {})
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
    this.#sub.off('message', this.#onMessage)
    this.#sub.off('ready', this.#onReady)
    if (channels.length > 0 && this.#sub.status === 'ready') await this.#sub.unsubscribe(...channels).catch(() => {})
  }
}
