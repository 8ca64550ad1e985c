// Posting to a room, changing its messages and reading its history, members only. Every write is stored under
// the room's lock as the next event of its log and published after the commit; a repeated clientMsgId or a
// second deletion answers with the first event (200 instead of 201). All of them share the message rate limit.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import {
  DeleteMessageBody,
  EditMessageBody,
  HistoryPage,
  HistoryQuery,
  NoContent,
  PostMessageBody,
  ReactBody,
  RoomEvent,
  RoomParams,
  errors
} from '@chat/contracts'

const messageRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.addHook('onRequest', app.authenticate)
  const { rooms } = app

  app.post(
    '/rooms/message',
    {
      config: { rateLimit: app.rateLimits.message },
      schema: {
        tags: ['messages'],
        summary:
          'Post a message (members only); a repeated clientMsgId returns the first event with 200; replyTo must be ' +
          'the seq of a message of the room (404 CHAT_MESSAGE_NOT_FOUND)',
        body: PostMessageBody,
        response: { 201: RoomEvent, 200: RoomEvent, ...errors(400, 401, 403, 404, 413, 415, 429) }
      }
    },
    async (request, reply) => {
      const { event, created } = await rooms.post(request.auth.userId, request.body)
      return reply.code(created ? 201 : 200).send(event)
    }
  )

  app.post(
    '/rooms/message/edit',
    {
      config: { rateLimit: app.rateLimits.message },
      schema: {
        tags: ['messages'],
        summary:
          'Edit a message (its author only, 403 CHAT_NOT_AUTHOR): stores message.edited with the new text; ' +
          'a seq that is not a message is 404 CHAT_MESSAGE_NOT_FOUND, a deleted message 409 CHAT_MESSAGE_DELETED',
        body: EditMessageBody,
        response: { 201: RoomEvent, ...errors(400, 401, 403, 404, 409, 413, 415, 429) }
      }
    },
    async (request, reply) => reply.code(201).send(await rooms.edit(request.auth.userId, request.body))
  )

  app.post(
    '/rooms/message/delete',
    {
      config: { rateLimit: app.rateLimits.message },
      schema: {
        tags: ['messages'],
        summary:
          'Delete a message (its author or the room owner, else 403 CHAT_FORBIDDEN): its text is erased from ' +
          'storage, with the text of its edits, and its reactions removed; stores message.deleted. Deleting ' +
          'again returns the first deletion with 200',
        body: DeleteMessageBody,
        response: { 201: RoomEvent, 200: RoomEvent, ...errors(400, 401, 403, 404, 413, 415, 429) }
      }
    },
    async (request, reply) => {
      const { event, created } = await rooms.deleteMessage(request.auth.userId, request.body)
      return reply.code(created ? 201 : 200).send(event)
    }
  )

  app.post(
    '/rooms/message/react',
    {
      config: { rateLimit: app.rateLimits.message },
      schema: {
        tags: ['messages'],
        summary:
          'Add a reaction to a message, or take it back with remove: true (members; 409 CHAT_MESSAGE_DELETED on ' +
          'a deleted message); a change that changes nothing is 204 and stores nothing',
        body: ReactBody,
        response: { 201: RoomEvent, 204: NoContent, ...errors(400, 401, 403, 404, 409, 413, 415, 429) }
      }
    },
    async (request, reply) => {
      const event = await rooms.react(request.auth.userId, request.body)
      return event ? reply.code(201).send(event) : reply.code(204).send(null)
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
