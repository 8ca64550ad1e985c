// A user stream (`GET /events`): one connection following every room of its user, one feed per room, each
// feed one subscriber of its room's broadcaster. Every stored event goes out as the room's shared frame body
// behind this connection's own `id: <cursor>` line, the cursor standing for its position in every room. The
// hub adds and drops feeds as the user joins, leaves and loses rooms; a leave or a deletion stops that room,
// not the stream.
import { Connection, type ConnectionInit } from './connection.ts'
import { CursorState, MAX_CURSOR, REBASE_AT, type CursorBase } from './cursor.ts'
import type { Frame } from './frames.ts'
import { RoomFeed, type FeedOwner, type FeedStart } from './feed.ts'
import type { ErrorHandler, LoadEventsMany } from './types.ts'

// The longest entry a cursor can gain with one event (R + 32 hex digits, ~, 11 digits, and the dot).
const MAX_ENTRY = 46

export interface UserStreamInit extends ConnectionInit {
  /** Stores a base (the positions given) and returns it. */
  readonly saveBase: (userId: string, positions: ReadonlyMap<string, number>) => Promise<CursorBase>
  /** The hub takes the feed off its room's broadcaster. */
  readonly unfollow: (stream: UserStream, feed: RoomFeed) => void
  readonly onError: ErrorHandler
}

export class UserStream extends Connection implements FeedOwner {
  /**
   * An array, not a Map: every connection holds one, and it is searched only when the user joins or leaves a
   * room, never per event (an event reaches its feed through the room's broadcaster).
   */
  readonly #feeds: RoomFeed[] = []
  readonly #init: UserStreamInit
  #cursor: CursorState | null = null
  /** Frames waiting for a cursor (before the first base, or while a new one is stored); null when none wait. */
  #waiting: Frame[] | null = []
  #waitingBytes = 0
  #saving = false
  /** Until the first base: the seq each feed started from (what the client had), the cursor's first positions. */
  #starts: Map<string, number> | null = new Map()
  /** The feeds still replaying from the database; null once none is. */
  #replaying: Set<RoomFeed> | null = null

  constructor(init: UserStreamInit) {
    super(init)
    this.#init = init
  }

