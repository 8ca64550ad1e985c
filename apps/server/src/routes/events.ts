// The live stream of a room (Server-Sent Events). Auth, membership, resumption point and the per-user cap are
// checked here; then the raw response is handed to the hub, which replays from the database, goes live and
// ends the stream with a `close` frame when the token expires, the session ends or the room goes away.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { CLOSE_REASONS, EventStreamBody, RoomParams, StreamQuery, errors } from '@chat/contracts'
import type { OutgoingHttpHeaders } from 'node:http'
import { chunkedSink } from '@chat/realtime'
import { TooManyStreams } from '../errors.ts'
import { parseLastEventId } from '../validation.ts'

export interface EventsOptions {
  maxStreamsPerUser: number
}

const eventRoutes: FastifyPluginAsyncTypebox<EventsOptions> = async (app, opts) => {
  const endedMeanwhile = async (roomId: string, userId: string, sessionId: string) => {
    const [live, access] = await Promise.all([app.sessions.isLive(userId, sessionId), app.rooms.access(roomId, userId)])
    if (!live) return 'session_ended' as const
    if (!access.room) return 'room_deleted' as const
    if (!access.member) return 'left_room' as const
    return null
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
              '`event: room.deleted` / `data: {"roomId"}`; `event: close` / `data: {"reason"}` with reason one of ' +
              `${CLOSE_REASONS.join(', ')}; and \`: ping\` comments.`,
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
      try {
        await new Promise<void>((resolve) => res.write('retry: 2000\n\n', () => resolve()))
        const sink = chunkedSink(res)
        const stream = await app.realtime.hub.attach({ roomId, userId, sessionId, res: sink, lastEventId, expiresAt })
        void stream.ended.finally(release)
        // A logout, a leave or a deletion that landed between the checks above and the attach was announced
        // before this stream could hear it: look once more now that it can.
        const ended = await endedMeanwhile(roomId, userId, sessionId)
        if (ended) stream.close(ended)
      } catch (err) {
        release()
        request.log.warn({ err }, 'stream could not attach')
        res.end()
      }
    }
  )
}

export default eventRoutes
