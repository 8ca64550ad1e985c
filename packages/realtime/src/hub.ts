// A node's view of the realtime system: it owns every local connection (room streams and user streams) and the
// broadcasters of the rooms they follow, holds a room's bus subscription exactly as long as the room has local
// subscribers, a user's channel as long as the user has local user streams, and carries the per-node timers
// (one heartbeat, one flush per turn, one timer for every token expiry) so no timer scales per connection.
//
// Flushing is where the node spends its time under load: one write per dirty stream. When the last flush
// was costly, the next one waits as long as that flush took, so that writing never takes more than half of
// the node's time and each write carries every frame that arrived meanwhile: under load the cost of a write
// is shared by several events, while a quiet node still flushes at the end of the turn.
import { Broadcaster } from './broadcaster.ts'
import type { Bus, BusHandler } from './bus.ts'
import type { Connection } from './connection.ts'
import type { CursorBase } from './cursor.ts'
import { Deadlines } from './deadlines.ts'
import type { RoomFeed } from './feed.ts'
import type { Codec } from './codec.ts'
import {
  CONTROL_CHANNEL,
  parseControlMessage,
  parseUserMessage,
  userChannel,
  type EndStreamsFilter
} from './protocol.ts'
import { Notice } from './notice.ts'
import { Stream } from './stream.ts'
import type { CloseReason, ErrorHandler, LoadEvents, LoadEventsMany, RealtimeMetrics, StreamSink } from './types.ts'
import { UserStream } from './user-stream.ts'

/** However costly the last flush, the next one is never put off longer than this. */
const MAX_FLUSH_WAIT_MS = 25

export interface HubOptions {
  readonly bus: Bus
  readonly loadEvents: LoadEvents
  /** Replays of user streams: many rooms in one read. */
  readonly loadEventsMany?: LoadEventsMany
  /** Stores a user stream's cursor base. */
  readonly saveBase?: (userId: string, positions: ReadonlyMap<string, number>) => Promise<CursorBase>
  /** The room's current last seq: where a room's broadcaster starts on this node. */
  readonly headSeq: (roomId: string) => Promise<number>
  readonly heartbeatMs?: number
  /** Per stream: queued frames + frames held during a replay + the socket's unsent bytes. */
  readonly maxBacklogBytes?: number
  /** Events per database read (replays and gap fills). */
  readonly pageSize?: number
  /** How long a broadcaster may fail to catch up from the database before its streams are closed. */
  readonly catchUpDeadlineMs?: number
  readonly metrics?: RealtimeMetrics
  readonly onError?: ErrorHandler
  /** Told of every end of streams the bus brings (this node's own included), before the streams close. */
  readonly onEndStreams?: (filter: EndStreamsFilter) => void
}

export interface AttachOptions {
  readonly roomId: string
  readonly userId: string
  readonly sessionId: string
  /** The response, headers already written. */
  readonly res: StreamSink
  /** Replay stored events after this seq first (an integer >= 0, validated by the caller); null: start live. */
  readonly lastEventId: number | null
  /** When the access token expires (ms epoch): the stream closes with `token_expired` then. */
  readonly expiresAt?: number
}

/** Where a user stream starts, as the server read it from the client's cursor and the user's rooms. */
export interface UserPlan {
  /** The base of the client's cursor; null: a fresh start on a new base. */
  readonly base: CursorBase | null
  /** The user's rooms: each replayed after `afterSeq`, or live (null). */
  readonly rooms: ReadonlyArray<{ readonly roomId: string; readonly afterSeq: number | null }>
  /** Rooms of the cursor deleted since, and rooms the user left since. */
  readonly deleted: readonly string[]
  readonly left: readonly string[]
  /** Set when the cursor can no longer be resumed: the stream says `reset` and starts afresh. */
  readonly reset: string | null
}

