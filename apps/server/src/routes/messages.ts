// Posting to a room and reading its history, members only. A post is stored under the room's lock and published
// after the commit; a repeated clientMsgId answers with the first event (200 instead of 201).
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { HistoryPage, HistoryQuery, PostMessageBody, RoomEvent, RoomParams, errors } from '@chat/contracts'

const messageRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.addHook('onRequest', app.authenticate)
  const { rooms } = app

  app.post(
    '/rooms/message',
    {
      config: { rateLimit: app.rateLimits.message },
      schema: {
        tags: ['messages'],
        summary: 'Post a message (members only); a repeated clientMsgId returns the first event with 200',
        body: PostMessageBody,
        response: { 201: RoomEvent, 200: RoomEvent, ...errors(400, 401, 403, 404, 413, 415, 429) }
      }
    },
    async (request, reply) => {
      const { event, created } = await rooms.post(request.auth.userId, request.body)
      return reply.code(created ? 201 : 200).send(event)
    }
  )

  app.get(
    '/rooms/:roomId/messages',
    {
      schema: {
        tags: ['messages'],
        summary:
          'History (members only): the latest page, or ?before=SEQ / ?after=SEQ; items ascending; ' +
          'hasMore: more events beyond the page in the direction read',
        params: RoomParams,
        querystring: HistoryQuery,
        response: { 200: HistoryPage, ...errors(400, 401, 403, 404) }
      }
    },
    // The schema refuses before with after (CHAT_INVALID_QUERY).
    async (request) => rooms.history(request.auth.userId, request.params.roomId, request.query)
  )
}

export default messageRoutes
