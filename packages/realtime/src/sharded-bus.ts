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
import { PubSubBus } from './pubsub-bus.ts'

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

export class ShardedBus extends PubSubBus {
  #cluster: Cluster
  #partitions: number
  #prefix: string
  #sawFirstReady = false
  #settle: NodeJS.Timeout | undefined

  constructor(opts: ShardedBusOptions) {
    super(opts.onError)
    this.#cluster = opts.cluster
    this.#partitions = opts.partitions
    this.#prefix = opts.prefix ?? ''
    this.#cluster.on('smessage', this.deliver)
    this.#cluster.on('subscribersReady', this.#onSubscribersReady)
  }

  #onSubscribersReady = (): void => {
    // The first is the start, before anything could be missed.
    if (!this.#sawFirstReady) {
      this.#sawFirstReady = true
      return
    }
    this.reconnected()
    clearTimeout(this.#settle)
    this.#settle = setTimeout(() => this.reconnected(), SETTLE_MS)
    this.#settle.unref()
  }

  /**
   * The cluster answers, and every slot's master in the cluster map has a connection that is not lost: false from a
   * master's loss until the map names its promoted replica instead. ioredis opens a master's connection on first
   * use ('wait' until then).
   */
  get ready(): boolean {
    if (this.closed || this.#cluster.status !== 'ready') return false
    const up = new Set<string>()
    for (const node of this.#cluster.nodes('master')) {
      if (node.status === 'ready' || node.status === 'wait') up.add(`${node.options.host}:${node.options.port}`)
    }
    const owners = new Set<string>()
    for (const nodes of this.#cluster.slots) {
      const owner = nodes?.[0]
      if (!owner) return false
      owners.add(owner)
    }
    for (const owner of owners) if (!up.has(owner)) return false
    return owners.size > 0
  }

  channel(name: string): string {
    return shardedChannel(name, this.#partitions, this.#prefix)
  }

  protected send(channel: string, message: string) {
    return this.#cluster.spublish(channel, message)
  }

  protected listen(channel: string) {
    return this.#cluster.ssubscribe(channel)
  }

  protected unlisten(channel: string) {
    return this.#cluster.sunsubscribe(channel)
  }

  protected async release(channels: string[]): Promise<void> {
    clearTimeout(this.#settle)
    this.#cluster.off('smessage', this.deliver)
    this.#cluster.off('subscribersReady', this.#onSubscribersReady)
    // SUNSUBSCRIBE takes the channels of one slot at a time.
    if (this.#cluster.status === 'ready')
      await Promise.allSettled(channels.map((channel) => this.#cluster.sunsubscribe(channel)))
  }
}
