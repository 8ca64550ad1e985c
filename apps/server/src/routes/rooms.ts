// Rooms and memberships. Any signed-in user can find and join a room; only members list its members; only
// the owner deletes it. Events are published on the bus only after their transaction committed.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import {
  CreateRoomBody,
  Member,
  Page,
  Room,
  RoomIdBody,
  RoomListQuery,
  RoomParams,
  PageQuery,
  errors
} from '@chat/contracts'
import { RoomNotFound } from '../errors.ts'
import {
  createRoom,
  deleteRoom,
  findRoom,
  joinRoom,
  leaveRoom,
  listMembers,
  listRooms,
  requireMember,
  toRoom
} from '../repositories/rooms.ts'

const NoContent = Type.Null({ description: 'No content' })

const roomRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.addHook('onRequest', app.authenticate)
  const { realtime } = app

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
    async (request, reply) => {
      const room = await createRoom(app.db, request.auth.userId, request.body.name, request.body.topic ?? null)
      return reply.code(201).send(room)
    }
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
      await deleteRoom(app.db, request.body.roomId, request.auth.userId)
      await realtime.publishRoomDeleted(request.body.roomId)
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
    async (request) => {
      const { room, event } = await joinRoom(app.db, request.body.roomId, request.auth.userId)
      if (event) await realtime.publishEvent(event)
      return room
    }
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
      const event = await leaveRoom(app.db, request.body.roomId, request.auth.userId)
      if (event) await realtime.publishEvent(event)
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
    async (request) =>
      listRooms(app.db, request.auth.userId, {
        mine: request.query.mine ?? false,
        limit: request.query.limit ?? 50,
        cursor: request.query.cursor
      })
  )

  app.get(
    '/rooms/:roomId',
    {
      schema: {
        tags: ['rooms'],
        summary: 'One room (any signed-in user, so rooms can be found and joined)',
        params: RoomParams,
        response: { 200: Room, ...errors(400, 401, 404) }
      }
    },
    async (request) => {
      const room = await findRoom(app.db, request.params.roomId)
      if (!room) throw new RoomNotFound()
      return toRoom(room)
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
      await requireMember(app.db, request.params.roomId, request.auth.userId)
      return listMembers(app.db, request.params.roomId, {
        limit: request.query.limit ?? 50,
        cursor: request.query.cursor
      })
    }
  )
}

export default roomRoutes
