// What a write to a room means. Every change of a room goes through here: create, join, leave, delete, post, the
// changes of a message (edit, delete, react), read markers, and a user's removal from all their rooms. Each stores its change in one transaction (the room's row locked first),
// commits, and only then announces it on the bus (`announce`), the one place a room change is published. Reads
// check access the same way for every route: an unknown room is 404, a room one is not in is 403.
import fp from 'fastify-plugin'
import type {
  CreateRoomBody,
  DeleteMessageBody,
  EditMessageBody,
  HistoryQuery,
  Member,
  PostMessageBody,
  ReactBody,
  ReadBody,
  Room,
  RoomEvent
} from '@chat/contracts'
import type { Database, Transaction } from '@chat/db'
import { NotMember, NotRoomOwner, OwnerCannotLeave, RoomNotFound, SeqOutOfRange } from '../errors.ts'
import type { Presence } from '../plugins/presence.ts'
import type { Realtime } from '../plugins/realtime.ts'
import type { TypingService } from './typing.ts'
import { PostBatcher, type MessageChange, type Written } from '../repositories/post-batcher.ts'
import { append, history } from '../repositories/room-log.ts'
import {
  deleteMember,
  deleteRooms,
  findRoomFor,
  insertMember,
  insertRoom,
  listMembers,
  listRooms,
  lockRoom,
  lockRoomsOf,
  markRead,
  roleIn,
  roomAccess,
  toRoom
} from '../repositories/rooms.ts'

/** What a committed change asks the bus to say: rooms gone, events stored, and rooms users became members of. */
export interface RoomChanges {
  deletedRoomIds: string[]
  events: RoomEvent[]
  /** seq: the user's member.joined, or 0 for a room they created (it has no event yet). */
  joined?: Array<{ userId: string; roomId: string; seq: number }>
}

type Page<T> = { items: T[]; nextCursor: string | null }

declare module 'fastify' {
  interface FastifyInstance {
    rooms: RoomsService
  }
}

export class RoomsService {
  readonly #db: Database
  readonly #realtime: Realtime
  readonly #posts: PostBatcher
  readonly #typing: TypingService
  readonly #presence: Presence

  constructor(db: Database, realtime: Realtime, typing: TypingService, presence: Presence) {
    this.#db = db
    this.#realtime = realtime
    this.#typing = typing
    this.#presence = presence
    this.#posts = new PostBatcher(db)
  }

  /** The creator is the owner and first member; a new room stores no event. */
  async create(ownerId: string, { name, topic }: CreateRoomBody): Promise<Room> {
    const room = await this.#db.transaction((tx) => insertRoom(tx, ownerId, name, topic ?? null))
    await this.announce({ deletedRoomIds: [], events: [], joined: [{ userId: ownerId, roomId: room.id, seq: 0 }] })
    return toRoom(room, { lastReadSeq: 0, unreadCount: 0 })
  }

  /** The room as the user reads it: with their read state when they are a member, nulls otherwise. */
  async get(roomId: string, userId: string): Promise<Room> {
    const room = await findRoomFor(this.#db, roomId, userId)
    if (!room) throw new RoomNotFound()
    return room
  }

  list(userId: string, query: { mine: boolean; limit: number; cursor?: string | undefined }): Promise<Page<Room>> {
    return listRooms(this.#db, userId, query)
  }

  async members(
    userId: string,
    roomId: string,
    page: { limit: number; cursor?: string | undefined }
  ): Promise<Page<Member>> {
    await this.requireMember(roomId, userId)
    const listed = await listMembers(this.#db, roomId, page)
    const online = await this.#presence.online(listed.items.map((m) => m.user.id))
    return { ...listed, items: listed.items.map((m) => ({ ...m, online: online.has(m.user.id) })) }
  }

  /**
   * Members only: moves the caller's read marker forward to `seq` (a lower one changes nothing; past lastSeq:
   * 400 CHAT_SEQ_OUT_OF_RANGE); when it moved, the caller's own connections on every node hear it.
   */
  async read(userId: string, { roomId, seq }: ReadBody): Promise<void> {
    const outcome = await markRead(this.#db, roomId, userId, seq)
    if (outcome === 'room_not_found') throw new RoomNotFound()
    if (outcome === 'not_member') throw new NotMember()
    if (outcome === 'out_of_range') throw new SeqOutOfRange()
    if (outcome === 'moved') await this.#realtime.publishRead(userId, roomId, seq)
  }

  async history(
    userId: string,
    roomId: string,
    { limit = 50, before, after }: HistoryQuery
  ): Promise<{ items: RoomEvent[]; hasMore: boolean }> {
    await this.requireMember(roomId, userId)
    return history(this.#db, roomId, { limit, before, after })
  }

  /** Whether the room exists and whether the user is in it, in one read. */
  access(roomId: string, userId: string): Promise<{ room: boolean; member: boolean }> {
    return roomAccess(this.#db, roomId, userId)
  }

  /** 404 for an unknown room, 403 CHAT_NOT_MEMBER for a room the user is not in. */
  async requireMember(roomId: string, userId: string): Promise<void> {
    const access = await this.access(roomId, userId)
    if (!access.room) throw new RoomNotFound()
    if (!access.member) throw new NotMember()
  }

  /**
   * Idempotent: member.joined is stored and announced only when the user was not a member yet. A new member has
   * read up to their member.joined (their marker starts there), so nothing before it is unread.
   */
  async join(userId: string, roomId: string): Promise<Room> {
    const joined = await this.#db.transaction(async (tx) => {
      const locked = await lockRoom(tx, roomId)
      if (!locked) throw new RoomNotFound()
      if (await roleIn(tx, roomId, userId)) return null
      await insertMember(tx, roomId, userId, locked.lastSeq + 1)
      return append(tx, roomId, { type: 'member.joined', userId }, 1)
    })
    if (!joined) return this.get(roomId, userId)
    const { room, event } = joined
    await this.announce({ deletedRoomIds: [], events: [event], joined: [{ userId, roomId, seq: event.seq }] })
    return toRoom(room, { lastReadSeq: event.seq, unreadCount: 0 })
  }

  /** Idempotent: leaving a room one is not in changes nothing; the owner cannot leave. */
  async leave(userId: string, roomId: string): Promise<void> {
    const left = await this.#db.transaction(async (tx) => {
      if (!(await lockRoom(tx, roomId))) throw new RoomNotFound()
      const role = await roleIn(tx, roomId, userId)
      if (!role) return null
      if (role === 'owner') throw new OwnerCannotLeave()
      return removeMember(tx, roomId, userId)
    })
    if (left) await this.announce({ deletedRoomIds: [], events: [left] })
  }

  /** Owner only; open streams of the room get room.deleted, then close. */
  async delete(userId: string, roomId: string): Promise<void> {
    await this.#db.transaction(async (tx) => {
      const room = await lockRoom(tx, roomId)
      if (!room) throw new RoomNotFound()
      if (room.ownerId !== userId) throw new NotRoomOwner()
      await deleteRooms(tx, [roomId])
    })
    await this.announce({ deletedRoomIds: [roomId], events: [] })
  }

