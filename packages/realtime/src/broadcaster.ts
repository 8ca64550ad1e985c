// One room on this node. The bus is only the fast path and may drop or reorder messages; the
// broadcaster turns it into the room's log order by tracking the last seq it delivered and reading
// whatever it missed from the database, so every local stream sees each event once, in order.
import type { Bus } from './bus.ts'
import { encodeEvent, type Frame } from './frames.ts'
import { parseRoomMessage, roomChannel, type RoomMessage, type RoomNoticeMessage } from './protocol.ts'
import { Notice } from './notice.ts'
import type { Subscriber } from './feed.ts'
import type { ErrorHandler, LoadEvents, RealtimeMetrics } from './types.ts'

// Past this many queued messages a slow database no longer costs memory: later events are
// only remembered by seq and read back from the database.
const MAX_QUEUED = 10_000

export interface BroadcasterOptions {
  readonly roomId: string
  readonly bus: Bus
  readonly loadEvents: LoadEvents
  readonly headSeq: (roomId: string) => Promise<number>
  readonly pageSize: number
  readonly catchUpDeadlineMs: number
  readonly metrics: RealtimeMetrics | undefined
  readonly onError: ErrorHandler
}

export class Broadcaster {
  readonly roomId: string
  /** The local connections' feeds of this room. */
  readonly subscribers = new Set<Subscriber>()
  /** Attaches waiting for `ready`; the room is not dropped while some are. */
  attaching = 0
  /** Settles once the channel is subscribed and the position read from the database. */
  readonly ready: Promise<void>

  #opts: BroadcasterOptions
  #channel: string
  #subscribed: Promise<void>
  #position = 0
  #positioned = false
  /** Highest seq heard of on the bus; above #position means events are still owed. */
  #known = 0
  #queue: RoomMessage[] = []
  #resyncWanted = false
  #draining = false
  #disposed = false
  /** Since when a database read owed to the streams is pending or failing; null when none is. */
  #owingSince: number | null = null

  constructor(opts: BroadcasterOptions) {
    this.roomId = opts.roomId
    this.#opts = opts
    this.#channel = roomChannel(opts.roomId)
    this.#subscribed = opts.bus.subscribe(this.#channel, this.#onMessage)
    this.ready = this.#start()
  }

  /** The last seq delivered to the room's streams. */
  get position(): number {
    return this.#position
  }

  get disposed(): boolean {
    return this.#disposed
  }

  /** After a bus outage: deliver whatever the database has past the position. */
  resync(): void {
    this.#resyncWanted = true
    void this.#drain()
  }

  /**
   * Heartbeat: retries a failed catch-up; past the deadline (failing or hung reads) it gives up on
   * the room's streams, whose clients resume from the database once it answers again.
   */
  tick(): void {
    if (this.#owingSince === null) return
    if (Date.now() - this.#owingSince < this.#opts.catchUpDeadlineMs) return void this.#drain()
    for (const subscriber of this.subscribers) subscriber.catchUpFailed()
  }

  /** Stops delivering and unsubscribes (once the subscription, if it succeeded, is in place). */
  dispose(): Promise<void> {
    this.#disposed = true
    this.#queue = []
    return this.#subscribed.then(
      () => this.#opts.bus.unsubscribe(this.#channel, this.#onMessage),
      () => undefined
    )
  }

  // Subscribing before reading the head means nothing committed after the read can be missed:
  // it arrives on the bus, or a later seq reveals the gap. Older events are replays' business.
  async #start(): Promise<void> {
    await this.#subscribed
    const head = await this.#opts.headSeq(this.roomId)
    this.#position = head
    this.#known = Math.max(this.#known, head)
    this.#positioned = true
    void this.#drain()
  }

  #onMessage = (raw: string): void => {
    let msg: RoomMessage
    try {
      msg = parseRoomMessage(raw, this.roomId)
    } catch (error) {
      this.#opts.onError(error)
      return
    }
    // Notices are not part of the log: they go out at once, never behind a gap fill, and are never read back.
    if (msg.k === 'typing' || msg.k === 'presence') return this.#notify(msg)
    if (msg.k === 'event') {
      if (this.#positioned && msg.e.seq <= this.#position) return
      this.#known = Math.max(this.#known, msg.e.seq)
      if (this.#queue.length >= MAX_QUEUED) return
    }
    this.#queue.push(msg)
    void this.#drain()
  }

  // The single consumer of the queue: events are handled strictly one after the other, and a
  // failure leaves the debt in #known / #resyncWanted for the next message or tick to retry.
  async #drain(): Promise<void> {
    if (this.#draining || !this.#positioned || this.#disposed) return
    this.#draining = true
    try {
      for (;;) {
        if (this.#disposed) return
        if (this.#resyncWanted) {
          this.#resyncWanted = false
          try {
            await this.#fill(Infinity)
          } catch (error) {
            this.#resyncWanted = true
            throw error
          }
          continue
        }
        const msg = this.#queue.shift()
        if (msg) {
          await this.#handle(msg)
        } else if (this.#known > this.#position) {
          await this.#fill(this.#known)
        } else {
          return
        }
      }
    } catch (error) {
      this.#opts.onError(error)
    } finally {
      this.#draining = false
    }
  }

  #notify(msg: RoomNoticeMessage): void {
    if (this.#disposed || this.subscribers.size === 0) return
    const notice =
      msg.k === 'typing'
        ? new Notice('typing', { roomId: msg.roomId, user: msg.user, typing: msg.typing }, msg.user.id)
        : new Notice('presence', { roomId: msg.roomId, userId: msg.userId, online: msg.online }, msg.userId)
    for (const subscriber of this.subscribers) subscriber.notify(notice)
  }

  async #handle(msg: RoomMessage): Promise<void> {
    if (msg.k === 'typing' || msg.k === 'presence') return
    if (msg.k === 'room.deleted') {
      for (const subscriber of this.subscribers) subscriber.roomDeleted()
      return
    }
    const { e: event, t: publishedAt } = msg
    if (event.seq > this.#position + 1) await this.#fill(event.seq - 1)
    if (event.seq === this.#position + 1 && !this.#disposed) {
      this.#deliver(encodeEvent(event))
      this.#opts.metrics?.deliveryLatency(Date.now() - publishedAt)
    }
  }

  /** Reads and delivers stored events past the position up to `target` (Infinity: all there are). */
  async #fill(target: number): Promise<void> {
    this.#owingSince ??= Date.now()
    let more = true
    while (more && this.#position < target) {
      const limit = Math.min(this.#opts.pageSize, target - this.#position)
      const page = await this.#opts.loadEvents(this.roomId, this.#position, limit)
      if (this.#disposed) return
      let filled = 0
      for (const event of page) {
        if (event.seq <= this.#position) continue
        this.#deliver(encodeEvent(event))
        filled++
      }
      if (filled > 0) this.#opts.metrics?.gapFilled(filled)
      more = page.length === limit
    }
    if (this.#position < target && target !== Infinity) {
      throw new Error(`room ${this.roomId}: events up to seq ${target} are not in the store yet`)
    }
    this.#owingSince = null
  }

  #deliver(frame: Frame): void {
    this.#position = frame.seq
    let sent = 0
    for (const subscriber of this.subscribers) if (subscriber.send(frame)) sent++
    if (sent > 0) this.#opts.metrics?.delivered(sent)
  }
}
