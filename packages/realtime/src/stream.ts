// One subscriber's connection. It owns the only per-client memory the hub holds, so everything a
// client can make the server keep (queued frames, frames held back during a replay, the socket's own
// buffer) is counted against one bound, and crossing it ends this stream, never the room.
import { encodeClose, encodeEvent, PING, type Frame } from './frames.ts'
import type { CloseReason, LoadEvents, RealtimeMetrics, RoomEvent, StreamEndReason, StreamSink } from './types.ts'

/**
 * Frames wait for the hub's flush, which under load is put off to batch them; past this many bytes a stream
 * writes at once, so a healthy client never nears its backlog bound because of the wait.
 */
export const FLUSH_AT_BYTES = 16 * 1024

// setTimeout fires at once for delays past 2^31-1 ms; longer waits are re-armed.
const MAX_TIMER_MS = 2 ** 31 - 1

export interface StreamInit {
  readonly roomId: string
  readonly userId: string
  readonly sessionId: string
  readonly sink: StreamSink
  /** The seq the client already has: where a replay starts, or the room's position when live. */
  readonly lastSeq: number
  /** The broadcaster's position when the stream joined: later events reached it live. */
  readonly liveFrom: number
  readonly replaying: boolean
  readonly maxBacklogBytes: number
  readonly metrics: RealtimeMetrics | undefined
  /** Asks the hub to call flush() once this turn of the event loop is over. */
  readonly scheduleFlush: (stream: Stream) => void
  readonly onEnd: (stream: Stream) => void
}

export class Stream {
  readonly roomId: string
  readonly userId: string
  readonly sessionId: string
  /** Settles with the reason once the stream has ended, whoever ended it. */
  readonly ended: Promise<StreamEndReason>

  #init: StreamInit
  #sink: StreamSink
  #lastSeq: number
  #pending: Buffer[] = []
  #pendingBytes = 0
  /** Live frames held back while replaying from the database; null once live. */
  #held: Frame[] | null
  #heldBytes = 0
  #needDrain = false
  #drainWaiter: (() => void) | null = null
  #expiry: NodeJS.Timeout | null = null
  #endReason: StreamEndReason | null = null
  #resolveEnded!: (reason: StreamEndReason) => void

