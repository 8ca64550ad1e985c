// Rooms and memberships. Any signed-in user can find and join a room; only members list its members, move their
// read marker or say they are typing; only the owner deletes it. Each route is its schema and one service call.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import {
  CreateRoomBody,
  Member,
  NoContent,
  Page,
  PageQuery,
  ReadBody,
  Room,
  RoomIdBody,
  RoomListQuery,
  RoomParams,
  TypingBody,
  errors
} from '@chat/contracts'

const roomRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.addHook('onRequest', app.authenticate)
  const { rooms } = app

  app.post(
    '/rooms/create',
    {
      schema: {
        tags: ['rooms'],
        summary: 'Create a room; the creator is its owner and first member (no event is stored)',
        body: CreateRoomBody,
        response: { 201: Room, ...errors(400, 401, 413, 415) }
      }
    },
    async (request, reply) => reply.code(201).send(await rooms.create(request.auth.userId, request.body))
  )

  app.post(
    '/rooms/delete',
    {
      schema: {
        tags: ['rooms'],
        summary: 'Delete a room (owner only); its open streams get room.deleted, then close',
        body: RoomIdBody,
        response: { 204: NoContent, ...errors(400, 401, 403, 404) }
      }
    },
    async (request, reply) => {
      await rooms.delete(request.auth.userId, request.body.roomId)
      return reply.code(204).send(null)
    }
  )

  app.post(
    '/rooms/join',
    {
      schema: {
        tags: ['rooms'],
        summary: 'Join a room (idempotent: member.joined is emitted once)',
        body: RoomIdBody,
        response: { 200: Room, ...errors(400, 401, 404) }
      }
    },
    async (request) => rooms.join(request.auth.userId, request.body.roomId)
  )

  app.post(
    '/rooms/leave',
    {
      schema: {
        tags: ['rooms'],
        summary: "Leave a room (idempotent); emits member.left and closes the leaver's streams of the room",
        body: RoomIdBody,
        response: { 204: NoContent, ...errors(400, 401, 404, 409) }
      }
    },
    async (request, reply) => {
      await rooms.leave(request.auth.userId, request.body.roomId)
      return reply.code(204).send(null)
    }
  )

  app.get(
    '/rooms',
    {
      schema: {
        tags: ['rooms'],
        summary: 'List rooms, newest first; ?mine=true: only rooms the caller is a member of',
        querystring: RoomListQuery,
        response: { 200: Page(Room), ...errors(400, 401) }
      }
    },
    async (request) => {
      const { mine = false, limit = 50, cursor } = request.query
      return rooms.list(request.auth.userId, { mine, limit, cursor })
    }
  )

  app.get(
    '/rooms/:roomId',
    {
      schema: {
        tags: ['rooms'],
        summary:
          'One room (any signed-in user, so rooms can be found and joined); lastReadSeq and unreadCount are the ' +
          "caller's, null when the caller is not a member",
        params: RoomParams,
        response: { 200: Room, ...errors(400, 401, 404) }
      }
    },
    async (request) => rooms.get(request.params.roomId, request.auth.userId)
  )

  app.post(
    '/rooms/read',
    {
      schema: {
        tags: ['rooms'],
        summary:
          "Move the caller's read marker forward to seq (members only); a lower seq changes nothing; past the " +
          "room's lastSeq: 400 CHAT_SEQ_OUT_OF_RANGE. The caller's own streams and sockets get event: read",
        body: ReadBody,
        response: { 204: NoContent, ...errors(400, 401, 403, 404, 413, 415) }
      }
    },
    async (request, reply) => {
      await rooms.read(request.auth.userId, request.body)
      return reply.code(204).send(null)
    }
  )

  app.post(
    '/rooms/typing',
    {
      config: { rateLimit: app.rateLimits.typing },
      schema: {
        tags: ['rooms'],
        summary:
          'Say the caller is typing (typing: true, the default, lasts 6 s unless sent again) or stopped; the other ' +
          "members' streams on every node get event: typing; a repeat within 2 s is not sent again; a room shows at " +
          'most TYPING_MAX_PER_ROOM (5) typists at once, a start past that is heard once one stops (members only)',
        body: TypingBody,
        response: { 204: NoContent, ...errors(400, 401, 403, 404, 413, 415, 429, 503) }
      }
    },
    async (request, reply) => {
      await app.typing.set(request.auth.userId, request.body)
      return reply.code(204).send(null)
    }
  )

  app.get(
    '/rooms/:roomId/members',
    {
      schema: {
        tags: ['rooms'],
        summary: 'Members of a room, by username (members only)',
        params: RoomParams,
        querystring: PageQuery,
        response: { 200: Page(Member), ...errors(400, 401, 403, 404) }
      }
    },
    async (request) => {
      const { limit = 50, cursor } = request.query
      return rooms.members(request.auth.userId, request.params.roomId, { limit, cursor })
    }
  )
}

export default roomRoutes