  /** A feed for the room, not yet on its broadcaster. */
  addFeed(roomId: string, start: FeedStart): RoomFeed {
    const feed = new RoomFeed(this, roomId, start)
    this.#feeds.push(feed)
    this.#starts?.set(roomId, start.lastSeq)
    if (start.replaying) (this.#replaying ??= new Set()).add(feed)
    return feed
  }

  follows(roomId: string): boolean {
    return this.#feeds.some((feed) => feed.roomId === roomId)
  }

  /** The rooms' feeds, in the order the stream started following them. */
  get feeds(): readonly RoomFeed[] {
    return this.#feeds
  }

  /**
   * Starts writing stored events, on `base` (the client's) or on a new base of where the feeds started: the
   * positions written so far, before any feed delivered anything.
   */
  async begin(base: CursorBase | null): Promise<void> {
    const positions = this.#starts ?? new Map<string, number>()
    const onto = base ?? (await this.#init.saveBase(this.userId, positions))
    this.#starts = null
    if (this.closed) return
    this.#cursor = new CursorState(onto, positions)
    this.#release()
  }

  /**
   * Replays the given feeds from the database, every room in one read per page (not one per room), then lets
   * each go live as its replay ends.
   */
  async replay(feeds: readonly RoomFeed[], load: LoadEventsMany, pageSize: number): Promise<void> {
    let pending = feeds.filter((feed) => this.#replaying?.has(feed))
    while (pending.length > 0 && !this.closed) {
      const pages = await load(
        pending.map((feed) => ({ roomId: feed.roomId, afterSeq: feed.lastSeq })),
        pageSize
      )
      const more: RoomFeed[] = []
      for (const feed of pending) {
        if (this.closed) return
        const page = pages.get(feed.roomId) ?? []
        this.delivered(await feed.replayPage(page))
        if (page.length === pageSize) more.push(feed)
        else this.#goLive(feed)
      }
      pending = more
    }
  }

  /** `ready`: the rooms the stream covers, where each stands, and the cursor of that moment. */
  ready(): void {
    if (this.closed || !this.#cursor) return
    const rooms = this.#feeds.map((feed) => ({ roomId: feed.roomId, lastSeq: feed.lastSeq }))
    this.enqueue(this.codec.ready(this.#cursor.encode(), rooms))
  }

  /** An unstored message (a notice, a command's reply), in order with the events. */
  send(bytes: Buffer): void {
    if (!this.closed) this.enqueue(bytes)
  }

  reset(reason: string): void {
    this.send(this.codec.reset(reason))
  }

  roomGone(roomId: string, how: 'deleted' | 'left'): void {
    this.send(how === 'deleted' ? this.codec.roomDeleted(roomId) : this.codec.roomLeft(roomId))
  }

  output(_feed: RoomFeed, frame: Frame): void {
    if (this.#waiting) {
      this.#waiting.push(frame)
      this.#waitingBytes += frame.body.length
      this.checkBacklog()
      return
    }
    this.#write(frame)
  }

  holding(): void {
    this.checkBacklog()
  }

  left(feed: RoomFeed): void {
    this.#drop(feed)
  }

  roomDeleted(feed: RoomFeed): void {
    this.roomGone(feed.roomId, 'deleted')
    this.#drop(feed)
  }

  catchUpFailed(): void {
    this.close('catch_up_failed')
  }

  roomForReplay(): Promise<void> | undefined {
    return this.busy ? this.drained() : undefined
  }

  protected override heldBack(): number {
    let held = this.#waitingBytes
    if (!this.#replaying) return held
    for (const feed of this.#replaying) held += feed.heldBytes
    return held
  }

  protected released(): void {
    for (const feed of this.#feeds) feed.release()
    this.#replaying = null
    this.#waiting = null
    this.#waitingBytes = 0
  }

  #goLive(feed: RoomFeed): void {
    this.#doneReplaying(feed)
    this.delivered(feed.goLive())
  }

  #doneReplaying(feed: RoomFeed): void {
    this.#replaying?.delete(feed)
    if (this.#replaying?.size === 0) this.#replaying = null
  }

  #drop(feed: RoomFeed): void {
    const i = this.#feeds.indexOf(feed)
    if (i >= 0) this.#feeds.splice(i, 1)
    this.#starts?.delete(feed.roomId)
    this.#doneReplaying(feed)
    this.#init.unfollow(this, feed)
  }

  #write(frame: Frame): void {
    const cursor = this.#cursor!
    cursor.move(frame.roomId, frame.seq, frame.seq36)
    const id = cursor.encode()
    this.enqueue(this.codec.event(id, frame))
    if (id.length > REBASE_AT) this.#rebase()
    // Close to the bound, later frames wait for the new base rather than outgrow it.
    if (id.length > MAX_CURSOR - MAX_ENTRY && this.#saving) this.#waiting ??= []
  }

  #rebase(): void {
    if (this.#saving || this.closed) return
    this.#saving = true
    const cursor = this.#cursor!
    this.#init.saveBase(this.userId, cursor.positions()).then(
      (base) => {
        this.#saving = false
        if (this.closed) return
        cursor.rebase(base)
        this.#release()
      },
      (error: unknown) => {
        this.#saving = false
        this.#init.onError(error)
        // Without a base the cursor cannot stay within its bound: the client resumes on a fresh connection.
        if (this.#waiting) this.close('catch_up_failed')
      }
    )
  }

  #release(): void {
    const waiting = this.#waiting ?? []
    this.#waiting = null
    this.#waitingBytes = 0
    for (let i = 0; i < waiting.length; i++) {
      if (this.closed) return
      this.#write(waiting[i]!)
      // #write starts a new wait when the cursor nears its bound again: the rest waits for the next base, in order.
      const again = this.#waiting as Frame[] | null
      if (again) {
        const rest = waiting.slice(i + 1)
        again.push(...rest)
        for (const frame of rest) this.#waitingBytes += frame.body.length
        return
      }
    }
  }
}