  constructor(init: StreamInit) {
    this.roomId = init.roomId
    this.userId = init.userId
    this.sessionId = init.sessionId
    this.#init = init
    this.#sink = init.sink
    this.#lastSeq = init.lastSeq
    this.#held = init.replaying ? [] : null
    this.ended = new Promise((resolve) => {
      this.#resolveEnded = resolve
    })
    this.#sink.on('close', () => this.#finish('client_closed'))
    this.#sink.on('drain', () => {
      this.#needDrain = false
      this.#wakeDrainWaiter()
    })
    init.metrics?.streamOpened()
  }

  /** The last stored seq written (or being written) to the client. */
  get lastSeq(): number {
    return this.#lastSeq
  }

  get closed(): boolean {
    return this.#endReason !== null
  }

  /** Bytes this stream holds in memory, not counting what the socket itself buffers. */
  get heldBytes(): number {
    return this.#pendingBytes + this.#heldBytes
  }

  /** Called once the hub has registered the stream. */
  start(expiresAt: number | undefined): void {
    if (this.#sink.destroyed) this.#finish('client_closed')
    else if (expiresAt !== undefined) this.#expireAt(expiresAt)
  }

  /** Queues a live frame; returns whether it was queued to the client now. */
  send(frame: Frame): boolean {
    if (this.closed) return false
    if (this.#held) {
      this.#held.push(frame)
      this.#heldBytes += frame.bytes.length
      if (this.#backlog() > this.#init.maxBacklogBytes) this.#closeSlow()
      return false
    }
    return this.#deliver(frame)
  }

  ping(): void {
    if (!this.closed) this.#enqueue(PING)
  }

  /** Writes everything queued in one chunk: one write per stream per turn, however many events. */
  flush(): void {
    if (this.#pendingBytes === 0 || this.closed) return
    const chunk = this.#takePending()
    if (!this.#sink.write(chunk)) this.#needDrain = true
    if (this.#backlog() > this.#init.maxBacklogBytes) this.#closeSlow()
  }

  /** Sends `notice` (if any) and the close frame after what is queued, then ends the response. */
  close(reason: CloseReason, notice?: Buffer): void {
    if (this.closed) return
    if (reason === 'slow_consumer') return this.#closeSlow()
    if (notice) this.#pending.push(notice)
    this.#pending.push(encodeClose(reason))
    const chunk = Buffer.concat(this.#pending)
    this.#finish(reason)
    if (this.#sink.destroyed) return
    this.#sink.write(chunk)
    this.#sink.end()
  }

  /**
   * Replays stored events after lastSeq page by page, then releases the live frames held back
   * meanwhile, skipping those already replayed. The stream joined the live list before the first
   * read, so the held frames start at most one past what the database had: no gap, no duplicate.
   */
  async replay(load: LoadEvents, headSeq: (roomId: string) => Promise<number>, pageSize: number): Promise<void> {
    // A client ahead of this node's broadcaster is either just ahead of the bus or sent a seq the
    // room never reached; the latter would otherwise mute the stream until the room caught up.
    if (this.#lastSeq > this.#init.liveFrom) this.#lastSeq = Math.min(this.#lastSeq, await headSeq(this.roomId))
    let more = true
    while (more && !this.closed) {
      const page = await load(this.roomId, this.#lastSeq, pageSize)
      await this.#replayPage(page)
      more = page.length === pageSize
    }
    if (!this.closed) this.#goLive()
  }

  // Waits for the socket whenever half the bound is on its way out, so a long replay never
  // counts as a slow consumer just because the database is faster than the network.
  async #replayPage(page: RoomEvent[]): Promise<void> {
    let sent = 0
    try {
      for (const event of page) {
        if (this.#pendingBytes + this.#sink.writableLength > this.#init.maxBacklogBytes / 2) await this.#drained()
        if (this.closed) return
        if (this.#deliver(encodeEvent(event))) sent++
      }
    } finally {
      if (sent > 0) this.#init.metrics?.delivered(sent)
    }
  }

  #goLive(): void {
    const held = this.#held ?? []
    this.#held = null
    this.#heldBytes = 0
    let sent = 0
    for (const frame of held) if (this.#deliver(frame)) sent++
    if (sent > 0) this.#init.metrics?.delivered(sent)
  }

  #deliver(frame: Frame): boolean {
    if (this.closed || frame.seq <= this.#lastSeq) return false
    this.#lastSeq = frame.seq
    this.#enqueue(frame.bytes)
    // A member.left already in the log when the stream joined is history, not this stream's end.
    if (frame.leaverId === this.userId && frame.seq > this.#init.liveFrom) this.close('left_room')
    return true
  }

  #enqueue(bytes: Buffer): void {
    this.#pending.push(bytes)
    this.#pendingBytes += bytes.length
    if (this.#backlog() > this.#init.maxBacklogBytes) this.#closeSlow()
    else if (this.#pendingBytes >= FLUSH_AT_BYTES) this.flush()
    else this.#init.scheduleFlush(this)
  }

  #backlog(): number {
    return this.#pendingBytes + this.#heldBytes + this.#sink.writableLength
  }

  #takePending(): Buffer {
    const [first] = this.#pending
    const chunk = this.#pending.length === 1 && first ? first : Buffer.concat(this.#pending, this.#pendingBytes)
    this.#pending = []
    this.#pendingBytes = 0
    return chunk
  }

  /** Lets a replay go on once the socket has taken what was written (or the stream ended). */
  #drained(): Promise<void> {
    this.flush()
    if (!this.#needDrain || this.closed) return Promise.resolve()
    return new Promise((resolve) => {
      this.#drainWaiter = resolve
    })
  }

  #wakeDrainWaiter(): void {
    const waiter = this.#drainWaiter
    this.#drainWaiter = null
    waiter?.()
  }

  /**
   * The close frame goes out only if the socket has nothing waiting; otherwise the connection is
   * destroyed at once, dropping what it buffered.
   */
  #closeSlow(): void {
    if (this.closed) return
    this.#finish('slow_consumer')
    this.#init.metrics?.slowConsumer()
    if (this.#sink.destroyed) return
    if (this.#sink.writableLength > 0) return this.#sink.destroy()
    this.#sink.write(encodeClose('slow_consumer'))
    this.#sink.end()
  }

  #expireAt(at: number): void {
    const delay = at - Date.now()
    if (delay <= 0) return this.close('token_expired')
    this.#expiry = setTimeout(() => this.#expireAt(at), Math.min(delay, MAX_TIMER_MS))
    this.#expiry.unref()
  }

  #finish(reason: StreamEndReason): void {
    if (this.closed) return
    this.#endReason = reason
    if (this.#expiry) clearTimeout(this.#expiry)
    this.#pending = []
    this.#pendingBytes = 0
    this.#held = null
    this.#heldBytes = 0
    this.#wakeDrainWaiter()
    this.#init.onEnd(this)
    this.#init.metrics?.streamClosed(reason)
    this.#resolveEnded(reason)
  }
}
