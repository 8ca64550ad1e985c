// Writing messages: posts and their changes (edits, deletions, reactions). chat_post_message and
// chat_change_message lock the room, check what the write needs, append its event with the next seq, and return
// the outcome with the event as clients read it: one round trip. Writes that arrive in the same turn of the event
// loop go together through chat_write_events: one round trip and one commit for all of them. The rooms service
// owns one batcher and closes it before the database closes.
import { v7 as uuidv7 } from 'uuid'
import type { RoomEvent } from '@chat/contracts'
import { tables, type Database, sql } from '@chat/db'
import {
  Forbidden,
  MessageDeleted,
  MessageNotFound,
  NotAuthor,
  NotMember,
  RoomNotFound,
  isUniqueViolation,
  refusedByDatabase
} from '../errors.ts'
import { PerTurn } from '../per-turn.ts'
import { columnsOf, toEvent, type EventRow } from './room-log.ts'

type Outcome =
  | 'created'
  | 'existing'
  | 'unchanged'
  | 'room_not_found'
  | 'not_member'
  | 'message_not_found'
  | 'not_author'
  | 'forbidden'
  | 'message_deleted'
type WrittenRow = { idx: number | null; outcome: Outcome } & EventRow

const writtenColumns = {
  idx: sql<number | null>`idx`,
  outcome: sql<Outcome>`outcome`,
  ...columnsOf(tables.roomEventStates)
}

export interface NewPost {
  roomId: string
  userId: string
  text: string
  clientMsgId?: string | undefined
  replyTo?: number | undefined
}

/** A change of the message `seq`: edit (text), delete, react or unreact (key). */
export type MessageChange = { roomId: string; userId: string; seq: number } & (
  { kind: 'edit'; text: string } | { kind: 'delete' } | { kind: 'react' | 'unreact'; key: string }
)

/** What a write stored (created), found stored already (a repeated clientMsgId, a second deletion), or neither. */
export type Written<E = RoomEvent> = { event: E; created: boolean }

type WriteParams =
  | {
      kind: 'post'
      id: string
      roomId: string
      userId: string
      text: string
      clientMsgId: string | null
      replyTo: number | null
    }
  | {
      kind: MessageChange['kind']
      id: string
      roomId: string
      userId: string
      seq: number
      text: string | null
      key: string | null
    }

interface Write {
  params: WriteParams
  settle(row: WrittenRow | undefined): void
  fail(error: unknown): void
}

const MAX_BATCH = 100

const REFUSALS: Partial<Record<Outcome, () => Error>> = {
  room_not_found: () => new RoomNotFound(),
  not_member: () => new NotMember(),
  message_not_found: () => new MessageNotFound(),
  not_author: () => new NotAuthor(),
  forbidden: () => new Forbidden('Only the author of the message or the owner of the room may delete it'),
  message_deleted: () => new MessageDeleted()
}

function outcomeOf(row: WrittenRow | undefined): Written<RoomEvent | null> {
  if (!row) throw new RoomNotFound()
  const refusal = REFUSALS[row.outcome]
  if (refusal) throw refusal()
  if (row.outcome === 'unchanged') return { event: null, created: false }
  return { event: toEvent(row), created: row.outcome === 'created' }
}

export class PostBatcher {
  readonly #post
  readonly #change
  readonly #many
  readonly #batches: PerTurn<Write>

  constructor(db: Database) {
    const p = sql.placeholder
    this.#post = db
      .select(writtenColumns)
      .from(
        sql`chat_post_message(${p('id')}, ${p('roomId')}, ${p('userId')}, ${p('text')}, ${p('clientMsgId')}, ${p('replyTo')})`
      )
      .prepare('chat_post_message')
    this.#change = db
      .select(writtenColumns)
      .from(
        sql`chat_change_message(${p('id')}, ${p('roomId')}, ${p('userId')}, ${p('kind')}, ${p('seq')}, ${p('text')}, ${p('key')})`
      )
      .prepare('chat_change_message')
    this.#many = db
      .select(writtenColumns)
      .from(sql`chat_write_events(${p('writes')}::jsonb)`)
      .prepare('chat_write_events')
    this.#batches = new PerTurn((batch) => this.#store(batch), MAX_BATCH)
  }

  /**
   * Stores a post with the next seq of its room. A clientMsgId already used by this user in this room returns
   * the first event instead (created: false) and stores nothing.
   */
  async post(post: NewPost): Promise<Written> {
    const written = await this.#write({
      kind: 'post',
      id: uuidv7(),
      roomId: post.roomId,
      userId: post.userId,
      text: post.text,
      clientMsgId: post.clientMsgId ?? null,
      replyTo: post.replyTo ?? null
    })
    return written as Written
  }

  /**
   * Stores a change of a message as its event. A second deletion returns the first one (created: false); a
   * reaction that changes nothing stores nothing and returns no event.
   */
  change(change: MessageChange): Promise<Written<RoomEvent | null>> {
    return this.#write({
      kind: change.kind,
      id: uuidv7(),
      roomId: change.roomId,
      userId: change.userId,
      seq: change.seq,
      text: change.kind === 'edit' ? change.text : null,
      key: change.kind === 'react' || change.kind === 'unreact' ? change.key : null
    })
  }

  /** Stores what has gathered, takes no more, and waits for every batch under way. */
  close(): Promise<void> {
    return this.#batches.close()
  }

  #write(params: WriteParams): Promise<Written<RoomEvent | null>> {
    return new Promise((resolve, reject) =>
      this.#batches.push({
        params,
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

  async #store(batch: Write[]): Promise<void> {
    if (batch.length === 1) return this.#storeOne(batch[0]!)
    let rows: WrittenRow[]
    try {
      rows = await this.#many.execute({ writes: JSON.stringify(batch.map((write) => write.params)) })
    } catch (error) {
      // The batch is one statement: when the database answered with an error, nothing of it was stored, and
      // each write is tried again on its own. A lost connection proves nothing (it may have committed), so then
      // every write fails rather than risk storing one twice.
      if (!refusedByDatabase(error)) return batch.forEach((write) => write.fail(error))
      await Promise.all(batch.map((write) => this.#storeOne(write)))
      return
    }
    const byIndex = new Map(rows.map((row) => [row.idx, row]))
    batch.forEach((write, i) => write.settle(byIndex.get(i)))
  }

  /** One write on its own. Two identical retries racing: the loser's insert fails and rolls back; asked again, it finds the winner's event. */
  async #storeOne({ params, settle, fail }: Write): Promise<void> {
    const run = () => (params.kind === 'post' ? this.#post.execute(params) : this.#change.execute(params))
    try {
      const [row] = await run().catch((error: unknown) => {
        if (params.kind === 'post' && params.clientMsgId !== null && isUniqueViolation(error)) return run()
        throw error
      })
      settle(row)
    } catch (error) {
      fail(error)
    }
  }
}
