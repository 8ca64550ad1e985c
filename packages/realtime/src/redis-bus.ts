// The bus between nodes on Redis pub/sub (ioredis): one connection publishes, a dedicated one subscribes.
// Redis pub/sub forgets what it could not deliver, so after the subscriber reconnects (and ioredis has
// resubscribed) the listeners are told, and the hub fills every room's gap from the database. Publishing
// never waits for a dead connection: it fails at once, the event is already stored, and the gap fill
// delivers it.
import { Redis, type RedisOptions } from 'ioredis'
import { Subscriptions, type Bus, type BusHandler } from './bus.ts'

export interface RedisBusOptions {
  url: string
  /** Extra ioredis options for both connections. */
  redis?: RedisOptions
  /** Told about connection trouble (the bus itself keeps retrying). */
  onError?: (error: unknown) => void
}

export class RedisBus implements Bus {
  #pub: Redis
  #sub: Redis
  #subs = new Subscriptions()
  #reconnectListeners = new Set<() => void>()
  #wasReady = false
  #closed = false

  constructor(opts: RedisBusOptions) {
    const common: RedisOptions = {
      maxRetriesPerRequest: 1,
      retryStrategy: (times) => Math.min(100 * times, 2000),
      ...opts.redis
    }
    this.#pub = new Redis(opts.url, { ...common, enableOfflineQueue: false, connectionName: 'chat-pub' })
    this.#sub = new Redis(opts.url, { ...common, autoResubscribe: true, connectionName: 'chat-sub' })
    const onError = opts.onError ?? (() => {})
    this.#pub.on('error', onError)
    this.#sub.on('error', onError)
    this.#sub.on('message', (channel: string, message: string) => {
      const handlers = this.#subs.handlers(channel)
      if (handlers) for (const handler of handlers) handler(message)
    })
    this.#sub.on('ready', () => {
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
        .catch(onError)
    })
  }

  /** Both connections are up (readiness probes read it). */
  get ready(): boolean {
    return !this.#closed && this.#sub.status === 'ready' && this.#pub.status === 'ready'
  }

  async publish(channel: string, message: string): Promise<void> {
    await this.#pub.publish(channel, message)
  }

  /** The publishing connection, for other short commands (rate-limit counters); it never queues offline. */
  get commands(): Redis {
    return this.#pub
  }

  async subscribe(channel: string, handler: BusHandler): Promise<void> {
    if (!this.#subs.add(channel, handler)) return
    try {
      await this.#sub.subscribe(channel)
    } catch (error) {
      this.#subs.remove(channel, handler)
      throw error
    }
  }

  async unsubscribe(channel: string, handler: BusHandler): Promise<void> {
    // A channel left subscribed on a failure only brings messages nobody handles.
    if (this.#subs.remove(channel, handler) && !this.#closed) await this.#sub.unsubscribe(channel).catch(() => {})
  }

  onReconnect(listener: () => void): () => void {
    this.#reconnectListeners.add(listener)
    return () => this.#reconnectListeners.delete(listener)
  }

  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    this.#subs.clear()
    this.#reconnectListeners.clear()
    await Promise.allSettled([this.#pub.quit(), this.#sub.quit()])
  }
}
