// The tables: users and their sessions, rooms, memberships and each room's numbered event log.
// Every change here is followed by `pnpm db:generate`, which writes the committed SQL migration.
import { sql } from 'drizzle-orm'
import {
  bigint,
  bigserial,
  check,
  index,
  integer,
  json,
  pgTable,
  pgView,
  primaryKey,
  text,
  timestamp,
  uniqueIndex,
  uuid
} from 'drizzle-orm/pg-core'
import { EVENT_TYPES, type Reaction } from '@chat/contracts'

// The listed names as SQL string literals, written into the migration (a CHECK cannot take parameters).
const literals = (names: readonly string[]) =>
  sql.raw(names.map((name) => `'${name.replaceAll("'", "''")}'`).join(', '))

const createdAt = () => timestamp('created_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow()

export const users = pgTable(
  'users',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    username: text('username').notNull(),
    displayName: text('display_name').notNull(),
    passwordHash: text('password_hash'),
    createdAt: createdAt(),
    deletedAt: timestamp('deleted_at', { withTimezone: true, mode: 'date' })
  },
  // A deleted user's name is free again; their row stays so their messages keep their author id.
  (t) => [
    uniqueIndex('users_username_live')
      .on(t.username)
      .where(sql`${t.deletedAt} is null`)
  ]
)

export const sessions = pgTable(
  'sessions',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    userId: uuid('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    createdAt: createdAt(),
    expiresAt: timestamp('expires_at', { withTimezone: true, mode: 'date' }).notNull(),
    revokedAt: timestamp('revoked_at', { withTimezone: true, mode: 'date' }),
    revokedReason: text('revoked_reason')
  },
  (t) => [index('sessions_user').on(t.userId)]
)

// One row per refresh token ever issued; only the SHA-256 of the token is kept. A row with rotated_at set
// that is presented again is a replay and revokes the whole session.
export const refreshTokens = pgTable(
  'refresh_tokens',
  {
    tokenHash: text('token_hash').primaryKey(),
    sessionId: uuid('session_id')
      .notNull()
      .references(() => sessions.id, { onDelete: 'cascade' }),
    createdAt: createdAt(),
    expiresAt: timestamp('expires_at', { withTimezone: true, mode: 'date' }).notNull(),
    rotatedAt: timestamp('rotated_at', { withTimezone: true, mode: 'date' })
  },
  (t) => [index('refresh_tokens_session').on(t.sessionId)]
)

export const rooms = pgTable(
  'rooms',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    name: text('name').notNull(),
    topic: text('topic'),
    ownerId: uuid('owner_id')
      .notNull()
      .references(() => users.id),
    createdAt: createdAt(),
    // The head of the room's log; the row lock taken to bump it orders concurrent writers.
    lastSeq: bigint('last_seq', { mode: 'number' }).notNull().default(0),
    memberCount: integer('member_count').notNull().default(0)
  },
  (t) => [index('rooms_created').on(t.createdAt, t.id)]
)

