// The bus between nodes on Redis pub/sub (ioredis). It is handed two connections it does not own: one for
// commands (publishing) and a dedicated subscriber, both opened and closed by whoever made them. Redis pub/sub
// forgets what it could not deliver, so after the subscriber reconnects (and ioredis has resubscribed) the
// listeners are told, and the hub fills every room's gap from the database. Publishing never waits for a dead
// connection: the commands connection keeps no offline queue, so it fails at once, the event is already stored,
// and the gap fill delivers it.
import type { Redis } from 'ioredis'
import { PubSubBus } from './pubsub-bus.ts'

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

export class RedisBus extends PubSubBus {
  #pub: Redis
  #sub: Redis
  #wasReady: boolean
  #prefix: string

  constructor(opts: RedisBusOptions) {
    super(opts.onError)
    this.#pub = opts.commands
    this.#sub = opts.subscriber
    this.#prefix = opts.prefix ?? ''
    this.#wasReady = this.#sub.status === 'ready'
    this.#sub.on('message', this.deliver)
    this.#sub.on('ready', this.#onReady)
  }

  #onReady = (): void => {
    if (!this.#wasReady) {
      this.#wasReady = true
      return
    }
    // ioredis has sent the SUBSCRIBEs again; a PING answered after them means they are in force.
    this.#sub
      .ping()
      .then(() => this.reconnected())
      .catch(this.onError)
  }

  /** Both connections are up (readiness probes read it). */
  get ready(): boolean {
    return !this.closed && this.#sub.status === 'ready' && this.#pub.status === 'ready'
  }

  channel(name: string): string {
    return this.#prefix + name
  }

  protected send(channel: string, message: string) {
    return this.#pub.publish(channel, message)
  }

  protected listen(channel: string) {
    return this.#sub.subscribe(channel)
  }

  protected unlisten(channel: string) {
    return this.#sub.unsubscribe(channel)
  }

  protected async release(channels: string[]): Promise<void> {
    this.#sub.off('message', this.deliver)
    this.#sub.off('ready', this.#onReady)
    if (channels.length > 0 && this.#sub.status === 'ready') await this.#sub.unsubscribe(...channels).catch(() => {})
  }
}
