// Opening the server's streams from a test: the app listening on a random local port, a room stream's URL, the
// user stream's, a client that is closed when the test ends, and what a user stream delivered, room by room.
import type { AddressInfo } from 'node:net'
import type { RoomEvent } from '@chat/contracts'
import { SseClient, type SseEvent, type StreamOptions } from './sse-client.ts'

/** What `listen` needs of an app (a Fastify instance). */
export interface Listenable {
  server: { address(): AddressInfo | string | null }
  listen(opts: { port: number; host: string }): Promise<string>
}

/** What `openStream` needs of a test (a tap Test). */
export interface Teardown {
  teardown(fn: () => unknown): void
}

/** The base URL of the app, listening on a random local port (once per app). */
export async function listen(app: Listenable): Promise<string> {
  const address = app.server.address()
  if (address && typeof address === 'object') return `http://127.0.0.1:${address.port}`
  return app.listen({ port: 0, host: '127.0.0.1' })
}

export function streamUrl(roomId: string, opts: Pick<StreamOptions, 'queryToken' | 'query'> = {}): string {
  const query = new URLSearchParams()
  if (opts.queryToken !== undefined) query.set('access_token', opts.queryToken)
  for (const [key, value] of Object.entries(opts.query ?? {})) query.set(key, String(value))
  const qs = query.toString()
  return `/rooms/${roomId}/events${qs ? `?${qs}` : ''}`
}

/** Opens a stream (any status) and closes it when the test ends. */
export async function openStream(
  t: Teardown,
  base: string,
  roomId: string,
  opts: StreamOptions = {}
): Promise<SseClient> {
  const client = await SseClient.connect(base, streamUrl(roomId, opts), opts)
  t.teardown(() => client.close())
  return client
}

export function userStreamUrl(opts: Pick<StreamOptions, 'queryToken' | 'query'> = {}): string {
  const query = new URLSearchParams()
  if (opts.queryToken !== undefined) query.set('access_token', opts.queryToken)
  for (const [key, value] of Object.entries(opts.query ?? {})) query.set(key, String(value))
  const qs = query.toString()
  return `/events${qs ? `?${qs}` : ''}`
}

/** Opens the user stream (`/events`, any status) and closes it when the test ends. */
export async function openUserStream(t: Teardown, base: string, opts: StreamOptions = {}): Promise<SseClient> {
  const client = await SseClient.connect(base, userStreamUrl(opts), opts)
  t.teardown(() => client.close())
  return client
}

const UNSTORED = new Set(['ready', 'reset', 'room.deleted', 'room.left', 'close', 'typing', 'presence', 'read'])

/** The stored events a user stream delivered (every frame with an id but `ready`), in arrival order. */
export function storedEvents(events: readonly SseEvent[]): RoomEvent[] {
  return events.filter((e) => e.id !== undefined && !UNSTORED.has(e.event)).map((e) => JSON.parse(e.data) as RoomEvent)
}

/** The seqs a user stream delivered, room by room, in arrival order. */
export function seqsByRoom(events: readonly SseEvent[]): Map<string, number[]> {
  const byRoom = new Map<string, number[]>()
  for (const event of storedEvents(events)) {
    const seqs = byRoom.get(event.roomId) ?? []
    seqs.push(event.seq)
    byRoom.set(event.roomId, seqs)
  }
  return byRoom
}
