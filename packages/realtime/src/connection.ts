// What every kind of connection shares: the socket, the queue of bytes waiting for the hub's flush, the one
// bound on what a client can make the server keep (queued bytes, frames held back during a replay, the
// socket's own buffer), keep-alive pings, the token's expiry and the `close` frame. Crossing the bound ends
// this connection, never a room. A room stream (stream.ts) and a user stream (user-stream.ts) add what they
// follow.
import { sseCodec, type Codec } from './codec.ts'
import type { Deadline, Deadlines } from './deadlines.ts'
import type { Notice } from './notice.ts'
import { lengthOf, pack, type Outgoing } from './outgoing.ts'
import type { CloseReason, ConnectionKind, RealtimeMetrics, StreamEndReason, StreamSink } from './types.ts'

/**
 * Frames wait for the hub's flush, which under load is put off to batch them; past this many bytes a connection
 * writes at once, so a healthy client never nears its backlog bound because of the wait.
 */
export const FLUSH_AT_BYTES = 16 * 1024

export interface ConnectionInit {
  readonly kind: ConnectionKind
  /** How it writes its notices, close and keep-alive (default: SSE). */
  readonly codec?: Codec
  readonly userId: string
  readonly sessionId: string
  readonly sink: StreamSink
  readonly maxBacklogBytes: number
  readonly metrics: RealtimeMetrics | undefined
  /** Asks the hub to call flush() once this turn of the event loop is over. */
  readonly scheduleFlush: (connection: Connection) => void
  /** The hub's token expiries: a due connection is closed with `token_expired`. */
  readonly expiries: Deadlines<Connection>
  readonly onEnd: (connection: Connection) => void
}

export abstract class Connection {
  readonly kind: ConnectionKind
  readonly userId: string
  readonly sessionId: string
  protected readonly codec: Codec

  readonly #init: ConnectionInit
  readonly #sink: StreamSink
  #pending: Outgoing[] = []
  #pendingBytes = 0
  #needDrain = false
  /** The socket's unsent bytes when last looked at: they only shrink until this connection writes again. */
  #socketBytes = 0
  /** Set while the hub has this connection among those to flush: a delivery asks it only once. */
  #flushScheduled = false
  #drainWaiter: (() => void) | null = null
  #expiry: Deadline<Connection> | null = null
  #endReason: StreamEndReason | null = null
  /** Told the reason once the connection ends: plain callbacks, so no promise machinery waits per connection. */
  #endListeners: Array<(reason: StreamEndReason) => void> | null = null
  #ended: Promise<StreamEndReason> | null = null