export interface AttachUserOptions {
  readonly userId: string
  readonly sessionId: string
  readonly res: StreamSink
  /** Read once the user's channel is subscribed, so no join after it can be missed. */
  readonly plan: () => Promise<UserPlan>
  readonly expiresAt?: number
  /** How it writes (default SSE); a codec of messages (wsCodec) makes it a WebSocket connection. */
  readonly codec?: Codec
}

interface UserChannel {
  readonly streams: Set<UserStream>
  /** The highest read marker passed on per room: a marker only moves forward, whatever order the bus keeps. */
  readonly reads: Map<string, number>
  readonly subscribed: Promise<void>
  readonly handler: BusHandler
}

export class Hub {
  #opts: Required<Omit<HubOptions, 'metrics' | 'loadEventsMany' | 'saveBase' | 'onEndStreams'>> &
    Pick<HubOptions, 'metrics' | 'loadEventsMany' | 'saveBase' | 'onEndStreams'>
  #broadcasters = new Map<string, Broadcaster>()
  #streams = new Set<Connection>()
  #users = new Map<string, UserChannel>()
  #dirty = new Set<Connection>()
  /** Cancels the scheduled flush; null when none is scheduled. */
  #flushHandle: (() => void) | null = null
  #flushEnded = 0
  #flushCost = 0
  #heartbeat: NodeJS.Timeout
  readonly #expiries = new Deadlines<Connection>((connection) => connection.close('token_expired'))
  #offReconnect: () => void
  #control: Promise<void>
  #unsubscribing = new Set<Promise<void>>()
  #closing: Promise<void> | null = null

