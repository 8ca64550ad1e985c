// A node's view of the realtime system: it owns every local stream and the broadcasters of the rooms
// they watch, holds a room's bus subscription exactly as long as the room has local streams, and
// carries the per-node timers (one heartbeat, one flush per turn) so nothing scales per stream.
//
// Flushing is where the node spends its time under load: one write per dirty stream. When the last flush
// was costly, the next one waits as long as that flush took, so that writing never takes more than half of
// the node's time and each write carries every frame that arrived meanwhile: under load the cost of a write
// is shared by several events, while a quiet node still flushes at the end of the turn.
import { Broadcaster } from './broadcaster.ts'
import type { Bus } from './bus.ts'
import { CONTROL_CHANNEL, parseControlMessage, type EndStreamsFilter } from './protocol.ts'
import { Stream } from './stream.ts'
import type { CloseReason, ErrorHandler, LoadEvents, RealtimeMetrics, StreamSink } from './types.ts'

/** However costly the last flush, the next one is never put off longer than this. */
const MAX_FLUSH_WAIT_MS = 25

export interface HubOptions {
  readonly bus: Bus
  readonly loadEvents: LoadEvents
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

export class Hub {
  #opts: Required<Omit<HubOptions, 'metrics'>> & Pick<HubOptions, 'metrics'>
  #broadcasters = new Map<string, Broadcaster>()
  #streams = new Set<Stream>()
  #dirty = new Set<Stream>()
  /** Cancels the scheduled flush; null when none is scheduled. */
  #flushHandle: (() => void) | null = null
  #flushEnded = 0
  #flushCost = 0
  #heartbeat: NodeJS.Timeout
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
      roomId: opts.roomId,
      userId: opts.userId,
      sessionId: opts.sessionId,
      sink: opts.res,
      lastSeq: opts.lastEventId ?? position,
      liveFrom: position,
      replaying,
      maxBacklogBytes: this.#opts.maxBacklogBytes,
      metrics: this.#opts.metrics,
      scheduleFlush: this.#scheduleFlush,
      onEnd: (ended) => this.#detach(ended, broadcaster)
    })
    this.#streams.add(stream)
    broadcaster.streams.add(stream)
    stream.start(opts.expiresAt)
    if (replaying && !stream.closed) {
      stream.replay(this.#opts.loadEvents, this.#opts.headSeq, this.#opts.pageSize).catch((error: unknown) => {
        this.#opts.onError(error)
        stream.close('catch_up_failed')
      })
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
    broadcaster.streams.delete(stream)
    if (broadcaster.streams.size === 0 && broadcaster.attaching === 0) this.#dropBroadcaster(broadcaster)
  }

  #onControl = (raw: string): void => {
    try {
      const msg = parseControlMessage(raw)
      this.endStreams(msg, msg.reason)
    } catch (error) {
      this.#opts.onError(error)
    }
  }

  #scheduleFlush = (stream: Stream): void => {
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
    for (const stream of dirty) stream.flush()
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