  constructor(init: ConnectionInit) {
    this.kind = init.kind
    this.codec = init.codec ?? sseCodec
    this.userId = init.userId
    this.sessionId = init.sessionId
    this.#init = init
    this.#sink = init.sink
    this.#sink.on('close', () => this.#finish('client_closed'))
    this.#sink.on('drain', () => {
      this.#needDrain = false
      this.#wakeDrainWaiter()
    })
    init.metrics?.streamOpened(init.kind)
  }

  get closed(): boolean {
    return this.#endReason !== null
  }

  /** Settles with the reason once the connection has ended, whoever ended it (made when first asked for). */
  get ended(): Promise<StreamEndReason> {
    return (this.#ended ??= new Promise((resolve) => this.whenEnded(resolve)))
  }

  /** Calls `listener` with the reason when the connection ends (at once if it has). */
  whenEnded(listener: (reason: StreamEndReason) => void): void {
    if (this.#endReason !== null) listener(this.#endReason)
    else (this.#endListeners ??= []).push(listener)
  }

  /** Bytes this connection holds in memory, not counting what the socket itself buffers. */
  get heldBytes(): number {
    return this.#pendingBytes + this.heldBack()
  }

  /** Called once the hub has registered the connection. */
  start(expiresAt: number | undefined): void {
    if (this.#sink.destroyed) this.#finish('client_closed')
    else if (expiresAt !== undefined && expiresAt <= Date.now()) this.close('token_expired')
    else if (expiresAt !== undefined) this.#expiry = this.#init.expiries.add(this, expiresAt)
  }

  ping(): void {
    if (this.closed) return
    if (this.codec.ping) this.enqueue(this.codec.ping)
    else this.#sink.heartbeat?.()
  }

  /** An unstored notice (typing, presence, read), queued in order with the rest. */
  notify(notice: Notice): void {
    if (!this.closed) this.enqueue(this.codec.notice(notice))
  }

  /** Writes everything queued: one write per connection per turn, however many events. */
  flush(): void {
    this.#flushScheduled = false
    if (this.#pendingBytes === 0 || this.closed) return
    if (!this.#writeAll(this.#takePending())) this.#needDrain = true
    this.checkBacklog()
  }

  /** Sends `notice` (if any) and the close frame after what is queued, then ends the response. */
  close(reason: CloseReason, notice?: Buffer): void {
    if (this.closed) return
    if (reason === 'slow_consumer') return this.#closeSlow()
    if (notice) this.#queue(notice)
    this.#queue(this.codec.close(reason))
    const queued = this.#takePending()
    this.#finish(reason)
    if (this.#sink.destroyed) return
    this.#writeAll(queued)
    this.#end(reason)
  }

  /** Bytes a subclass holds back (frames kept during a replay). */
  protected heldBack(): number {
    return 0
  }

  /** Called once when the connection ends: a subclass drops what it holds. */
  protected abstract released(): void

  /** Queues a message for the next flush (a shared frame is queued as the same Buffer). */
  protected enqueue(message: Outgoing): void {
    this.#queue(message)
    // The socket's count from the last look is an upper bound: only past the bound is it read again.
    if (this.#pendingBytes + this.heldBack() + this.#socketBytes > this.#init.maxBacklogBytes && this.checkBacklog()) {
      return
    }
    if (this.#pendingBytes >= FLUSH_AT_BYTES) this.flush()
    else if (!this.#flushScheduled) {
      this.#flushScheduled = true
      this.#init.scheduleFlush(this)
    }
  }

  /** Ends the connection as a slow consumer when it holds more than its bound; true if it did. */
  protected checkBacklog(): boolean {
    this.#socketBytes = this.#sink.writableLength
    if (this.#pendingBytes + this.heldBack() + this.#socketBytes <= this.#init.maxBacklogBytes) return false
    this.#closeSlow()
    return true
  }

  /** True while half the bound is on its way out: a replay waits (drained()) before it writes more. */
  protected get busy(): boolean {
    return this.#pendingBytes + this.#sink.writableLength > this.#init.maxBacklogBytes / 2
  }

  /** Lets a replay go on once the socket has taken what was written (or the connection ended). */
  protected drained(): Promise<void> {
    this.flush()
    if (!this.#needDrain || this.closed) return Promise.resolve()
    return new Promise((resolve) => {
      this.#drainWaiter = resolve
    })
  }

  protected delivered(count: number): void {
    if (count > 0) this.#init.metrics?.delivered(count)
  }

  #queue(message: Outgoing): void {
    this.#pending.push(message)
    this.#pendingBytes += lengthOf(message)
  }

  #takePending(): { messages: Outgoing[]; bytes: number } {
    const taken = { messages: this.#pending, bytes: this.#pendingBytes }
    this.#pending = []
    this.#pendingBytes = 0
    return taken
  }

  #writeAll({ messages, bytes }: { messages: Outgoing[]; bytes: number }): boolean {
    if (this.#sink.writeAll) return this.#sink.writeAll(messages, bytes)
    return this.#sink.write(pack(messages, bytes))
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
    this.#sink.write(this.codec.close('slow_consumer'))
    this.#end('slow_consumer')
  }

  #end(reason: CloseReason): void {
    if (this.#sink.endWith) this.#sink.endWith(reason)
    else this.#sink.end()
  }

  #finish(reason: StreamEndReason): void {
    if (this.closed) return
    this.#endReason = reason
    if (this.#expiry) this.#init.expiries.delete(this.#expiry)
    this.#expiry = null
    this.#pending = []
    this.#pendingBytes = 0
    this.released()
    this.#wakeDrainWaiter()
    this.#init.onEnd(this)
    this.#init.metrics?.streamClosed(reason, this.kind)
    const listeners = this.#endListeners
    this.#endListeners = null
    if (listeners) for (const listener of listeners) listener(reason)
  }
}
