// The bus between nodes on a Redis Cluster, over sharded pub/sub (SPUBLISH / SSUBSCRIBE, Redis ≥ 7): a message
// goes only to the shard that owns its channel's slot, so the cluster's pub/sub capacity grows with its shards,
// where classic pub/sub sends every message to every shard. Each channel is put into one of `partitions`
// hash-tagged groups (`<prefix>{<n>}:<channel>`, n from the channel's FNV-1a hash), so a node's subscriptions
// touch at most `partitions` slots: ioredis's sharded subscribers hold one connection per master, and after a
// failover resubscribe with one SSUBSCRIBE per partition, whatever the number of rooms.
//
// Like RedisBus, it is handed a connection it does not own (an ioredis Cluster made with `shardedSubscribers`), and
// after a resubscription (a master lost, a replica promoted, slots moved) it tells its listeners so the hub fills
// every room's gap from the database. ioredis sends the SSUBSCRIBEs without waiting for them, so the listeners are
// told when the subscribers are back and once more SETTLE_MS later, when the subscriptions are surely in force:
// an event published in between is either delivered or read by the second fill.
import type { Cluster } from 'ioredis'
import { Subscriptions, type Bus, type BusHandler } from './bus.ts'

export interface ShardedBusOptions {
  /** An ioredis Cluster made with `shardedSubscribers: true`; it publishes and subscribes. */
  cluster: Cluster
  /** How many hash-tagged partitions the channels are spread over (fixed for a deployment's life). */
  partitions: number
  /** Put before every channel name (the deployment's namespace); none by default. */
  prefix?: string
  onError?: (error: unknown) => void
}

const SETTLE_MS = 1_000

/** FNV-1a, 32 bits: a stable, cheap spread of channel names over the partitions. */
function fnv1a(text: string): number {
  let hash = 0x811c9dc5
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i)
    hash = Math.imul(hash, 0x01000193)
  }
  return hash >>> 0
}

/** A channel's name on the cluster: the prefix, its partition's hash tag, the name. */
export function shardedChannel(name: string, partitions: number, prefix = ''): string {
  return `${prefix}{${fnv1a(name) % partitions}}:${name}`
}

export class ShardedBus implements Bus {
  #cluster: Cluster
  #partitions: number
  #prefix: string
  #subs = new Subscriptions()
  #reconnectListeners = new Set<() => void>()
  #sawFirstReady = false
  #settle: NodeJS.Timeout | undefined
  #closed = false
  #onError: (error: unknown) => void

  constructor(opts: ShardedBusOptions) {
    this.#cluster = opts.cluster
    this.#partitions = opts.partitions
    this.#prefix = opts.prefix ?? ''
    this.#onError = opts.onError ?? (() => {})
    this.#cluster.on('smessage', this.#onMessage)
    this.#cluster.on('subscribersReady', this.#onSubscribersReady)
  }

  channel(name: string): string {
    return shardedChannel(name, this.#partitions, this.#prefix)
  }

  #onMessage = (channel: string, message: string): void => {
    const handlers = this.#subs.handlers(channel)
    if (handlers) for (const handler of handlers) handler(message)
  }

  #onSubscribersReady = (): void => {
    // The first is the start, before anything could be missed.
    if (!this.#sawFirstReady) {
      this.#sawFirstReady = true
      return
    }
    this.#tellReconnected()
    clearTimeout(this.#settle)
    this.#settle = setTimeout(() => this.#tellReconnected(), SETTLE_MS)
    this.#settle.unref()
  }

  #tellReconnected(): void {
    if (this.#closed) return
    for (const listener of this.#reconnectListeners) {
      try {
        listener()
      } catch (error) {
        this.#onError(error)
      }
    }
  }

  /**
   * The cluster answers and no connection to a master is lost: false from a master's loss until the cluster map
   * no longer names it (its replica promoted). ioredis opens a master's connection on first use ('wait' until then).
   */
  get ready(): boolean {
    if (this.#closed || this.#cluster.status !== 'ready') return false
    const masters = this.#cluster.nodes('master')
    return masters.length > 0 && masters.every((node) => node.status === 'ready' || node.status === 'wait')
  }

  async publish(name: string, message: string): Promise<void> {
    await this.#cluster.spublish(this.channel(name), message)
  }

  async subscribe(name: string, handler: BusHandler): Promise<void> {
    const channel = this.channel(name)
    if (!this.#subs.add(channel, handler)) return
    try {
      await this.#cluster.ssubscribe(channel)
    } catch (error) {
      this.#subs.remove(channel, handler)
      throw error
    }
  }

  async unsubscribe(name: string, handler: BusHandler): Promise<void> {
    const channel = this.channel(name)
    // A channel left subscribed on a failure only brings messages nobody handles.
    if (this.#subs.remove(channel, handler) && !this.#closed) await this.#cluster.sunsubscribe(channel).catch(() => {})
  }

  onReconnect(listener: () => void): () => void {
    this.#reconnectListeners.add(listener)
    return () => this.#reconnectListeners.delete(listener)
  }

  /** Unsubscribes what is left and lets go of the cluster; closing it is its owner's job. */
  async close(): Promise<void> {
    if (this.#closed) return
    const channels = this.#subs.channels
    this.#closed = true
    clearTimeout(this.#settle)
    this.#subs.clear()
    this.#reconnectListeners.clear()
    this.#cluster.off('smessage', this.#onMessage)
    this.#cluster.off('subscribersReady', this.#onSubscribersReady)
    // SUNSUBSCRIBE takes the channels of one slot at a time.
    if (this.#cluster.status === 'ready')
      await Promise.allSettled(channels.map((channel) => this.#cluster.sunsubscribe(channel)))
  }
}
