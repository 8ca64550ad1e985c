// Posting a message. chat_post_message locks the room, checks membership and clientMsgId, appends, and returns
// the outcome with the event and its author: one round trip. Posts that arrive in the same turn of the event
// loop go together through chat_post_messages: one round trip and one commit for all of them. The rooms
// service owns one batcher and closes it before the database closes.
import { v7 as uuidv7 } from 'uuid'
import type { RoomEvent } from '@chat/contracts'
import { tables, type Database, sql } from '@chat/db'
import { NotMember, RoomNotFound, isUniqueViolation, refusedByDatabase } from '../errors.ts'
import { PerTurn } from '../per-turn.ts'
import { columnsOf, toEvent, type EventRow } from './room-log.ts'

const { roomEvents, users } = tables

type PostOutcome = 'created' | 'existing' | 'room_not_found' | 'not_member'
type PostedRow = { outcome: PostOutcome } & EventRow

const postedColumns = {
  outcome: sql<PostOutcome>`outcome`,
  ...columnsOf(roomEvents),
  user: {
    id: sql<string>`user_id`,
    username: sql<string>`username`,
    displayName: sql<string>`display_name`,
    createdAt: sql<Date>`user_created_at`.mapWith(users.createdAt)
  }
}

export interface NewPost {
  roomId: string
  userId: string
  text: string
  clientMsgId?: string | undefined
}

interface Post {
  id: string
  roomId: string
  userId: string
  text: string
  clientMsgId: string | null
  settle(row: PostedRow | undefined): void
  fail(error: unknown): void
}

const MAX_BATCH = 100

function outcomeOf(row: PostedRow | undefined): { event: RoomEvent; created: boolean } {
  if (!row || row.outcome === 'room_not_found') throw new RoomNotFound()
  if (row.outcome === 'not_member') throw new NotMember()
  return { event: toEvent(row), created: row.outcome === 'created' }
}

const params = ({ id, roomId, userId, text, clientMsgId }: Post) => ({ id, roomId, userId, text, clientMsgId })

export class PostBatcher {
  readonly #one
  readonly #many
  readonly #batches: PerTurn<Post>

  constructor(db: Database) {
    this.#one = db
      .select(postedColumns)
      .from(
        sql`chat_post_message(${sql.placeholder('id')}, ${sql.placeholder('roomId')}, ${sql.placeholder('userId')}, ${sql.placeholder('text')}, ${sql.placeholder('clientMsgId')})`
      )
      .prepare('chat_post_message')
    this.#many = db
      .select({ idx: sql<number>`idx`, ...postedColumns })
      .from(sql`chat_post_messages(${sql.placeholder('posts')}::jsonb)`)
      .prepare('chat_post_messages')
    this.#batches = new PerTurn((batch) => this.#store(batch), MAX_BATCH)
  }

  /**
   * Stores a post with the next seq of its room. A clientMsgId already used by this user in this room returns
   * the first event instead (created: false) and stores nothing.
   */
  post(post: NewPost): Promise<{ event: RoomEvent; created: boolean }> {
    return new Promise((resolve, reject) =>
      this.#batches.push({
        id: uuidv7(),
        roomId: post.roomId,
        userId: post.userId,
        text: post.text,
        clientMsgId: post.clientMsgId ?? null,
        settle: (row) => {
          try {
            resolve(outcomeOf(row))
          } catch (error) {
            reject(error)
          }
        },
        fail: reject
      })
    )
  }

  /** Stores what has gathered, takes no more, and waits for every batch under way. */
  close(): Promise<void> {
    return this.#batches.close()
  }

  async #store(batch: Post[]): Promise<void> {
    if (batch.length === 1) return this.#storeOne(batch[0]!)
    let rows: Array<PostedRow & { idx: number }>
    try {
      rows = await this.#many.execute({ posts: JSON.stringify(batch.map(params)) })
    } catch (error) {
      // The batch is one statement: when the database answered with an error, nothing of it was stored, and
      // each post is tried again on its own. A lost connection proves nothing (it may have committed), so then
      // every post fails rather than risk storing one twice.
      if (!refusedByDatabase(error)) return batch.forEach((post) => post.fail(error))
      await Promise.all(batch.map((post) => this.#storeOne(post)))
      return
    }
    const byIndex = new Map(rows.map((row) => [row.idx, row]))
    batch.forEach((post, i) => post.settle(byIndex.get(i)))
  }

  /** One post on its own. Two identical retries racing: the loser's insert fails and rolls back; asked again, it finds the winner's event. */
  async #storeOne(post: Post): Promise<void> {
    const run = () => this.#one.execute(params(post))
    try {
      const [row] = await run().catch((error: unknown) => {
        if (post.clientMsgId !== null && isUniqueViolation(error)) return run()
        throw error
      })
      post.settle(row)
    } catch (error) {
      post.fail(error)
    }
  }
}
