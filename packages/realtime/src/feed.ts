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

/** A feed's state while it replays from the database; dropped once the feed is live. */
interface Replay {
  /** The broadcaster's position when the feed joined: later events reached it live. */
  readonly liveFrom: number
  /** The live frames held back meanwhile. */
  readonly held: Frame[]
  heldBytes: number
}

// A user in many rooms holds one feed per room, ten thousand connections a node: a live feed is its room, its
// owner and one seq; what a replay needs lives only while the feed replays.
export class RoomFeed implements Subscriber {
  readonly roomId: string
  readonly #owner: FeedOwner
  #lastSeq: number
  #replay: Replay | null

  constructor(owner: FeedOwner, roomId: string, start: FeedStart) {
    this.roomId = roomId
    this.#owner = owner
    this.#lastSeq = start.lastSeq
    this.#replay = start.replaying ? { liveFrom: start.liveFrom, held: [], heldBytes: 0 } : null
  }

  /** The last stored seq written (or being written) to the client. */
  get lastSeq(): number {
    return this.#lastSeq
  }

  /** While replaying: the broadcaster's position when the feed joined (live: the feed's own position). */
  get liveFrom(): number {
    return this.#replay?.liveFrom ?? this.#lastSeq
  }

  get heldBytes(): number {
    return this.#replay?.heldBytes ?? 0
  }

  send(frame: Frame): boolean {
    if (this.#owner.closed) return false
    const replay = this.#replay
    if (replay) {
      replay.held.push(frame)
      replay.heldBytes += frame.bytes.length
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
    const held = this.#replay?.held ?? []
    this.#replay = null
    let sent = 0
    for (const frame of held) if (this.#deliver(frame)) sent++
    this.#owner.holding()
    return sent
  }

  /** Drops what it holds (the connection ended). */
  release(): void {
    this.#replay = null
  }

  #deliver(frame: Frame): boolean {
    if (this.#owner.closed || frame.seq <= this.#lastSeq) return false
    this.#lastSeq = frame.seq
    this.#owner.output(this, frame)
    // A member.left already in the log when the feed joined is history, not this feed's end (a live feed gets
    // only frames past where the broadcaster stood when it joined).
    if (frame.leaverId === this.#owner.userId && (!this.#replay || frame.seq > this.#replay.liveFrom)) {
      this.#owner.left(this)
    }
    return true
  }
}
