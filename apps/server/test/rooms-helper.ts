// Small steps the room, message and stream tests share: create, join, post and read back through the API,
// failing loudly when a step that is only set-up does not succeed.
import type { FastifyInstance } from 'fastify'
import type { Room, RoomEvent } from '@chat/contracts'
import { as, uniqueName } from './helper.ts'

type Caller = { auth: { authorization: string } }

export const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/
/** A well-formed id no room has. */
export const MISSING_ID = '00000000-0000-4000-8000-000000000000'
export const ROOM_KEYS = [
  'createdAt',
  'id',
  'lastReadSeq',
  'lastSeq',
  'memberCount',
  'name',
  'ownerId',
  'topic',
  'unreadCount'
]
export const EVENT_KEYS = [
  'clientMsgId',
  'createdAt',
  'deletedAt',
  'editedAt',
  'id',
  'key',
  'reactions',
  'replyTo',
  'roomId',
  'seq',
  'target',
  'text',
  'type',
  'user'
]
export const USER_KEYS = ['createdAt', 'displayName', 'id', 'username']

function expect(status: number, res: { statusCode: number; body: string }, what: string): void {
  if (res.statusCode !== status) throw new Error(`${what}: expected ${status}, got ${res.statusCode} ${res.body}`)
}

export async function createRoom(
  app: FastifyInstance,
  owner: Caller,
  body: { name?: string; topic?: string | null } = {}
): Promise<Room> {
  const res = await as(app, owner, {
    method: 'POST',
    url: '/rooms/create',
    payload: { name: uniqueName('room'), ...body }
  })
  expect(201, res, 'create room')
  return res.json()
}

export async function joinRoom(app: FastifyInstance, user: Caller, roomId: string): Promise<Room> {
  const res = await as(app, user, { method: 'POST', url: '/rooms/join', payload: { roomId } })
  expect(200, res, 'join room')
  return res.json()
}

export async function leaveRoom(app: FastifyInstance, user: Caller, roomId: string): Promise<void> {
  const res = await as(app, user, { method: 'POST', url: '/rooms/leave', payload: { roomId } })
  expect(204, res, 'leave room')
}

export async function post(
  app: FastifyInstance,
  user: Caller,
  roomId: string,
  text: string,
  clientMsgId?: string
): Promise<RoomEvent> {
  const payload = clientMsgId === undefined ? { roomId, text } : { roomId, text, clientMsgId }
  const res = await as(app, user, { method: 'POST', url: '/rooms/message', payload })
  expect(201, res, 'post message')
  return res.json()
}

export async function getRoom(app: FastifyInstance, user: Caller, roomId: string): Promise<Room> {
  const res = await as(app, user, { url: `/rooms/${roomId}` })
  expect(200, res, 'get room')
  return res.json()
}

/** The room's whole log through the history endpoint, walking forward with ?after=. */
export async function fullHistory(app: FastifyInstance, user: Caller, roomId: string): Promise<RoomEvent[]> {
  const all: RoomEvent[] = []
  for (;;) {
    const res = await as(app, user, { url: `/rooms/${roomId}/messages?limit=100&after=${all.at(-1)?.seq ?? 0}` })
    expect(200, res, 'history')
    const page: { items: RoomEvent[]; hasMore: boolean } = res.json()
    all.push(...page.items)
    if (!page.hasMore) return all
  }
}

/** 1..n */
export function range(from: number, to: number): number[] {
  return Array.from({ length: to - from + 1 }, (_, i) => from + i)
}

/** Runs `count` tasks with at most `width` in flight. */
export async function pool(count: number, width: number, task: (i: number) => Promise<unknown>): Promise<void> {
  let next = 0
  const worker = async () => {
    while (next < count) await task(next++)
  }
  await Promise.all(Array.from({ length: Math.min(width, count) }, worker))
}

/** ASCII-only JSON of a string, for assertion messages (TAP output must not carry raw line separators). */
export function visible(text: string): string {
  return JSON.stringify(text).replace(/[^\x20-\x7e]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)
}
