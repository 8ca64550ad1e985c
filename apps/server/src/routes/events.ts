// The live streams (Server-Sent Events): a room's (`/rooms/:roomId/events`) and a user's, every room of theirs on
// one connection (`/events`). Auth, the resumption point and the per-user cap are checked here; then the raw
// response is handed to the hub, which replays from the database, goes live and ends the stream with a `close`
// frame when the token expires, the session ends or (a room stream) the room goes away.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { FastifyReply, FastifyRequest } from 'fastify'
import type { OutgoingHttpHeaders } from 'node:http'
import {
  CLOSE_REASONS,
  EventStreamBody,
  RESET_REASONS,
  RoomParams,
  StreamQuery,
  UserStreamQuery,
  errors
} from '@chat/contracts'
import { chunkedSink, type Stream, type StreamSink, type UserStream } from '@chat/realtime'
import { TooManyStreams } from '../errors.ts'
import { parseLastEventId } from '../validation.ts'

export interface EventsOptions {
  maxStreamsPerUser: number
}

const FRAMES =
  '`: ping` comments at least every 15 s; `event: close` / `data: {"reason"}` just before the server ends the ' +
  `stream on purpose, with reason one of ${CLOSE_REASONS.join(', ')}.`

const eventRoutes: FastifyPluginAsyncTypebox<EventsOptions> = async (app, opts) => {
  const sessionEnded = async (userId: string, sessionId: string) =>
    (await app.sessions.isLive(userId, sessionId)) ? null : ('session_ended' as const)

  /**
   * Takes a stream slot (429 past the cap), writes the head and hands the socket to `attach`. A logout (or, on a
   * room stream, a leave or a deletion) that landed between the checks and the attach was announced before the
   * stream could hear it: `endedMeanwhile` looks once more.
   */
  async function serve<S extends Stream | UserStream>(
    request: FastifyRequest,
    reply: FastifyReply,
    attach: (sink: StreamSink) => Promise<S>,
    endedMeanwhile: () => Promise<'session_ended' | 'room_deleted' | 'left_room' | null>
  ): Promise<void> {
    const { userId } = request.auth
    const release = await app.streamSlots.acquire(userId)
    if (!release) {
      reply.header('retry-after', '5')
      throw new TooManyStreams(opts.maxStreamsPerUser)
    }
    reply.cacheControl('no-cache').hijack()
    const res = reply.raw
    // The connection ends with its stream. Kept alive, a stream ended by the shutdown would leave its socket
    // idle after the server stopped reaping idle ones: the browser's reconnect would reuse it and get the 503
    // of a closing server, which makes EventSource give up for good (and the close would wait for it).
    res.writeHead(200, {
      ...(reply.getHeaders() as OutgoingHttpHeaders),
      'content-type': 'text/event-stream; charset=utf-8',
      'x-accel-buffering': 'no',
      connection: 'close'
    })
    // A reconnect hint, and a first chunk so proxies and clients see the stream open at once. The sink writes
    // straight to the socket, so it starts only once the response has handed the head and this chunk to the
    // socket (Node 24 flushes them on a later tick; a frame written before would precede the head).
    request.raw.socket.setNoDelay(true)
    let sink: StreamSink | null = null
    try {
      await new Promise<void>((resolve) => res.write('retry: 2000\n\n', () => resolve()))
      // The sink takes the socket out of node:http (http-sink.ts): from here on the stream holds the socket and
      // nothing of this request, and Fastify logs the request as completed, its stream open.
      sink = chunkedSink(res)
      const stream = await attach(sink)
      // Presence and the stream slot follow the stream, through callbacks that hold nothing of the request.
      app.presence.holdWhile(stream)
      stream.whenEnded(release)
      const ended = await endedMeanwhile()
      if (ended) stream.close(ended)
    } catch (err) {
      release()
      request.log.warn({ err }, 'stream could not attach')
      if (sink) sink.end()
      else res.end()
    }
  }

  app.get(
    '/rooms/:roomId/events',
    {
      onRequest: app.authenticate,
      config: { tokenInQuery: true },
      schema: {
        tags: ['events'],
        summary: 'Live events of a room (members only), as text/event-stream',
        description:
          'Stored events carry `id: <seq>`. Resume with the Last-Event-ID header (wins) or ?lastEventId=; ' +
          '?lastEventId=0 replays the whole room. Unstored events: room.deleted, and close {reason} just ' +
          'before the server ends the stream. `: ping` comments at least every 15 s. EventSource may pass ' +
          'the token as ?access_token=.',
        params: RoomParams,
        querystring: StreamQuery,
        response: {
          200: {
            description:
              'An open SSE stream. Frames: a stored event as `id: <seq>` / `event: <type>` / `data: <RoomEvent>`; ' +
              `\`event: room.deleted\` / \`data: {"roomId"}\`; ${FRAMES}`,
            content: { 'text/event-stream': { schema: EventStreamBody } }
          },
          ...errors(400, 401, 403, 404, 429)
        }
      }
    },
    async (request, reply) => {
      const { roomId } = request.params
      const { userId, sessionId, expiresAt } = request.auth
      const header = request.headers['last-event-id']
      const lastEventId = parseLastEventId(typeof header === 'string' ? header : request.query.lastEventId)
      await app.rooms.requireMember(roomId, userId)
      await serve(
        request,
        reply,
        (res) => app.realtime.hub.attach({ roomId, userId, sessionId, res, lastEventId, expiresAt }),
        async () => {
          const [ended, access] = await Promise.all([sessionEnded(userId, sessionId), app.rooms.access(roomId, userId)])
          if (ended) return ended
          if (!access.room) return 'room_deleted'
          if (!access.member) return 'left_room'
          return null
        }
      )
    }
  )

  app.get(
    '/events',
    {
      onRequest: app.authenticate,
      config: { tokenInQuery: true },
      schema: {
        tags: ['events'],
        summary: 'Live events of every room of the caller on one connection, as text/event-stream',
        description:
          'Stored events carry `id: <cursor>`, an opaque position in every room at once. Resume with the ' +
          'Last-Event-ID header (wins) or ?cursor=: every room is replayed after its position (a room joined ' +
          "since, from the caller's member.joined), then `ready`, then live, with no gap and no duplicate. " +
          'Rooms follow the caller live on every node: a join or a created room starts flowing, a leave ends ' +
          'that room with its member.left, a deletion with room.deleted. EventSource may pass the token as ' +
          '?access_token=.',
        querystring: UserStreamQuery,
        response: {
          200: {
            description:
              'An open SSE stream. Frames: a stored event as `id: <cursor>` / `event: <type>` / ' +
              '`data: <RoomEvent>`; `event: ready` / `id: <cursor>` / `data: {"rooms":[{"roomId","lastSeq"}]}` ' +
              'once live; `event: reset` / `data: {"reason"}` first when the cursor cannot be resumed (reason one ' +
              `of ${RESET_REASONS.join(', ')}; the stream goes on as a fresh start); \`event: room.deleted\` and ` +
              '`event: room.left` / `data: {"roomId"}`; ' +
              FRAMES,
            content: { 'text/event-stream': { schema: EventStreamBody } }
          },
          ...errors(400, 401, 429)
        }
      }
    },
    async (request, reply) => {
      const { userId, sessionId, expiresAt } = request.auth
      const header = request.headers['last-event-id']
      const cursor = typeof header === 'string' ? header : request.query.cursor
      app.userStreams.checkCursor(cursor)
      await serve(
        request,
        reply,
        (res) =>
          app.realtime.hub.attachUser({
            userId,
            sessionId,
            res,
            expiresAt,
            plan: () => app.userStreams.plan(userId, cursor)
          }),
        () => sessionEnded(userId, sessionId)
      )
    }
  )
}

export default eventRoutes