export const memberships = pgTable(
  'memberships',
  {
    roomId: uuid('room_id')
      .notNull()
      .references(() => rooms.id, { onDelete: 'cascade' }),
    userId: uuid('user_id')
      .notNull()
      .references(() => users.id),
    role: text('role', { enum: ['owner', 'member'] }).notNull(),
    joinedAt: timestamp('joined_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
    // The member's read marker: the seq of the last event they have read. Only ever moved forward; a join sets
    // it to the member's own member.joined, so what came before they joined is not unread.
    lastReadSeq: bigint('last_read_seq', { mode: 'number' }).notNull().default(0)
  },
  (t) => [primaryKey({ columns: [t.roomId, t.userId] }), index('memberships_user').on(t.userId, t.roomId)]
)

export const roomEvents = pgTable(
  'room_events',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    roomId: uuid('room_id')
      .notNull()
      .references(() => rooms.id, { onDelete: 'cascade' }),
    seq: bigint('seq', { mode: 'number' }).notNull(),
    type: text('type', { enum: EVENT_TYPES }).notNull(),
    userId: uuid('user_id')
      .notNull()
      .references(() => users.id),
    // On a message: its current text, erased (null) when it is deleted. On message.edited: the new text, erased
    // with the message.
    text: text('text'),
    clientMsgId: text('client_msg_id'),
    // On a message: the seq of the message it answers.
    replyTo: bigint('reply_to', { mode: 'number' }),
    // On a change (message.edited, message.deleted, reaction.*): the seq of the message it changes.
    target: bigint('target', { mode: 'number' }),
    // On reaction.*: the reaction.
    key: text('key'),
    // On a message: its current state.
    editedAt: timestamp('edited_at', { withTimezone: true, mode: 'date' }),
    deletedAt: timestamp('deleted_at', { withTimezone: true, mode: 'date' }),
    createdAt: createdAt()
  },
  (t) => [
    // A message's changes, found from the message (its deletion, the edits whose text a deletion erases).
    index('room_events_target')
      .on(t.roomId, t.target, t.type)
      .where(sql`${t.target} is not null`),
    uniqueIndex('room_events_seq').on(t.roomId, t.seq),
    // Unread counts: the messages of a room past a seq that are not deleted, counted from the index alone.
    index('room_events_live_messages')
      .on(t.roomId, t.seq, t.userId)
      .where(sql`${t.type} = 'message' and ${t.deletedAt} is null`),
    uniqueIndex('room_events_client_msg')
      .on(t.roomId, t.userId, t.clientMsgId)
      .where(sql`${t.clientMsgId} is not null`),
    // Only the contract's event types: no writer, the SQL functions included, stores one clients do not know.
    check('room_events_type', sql`${t.type} in (${literals(EVENT_TYPES)})`)
  ]
)

// The reactions a message has now, one row per user and key; `seq` is the message's, `eventSeq` the seq of the
// reaction.added that made the row, so "the first who reacted" is an exact order. The room's row lock, taken by
// every change, orders concurrent reactions; the primary key makes adding one twice store nothing.
export const messageReactions = pgTable(
  'message_reactions',
  {
    roomId: uuid('room_id')
      .notNull()
      .references(() => rooms.id, { onDelete: 'cascade' }),
    seq: bigint('seq', { mode: 'number' }).notNull(),
    key: text('key').notNull(),
    userId: uuid('user_id')
      .notNull()
      .references(() => users.id),
    eventSeq: bigint('event_seq', { mode: 'number' }).notNull()
  },
  (t) => [primaryKey({ columns: [t.roomId, t.seq, t.key, t.userId] })]
)

// Each event as clients read it: with its author and, on a message, its current reactions (chat_reactions).
// Made by migration 0004; every read of the log and every write's answer selects from it.
export const roomEventStates = pgView('room_event_states', {
  id: uuid('id').notNull(),
  roomId: uuid('room_id').notNull(),
  seq: bigint('seq', { mode: 'number' }).notNull(),
  type: text('type', { enum: EVENT_TYPES }).notNull(),
  userId: uuid('user_id').notNull(),
  text: text('text'),
  clientMsgId: text('client_msg_id'),
  replyTo: bigint('reply_to', { mode: 'number' }),
  target: bigint('target', { mode: 'number' }),
  key: text('key'),
  editedAt: timestamp('edited_at', { withTimezone: true, mode: 'date' }),
  deletedAt: timestamp('deleted_at', { withTimezone: true, mode: 'date' }),
  createdAt: timestamp('created_at', { withTimezone: true, mode: 'date' }).notNull(),
  username: text('username').notNull(),
  displayName: text('display_name').notNull(),
  userCreatedAt: timestamp('user_created_at', { withTimezone: true, mode: 'date' }).notNull(),
  reactions: json('reactions').$type<Reaction[] | null>()
}).existing()

// User-stream cursor bases: a snapshot of one user's positions in their rooms, written once and never changed, so
// a cursor (its base's id and the rooms that moved since) stays small and resumes on any node. Kept for days
// (BASE_RETENTION in the server); a cursor on a base that is gone resets its stream.
export const streamBases = pgTable(
  'stream_bases',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    userId: uuid('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    rooms: uuid('rooms').array().notNull(),
    seqs: bigint('seqs', { mode: 'number' }).array().notNull(),
    createdAt: createdAt()
  },
  (t) => [index('stream_bases_created').on(t.createdAt)]
)