  /**
   * Members only; a repeated clientMsgId returns the first event (created: false) and stores nothing; replyTo
   * must be a message of the room.
   */
  async post(userId: string, { roomId, text, clientMsgId, replyTo }: PostMessageBody): Promise<Written> {
    const posted = await this.#posts.post({ roomId, userId, text, clientMsgId, replyTo })
    if (posted.created) {
      await this.announce({ deletedRoomIds: [], events: [posted.event] })
      // A post ends its author's typing; the answer does not wait for it.
      this.#typing.posted(roomId, posted.event.user)
    }
    return posted
  }

  /** The author only, while the message is not deleted: stores message.edited and the message's new text. */
  async edit(userId: string, { roomId, seq, text }: EditMessageBody): Promise<RoomEvent> {
    const { event } = await this.#change({ kind: 'edit', roomId, userId, seq, text })
    return event!
  }

  /**
   * The author or the room's owner: erases the text (of the message and of its edits) and stores
   * message.deleted; a message deleted already returns that first deletion (created: false).
   */
  async deleteMessage(userId: string, { roomId, seq }: DeleteMessageBody): Promise<Written> {
    return (await this.#change({ kind: 'delete', roomId, userId, seq })) as Written
  }

  /** Members, on a message not deleted: reaction.added or .removed, or null when it would change nothing. */
  async react(userId: string, { roomId, seq, key, remove = false }: ReactBody): Promise<RoomEvent | null> {
    return (await this.#change({ kind: remove ? 'unreact' : 'react', roomId, userId, seq, key })).event
  }

  async #change(change: MessageChange): Promise<Written<RoomEvent | null>> {
    const written = await this.#posts.change(change)
    if (written.created && written.event) await this.announce({ deletedRoomIds: [], events: [written.event] })
    return written
  }

  /**
   * Inside the transaction that removes a user: the rooms they own are deleted, the others they leave (one
   * member.left each). The caller announces the returned changes after its commit.
   */
  async removeUser(tx: Transaction, userId: string): Promise<RoomChanges> {
    const involved = await lockRoomsOf(tx, userId)
    const deletedRoomIds = involved.filter((r) => r.ownerId === userId).map((r) => r.id)
    await deleteRooms(tx, deletedRoomIds)
    const events: RoomEvent[] = []
    for (const room of involved) {
      if (room.ownerId !== userId) events.push(await removeMember(tx, room.id, userId))
    }
    return { deletedRoomIds, events }
  }

  /** Publishes committed changes: the only place a room change reaches the bus. */
  async announce({ deletedRoomIds, events, joined = [] }: RoomChanges): Promise<void> {
    for (const roomId of deletedRoomIds) await this.#realtime.publishRoomDeleted(roomId)
    for (const event of events) await this.#realtime.publishEvent(event)
    for (const { userId, roomId, seq } of joined) await this.#realtime.publishJoined(userId, roomId, seq)
  }

  /** Stores the posts gathered so far and takes no more: before the database closes. */
  close(): Promise<void> {
    return this.#posts.close()
  }
}

/** Deletes a membership of a locked room and logs member.left. */
async function removeMember(tx: Transaction, roomId: string, userId: string): Promise<RoomEvent> {
  await deleteMember(tx, roomId, userId)
  return (await append(tx, roomId, { type: 'member.left', userId }, -1)).event
}

export default fp(
  async (app) => {
    const rooms = new RoomsService(app.db, app.realtime, app.typing, app.presence)
    app.decorate('rooms', rooms)
    app.addHook('onClose', async () => rooms.close())
  },
  { name: 'rooms-service', dependencies: ['db', 'realtime', 'typing-service', 'presence'] }
)
