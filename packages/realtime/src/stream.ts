// A room stream (`GET /rooms/:roomId/events`): one connection following one room through its feed. Leaving the
// room, its deletion or a failed catch-up end the stream.
import { Connection, type ConnectionInit } from './connection.ts'
import { encodeRoomDeleted, type Frame } from './frames.ts'
import { RoomFeed, type FeedOwner, type FeedStart } from './feed.ts'
import type { LoadEvents } from './types.ts'

export interface StreamInit extends ConnectionInit, FeedStart {
  readonly roomId: string
}

export class Stream extends Connection implements FeedOwner {
  readonly roomId: string
  readonly feed: RoomFeed

  constructor(init: StreamInit) {
    super(init)
    this.roomId = init.roomId
    this.feed = new RoomFeed(this, init.roomId, init)
  }

  /** The last stored seq written (or being written) to the client. */
  get lastSeq(): number {
    return this.feed.lastSeq
  }

  /**
   * Replays stored events after lastSeq page by page, then releases the live frames held back meanwhile. The
   * feed joined the broadcaster before the first read, so the held frames start at most one past what the
   * database had: no gap, no duplicate.
   */
  async replay(load: LoadEvents, headSeq: (roomId: string) => Promise<number>, pageSize: number): Promise<void> {
    // A client ahead of this node's broadcaster is either just ahead of the bus or sent a seq the room never
    // reached; the latter would otherwise mute the stream until the room caught up.
    if (this.feed.lastSeq > this.feed.liveFrom) this.feed.clampTo(await headSeq(this.roomId))
    let more = true
    while (more && !this.closed) {
      const page = await load(this.roomId, this.feed.lastSeq, pageSize)
      this.delivered(await this.feed.replayPage(page))
      more = page.length === pageSize
    }
    if (!this.closed) this.delivered(this.feed.goLive())
  }

  output(_feed: RoomFeed, frame: Frame): void {
    this.enqueue(frame.bytes)
  }

  holding(): void {
    this.checkBacklog()
  }

  left(): void {
    this.close('left_room')
  }

  roomDeleted(): void {
    this.close('room_deleted', encodeRoomDeleted(this.roomId))
  }

  catchUpFailed(): void {
    this.close('catch_up_failed')
  }

  roomForReplay(): Promise<void> | undefined {
    return this.busy ? this.drained() : undefined
  }

  protected override heldBack(): number {
    return this.feed.heldBytes
  }

  protected released(): void {
    this.feed.release()
  }
}