  constructor(opts: HubOptions) {
    this.#opts = {
      ...opts,
      heartbeatMs: opts.heartbeatMs ?? 15_000,
      maxBacklogBytes: opts.maxBacklogBytes ?? 1024 * 1024,
      pageSize: opts.pageSize ?? 100,
      catchUpDeadlineMs: opts.catchUpDeadlineMs ?? 60_000,
      onError: opts.onError ?? (() => {})
    }
    this.#control = opts.bus.subscribe(CONTROL_CHANNEL, this.#onControl)
    this.#control.catch(this.#opts.onError)
    this.#offReconnect = opts.bus.onReconnect(() => {
      for (const broadcaster of this.#broadcasters.values()) broadcaster.resync()
    })
    this.#heartbeat = setInterval(() => this.#tick(), this.#opts.heartbeatMs)
    this.#heartbeat.unref()
  }

  get streamCount(): number {
    return this.#streams.size
  }

  /** Rooms with a broadcaster (and a bus subscription) on this node. */
  get broadcasterCount(): number {
    return this.#broadcasters.size
  }

  /** Bytes the streams hold in memory (sockets' own buffers aside). */
  get bufferedBytes(): number {
    let total = 0
    for (const stream of this.#streams) total += stream.heldBytes
    return total
  }

  /** Counted when asked: the streams stay the one record of who is connected. */
  countForUser(userId: string): number {
    let count = 0
    for (const stream of this.#streams) if (stream.userId === userId) count++
    return count
  }

  /**
   * Hands the response over to the hub. Resolves once the stream is registered (a replay goes on in
   * the background); rejects, having written nothing, if the room cannot be opened or the hub is closed.
   */
  async attach(opts: AttachOptions): Promise<Stream> {
    if (this.#closing) throw new Error('hub is closed')
    await this.#control
    if (this.#closing) throw new Error('hub is closed')
    const broadcaster = this.#broadcasters.get(opts.roomId) ?? this.#openBroadcaster(opts.roomId)
    broadcaster.attaching++
    try {
      await broadcaster.ready
    } finally {
      broadcaster.attaching--
    }
    if (this.#closing || broadcaster.disposed) throw new Error('hub is closed')
    const position = broadcaster.position
    const replaying = opts.lastEventId !== null && opts.lastEventId !== position
    const stream = new Stream({
      kind: 'room',
      // The broadcaster's copy of the id, shared by the room's streams (the request's own is let go).
      roomId: broadcaster.roomId,
      userId: opts.userId,
      sessionId: opts.sessionId,
      sink: opts.res,
      lastSeq: opts.lastEventId ?? position,
      liveFrom: position,
      replaying,
      maxBacklogBytes: this.#opts.maxBacklogBytes,
      metrics: this.#opts.metrics,
      scheduleFlush: this.#scheduleFlush,
      expiries: this.#expiries,
      onEnd: () => this.#detach(stream, broadcaster)
    })
    this.#streams.add(stream)
    broadcaster.subscribers.add(stream.feed)
    stream.start(opts.expiresAt)
    if (replaying && !stream.closed) {
      stream.replay(this.#opts.loadEvents, this.#opts.headSeq, this.#opts.pageSize).catch((error: unknown) => {
        this.#opts.onError(error)
        stream.close('catch_up_failed')
      })
    }
    return stream
  }

  /**
   * Hands a user stream's response over to the hub: it subscribes the user's channel, reads the plan, follows
   * every room of it (replays in the background, many rooms per read), and says `ready` once all are live.
   * Resolves once the stream follows its rooms; rejects, having written nothing, if the hub is closed.
   */
  async attachUser(opts: AttachUserOptions): Promise<UserStream> {
    const { loadEventsMany, saveBase } = this.#opts
    if (!loadEventsMany || !saveBase) throw new Error('user streams need loadEventsMany and saveBase')
    if (this.#closing) throw new Error('hub is closed')
    await this.#control
    if (this.#closing) throw new Error('hub is closed')
    const stream = new UserStream({
      kind: opts.codec?.messages ? 'ws' : 'user',
      ...(opts.codec ? { codec: opts.codec } : {}),
      userId: opts.userId,
      sessionId: opts.sessionId,
      sink: opts.res,
      maxBacklogBytes: this.#opts.maxBacklogBytes,
      metrics: this.#opts.metrics,
      scheduleFlush: this.#scheduleFlush,
      expiries: this.#expiries,
      onEnd: this.#userEnded,
      saveBase,
      unfollow: this.#unfollowFeed,
      onError: this.#opts.onError
    })
    this.#streams.add(stream)
    const channel = this.#userChannel(opts.userId)
    channel.streams.add(stream)
    try {
      await channel.subscribed
      stream.start(opts.expiresAt)
      const plan = await opts.plan()
      if (!stream.closed) await this.#startUser(stream, plan, loadEventsMany)
    } catch (error) {
      stream.close('catch_up_failed')
      throw error
    }
    return stream
  }

  /** Ends the matching local streams with a `close` frame; returns how many. */
  endStreams(filter: EndStreamsFilter, reason: CloseReason): number {
    const sessionIds = new Set(filter.sessionIds)
    let ended = 0
    for (const stream of this.#streams) {
      const bySession = sessionIds.has(stream.sessionId)
      const byUser = stream.userId === filter.userId && stream.sessionId !== filter.exceptSessionId
      if (bySession || byUser) {
        stream.close(reason)
        ended++
      }
    }
    return ended
  }

  /** Closes every stream with `reason`, drops every broadcaster and releases timers and subscriptions. */
  close(reason: CloseReason = 'shutdown'): Promise<void> {
    this.#closing ??= this.#shutdown(reason)
    return this.#closing
  }

  async #shutdown(reason: CloseReason): Promise<void> {
    clearInterval(this.#heartbeat)
    this.#offReconnect()
    for (const stream of this.#streams) stream.close(reason)
    this.#expiries.clear()
    for (const broadcaster of this.#broadcasters.values()) this.#dropBroadcaster(broadcaster)
    this.#cancelFlush()
    this.#dirty.clear()
    const control = this.#control.then(
      () => this.#opts.bus.unsubscribe(CONTROL_CHANNEL, this.#onControl),
      () => undefined
    )
    await Promise.all([control, ...this.#unsubscribing])
  }

  #openBroadcaster(roomId: string): Broadcaster {
    const broadcaster = new Broadcaster({
      roomId,
      bus: this.#opts.bus,
      loadEvents: this.#opts.loadEvents,
      headSeq: this.#opts.headSeq,
      pageSize: this.#opts.pageSize,
      catchUpDeadlineMs: this.#opts.catchUpDeadlineMs,
      metrics: this.#opts.metrics,
      onError: this.#opts.onError
    })
    this.#broadcasters.set(roomId, broadcaster)
    broadcaster.ready.catch(() => this.#dropBroadcaster(broadcaster))
    return broadcaster
  }

  #dropBroadcaster(broadcaster: Broadcaster): void {
    if (broadcaster.disposed) return
    if (this.#broadcasters.get(broadcaster.roomId) === broadcaster) this.#broadcasters.delete(broadcaster.roomId)
    const done = broadcaster.dispose().catch(this.#opts.onError)
    this.#unsubscribing.add(done)
    void done.finally(() => this.#unsubscribing.delete(done))
  }

  #detach(stream: Stream, broadcaster: Broadcaster): void {
    this.#streams.delete(stream)
    this.#dirty.delete(stream)
    this.#leave(broadcaster, stream.feed)
  }

  #leave(broadcaster: Broadcaster, feed: RoomFeed): void {
    broadcaster.subscribers.delete(feed)
    if (broadcaster.subscribers.size === 0 && broadcaster.attaching === 0) this.#dropBroadcaster(broadcaster)
  }

  async #startUser(stream: UserStream, plan: UserPlan, load: LoadEventsMany): Promise<void> {
    if (plan.reset) stream.reset(plan.reset)
    for (const roomId of plan.deleted) stream.roomGone(roomId, 'deleted')
    for (const roomId of plan.left) stream.roomGone(roomId, 'left')
    const feeds = await Promise.all(plan.rooms.map(({ roomId, afterSeq }) => this.#follow(stream, roomId, afterSeq)))
    const followed = feeds.filter((feed) => feed !== null)
    await stream.begin(plan.base)
    void this.#replayUser(stream, followed, load)
  }

  async #replayUser(stream: UserStream, feeds: readonly RoomFeed[], load: LoadEventsMany): Promise<void> {
    try {
      await stream.replay(feeds, load, this.#opts.pageSize)
      stream.ready()
    } catch (error) {
      this.#opts.onError(error)
      stream.close('catch_up_failed')
    }
  }

  /** A feed of the room on the stream, on the room's broadcaster; null when the stream or hub ended meanwhile. */
  async #follow(stream: UserStream, roomId: string, afterSeq: number | null): Promise<RoomFeed | null> {
    const broadcaster = this.#broadcasters.get(roomId) ?? this.#openBroadcaster(roomId)
    broadcaster.attaching++
    try {
      await broadcaster.ready
    } finally {
      broadcaster.attaching--
    }
    if (this.#closing || broadcaster.disposed || stream.closed || stream.follows(roomId)) {
      if (broadcaster.subscribers.size === 0 && broadcaster.attaching === 0) this.#dropBroadcaster(broadcaster)
      return null
    }
    const position = broadcaster.position
    const lastSeq = afterSeq ?? position
    // The broadcaster's copy of the room's id: every feed of the room, and every cursor base made of them,
    // shares one string instead of holding its own.
    const feed = stream.addFeed(broadcaster.roomId, { lastSeq, liveFrom: position, replaying: lastSeq !== position })
    broadcaster.subscribers.add(feed)
    return feed
  }

  // One function per hub, not a closure per connection.
  #userEnded = (stream: Connection): void => this.#detachUser(stream as UserStream)
  #unfollowFeed = (_stream: UserStream, feed: RoomFeed): void => this.#unfollow(feed)

  #unfollow(feed: RoomFeed): void {
    const broadcaster = this.#broadcasters.get(feed.roomId)
    if (broadcaster) this.#leave(broadcaster, feed)
  }

  #detachUser(stream: UserStream): void {
    this.#streams.delete(stream)
    this.#dirty.delete(stream)
    for (const feed of stream.feeds) this.#unfollow(feed)
    const channel = this.#users.get(stream.userId)
    if (!channel) return
    channel.streams.delete(stream)
    if (channel.streams.size > 0) return
    this.#users.delete(stream.userId)
    const done = channel.subscribed
      .then(() => this.#opts.bus.unsubscribe(userChannel(stream.userId), channel.handler))
      .catch(this.#opts.onError)
    this.#unsubscribing.add(done)
    void done.finally(() => this.#unsubscribing.delete(done))
  }

  #userChannel(userId: string): UserChannel {
    const existing = this.#users.get(userId)
    if (existing) return existing
    const handler: BusHandler = (raw) => this.#onUser(userId, raw)
    const channel: UserChannel = {
      streams: new Set(),
      reads: new Map(),
      handler,
      subscribed: this.#opts.bus.subscribe(userChannel(userId), handler)
    }
    this.#users.set(userId, channel)
    return channel
  }

  /**
   * A room the user joined or created on any node: every local user stream of theirs follows it from there. A
   * read marker that moved: every local user stream of theirs is told.
   */
  #onUser(userId: string, raw: string): void {
    let msg
    try {
      msg = parseUserMessage(raw)
    } catch (error) {
      this.#opts.onError(error)
      return
    }
    const channel = this.#users.get(userId)
    if (msg.k === 'read') {
      if (!channel || (channel.reads.get(msg.roomId) ?? -1) >= msg.seq) return
      channel.reads.set(msg.roomId, msg.seq)
      const notice = new Notice('read', { roomId: msg.roomId, seq: msg.seq }, null)
      for (const stream of channel.streams) stream.notify(notice)
      return
    }
    const load = this.#opts.loadEventsMany
    for (const stream of channel?.streams ?? []) {
      if (stream.closed || stream.follows(msg.roomId) || !load) continue
      void this.#follow(stream, msg.roomId, Math.max(0, msg.seq - 1)).then(
        (feed) => (feed ? stream.replay([feed], load, this.#opts.pageSize) : undefined),
        (error: unknown) => {
          this.#opts.onError(error)
          stream.close('catch_up_failed')
        }
      )
    }
  }

  #onControl = (raw: string): void => {
    try {
      const msg = parseControlMessage(raw)
      this.#opts.onEndStreams?.(msg)
      this.endStreams(msg, msg.reason)
    } catch (error) {
      this.#opts.onError(error)
    }
  }

  #scheduleFlush = (stream: Connection): void => {
    this.#dirty.add(stream)
    if (this.#flushHandle) return
    const wait = Math.min(this.#flushEnded + this.#flushCost - performance.now(), MAX_FLUSH_WAIT_MS)
    if (wait >= 1) {
      const timer = setTimeout(this.#flushAll, wait)
      this.#flushHandle = () => clearTimeout(timer)
    } else {
      const immediate = setImmediate(this.#flushAll)
      this.#flushHandle = () => clearImmediate(immediate)
    }
  }

  #flushAll = (): void => {
    this.#flushHandle = null
    const dirty = this.#dirty
    this.#dirty = new Set()
    const started = performance.now()
    for (const stream of dirty) {
      // One connection's failure must not leave the others unflushed (each is asked to flush only once).
      try {
        stream.flush()
      } catch (error) {
        this.#opts.onError(error)
      }
    }
    // Node's HTTP responses hand their bytes to the socket in a process.nextTick queued by each write;
    // this tick runs after those, so the cost includes the system calls.
    process.nextTick(() => {
      this.#flushEnded = performance.now()
      this.#flushCost = this.#flushEnded - started
    })
  }

  #cancelFlush(): void {
    this.#flushHandle?.()
    this.#flushHandle = null
  }

  #tick(): void {
    for (const stream of this.#streams) stream.ping()
    for (const broadcaster of this.#broadcasters.values()) broadcaster.tick()
  }
}
