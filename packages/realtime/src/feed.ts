// A connection's position in one room: what a broadcaster delivers to. It passes each stored event of its room
// on once, in seq order, and while the connection replays the room from the database it holds the live frames
// back, then releases those the replay did not already send: no gap and no duplicate at the seam. A room
// stream has one feed, a user stream one per room it follows.
import { encodeEvent, type Frame } from './frames.ts'
import type { Notice } from './notice.ts'
import type { RoomEvent } from './types.ts'

/** What a broadcaster delivers to. */
export interface Subscriber {
  /** A live frame of the room; returns whether it went to the client now. */
  send(frame: Frame): boolean
  /** An unstored notice of the room (typing, presence): to the client at once, even during a replay. */
  notify(notice: Notice): void
  roomDeleted(): void
  /** The room could not read what it missed from the database in time. */
  catchUpFailed(): void
}

/** The connection a feed belongs to. */
export interface FeedOwner {
  readonly userId: string
  readonly closed: boolean
  /** A stored event of the feed's room, in order and once: to the client. */
  output(feed: RoomFeed, frame: Frame): void
  notify(notice: Notice): void
  /** The feed holds more (or fewer) frames back; the owner checks its bound. */
  holding(): void
  /** The owner's member.left went out: the owner stops following the room. */
  left(feed: RoomFeed): void
  roomDeleted(feed: RoomFeed): void
  catchUpFailed(feed: RoomFeed): void
  /** Before each replayed frame: resolves at once unless the socket has half the bound on its way out. */
  roomForReplay(): Promise<void> | undefined
}

export interface FeedStart {
  /** The seq the client already has: where a replay starts, or the room's position when live. */
  readonly lastSeq: number
  /** The broadcaster's position when the feed joined: later events reached it live. */
  readonly liveFrom: number
  readonly replaying: boolean
}

export class RoomFeed implements Subscriber {
  readonly roomId: string
  readonly #owner: FeedOwner
  readonly #liveFrom: number
  readonly #start: number
  #lastSeq: number
  /** Live frames held back while replaying from the database; null once live. */
  #held: Frame[] | null
  #heldBytes = 0

  constructor(owner: FeedOwner, roomId: string, start: FeedStart) {
    this.roomId = roomId
    this.#owner = owner
    this.#liveFrom = start.liveFrom
    this.#lastSeq = start.lastSeq
    this.#start = start.lastSeq
    this.#held = start.replaying ? [] : null
  }

  /** The last stored seq written (or being written) to the client. */
  get lastSeq(): number {
    return this.#lastSeq
  }

  /** Where the feed started: the seq the client had. */
  get start(): number {
    return this.#start
  }

  /** The broadcaster's position when the feed joined. */
  get liveFrom(): number {
    return this.#liveFrom
  }

  get heldBytes(): number {
    return this.#heldBytes
  }

  send(frame: Frame): boolean {
    if (this.#owner.closed) return false
    if (this.#held) {
      this.#held.push(frame)
      this.#heldBytes += frame.bytes.length
      this.#owner.holding()
      return false
    }
    return this.#deliver(frame)
  }

  notify(notice: Notice): void {
    if (notice.from !== this.#owner.userId && !this.#owner.closed) this.#owner.notify(notice)
  }

  roomDeleted(): void {
    this.#owner.roomDeleted(this)
  }

  catchUpFailed(): void {
    this.#owner.catchUpFailed(this)
  }

  /** A client ahead of the room's head (a seq the room never reached) is taken back to it. */
  clampTo(headSeq: number): void {
    if (this.#lastSeq > headSeq) this.#lastSeq = headSeq
  }

  /** Sends a page of stored events (ascending); returns how many went out. */
  async replayPage(page: readonly RoomEvent[]): Promise<number> {
    let sent = 0
    for (const event of page) {
      const wait = this.#owner.roomForReplay()
      if (wait) await wait
      if (this.#owner.closed) break
      if (this.#deliver(encodeEvent(event))) sent++
    }
    return sent
  }

  /** Releases the live frames held during the replay, skipping those it sent; returns how many went out. */
  goLive(): number {
    const held = this.#held ?? []
    this.#held = null
    this.#heldBytes = 0
    let sent = 0
    for (const frame of held) if (this.#deliver(frame)) sent++
    this.#owner.holding()
    return sent
  }

  /** Drops what it holds (the connection ended). */
  release(): void {
    this.#held = null
    this.#heldBytes = 0
  }

  #deliver(frame: Frame): boolean {
    if (this.#owner.closed || frame.seq <= this.#lastSeq) return false
    this.#lastSeq = frame.seq
    this.#owner.output(this, frame)
    // A member.left already in the log when the feed joined is history, not this feed's end.
    if (frame.leaverId === this.#owner.userId && frame.seq > this.#liveFrom) this.#owner.left(this)
    return true
  }
}
