// Registration and profiles. Only the user themself may change or delete their account.
import type { FastifyPluginAsyncTypebox, TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import { Page, RegisterBody, UpdateUserBody, User, UserListQuery, UserParams, errors } from '@chat/contracts'
import { tables, and, eq, isNull } from '@chat/db'
import { CurrentPasswordRequired, Forbidden, UserNotFound, UsernameTaken, WrongPassword } from '../errors.ts'
import {
  DELETED_DISPLAY_NAME,
  DELETED_USERNAME,
  findLiveUser,
  isUniqueViolation,
  listUsers,
  toUser
} from '../repositories/users.ts'
import { removeUserFromRooms } from '../repositories/rooms.ts'

const { users } = tables

const users_: FastifyPluginAsyncTypebox = async (app) => {
  app.post(
    '/users',
    {
      config: { rateLimit: app.rateLimits.auth },
      schema: {
        tags: ['users'],
        summary: 'Register',
        security: [],
        body: RegisterBody,
        response: { 201: User, ...errors(400, 409, 413, 415, 429, 503) }
      }
    },
    async (request, reply) => {
      const username = request.body.username.toLowerCase()
      const passwordHash = await app.passwords.hash(request.body.password)
      try {
        const [row] = await app.db
          .insert(users)
          .values({ username, displayName: request.body.displayName ?? username, passwordHash })
          .returning()
        return reply.code(201).send(toUser(row!))
      } catch (error) {
        if (isUniqueViolation(error)) throw new UsernameTaken()
        throw error
      }
    }
  )

  app.register(async (instance) => {
    const authed = instance.withTypeProvider<TypeBoxTypeProvider>()
    authed.addHook('onRequest', app.authenticate)

    authed.get(
      '/users',
      {
        schema: {
          tags: ['users'],
          summary: 'List users, by username; ?q= is a username prefix',
          querystring: UserListQuery,
          response: { 200: Page(User), ...errors(400, 401) }
        }
      },
      async (request) =>
        listUsers(app.db, { q: request.query.q, limit: request.query.limit ?? 50, cursor: request.query.cursor })
    )

    authed.get(
      '/users/me',
      { schema: { tags: ['users'], summary: 'The caller', response: { 200: User, ...errors(401, 404) } } },
      async (request) => {
        const user = await findLiveUser(app.db, request.auth.userId)
        if (!user) throw new UserNotFound()
        return toUser(user)
      }
    )

    authed.get(
      '/users/:userId',
      {
        schema: {
          tags: ['users'],
          summary: 'One user',
          params: UserParams,
          response: { 200: User, ...errors(400, 401, 404) }
        }
      },
      async (request) => {
        const user = await findLiveUser(app.db, request.params.userId)
        if (!user) throw new UserNotFound()
        return toUser(user)
      }
    )

    authed.patch(
      '/users/:userId',
      {
        schema: {
          tags: ['users'],
          summary:
            "Change one's display name or password (the latter needs currentPassword and ends the other sessions)",
          params: UserParams,
          body: UpdateUserBody,
          response: { 200: User, ...errors(400, 401, 403, 404, 413, 415) }
        }
      },
      async (request) => {
        const { userId } = request.params
        const user = await findLiveUser(app.db, userId)
        if (!user) throw new UserNotFound()
        if (userId !== request.auth.userId) throw new Forbidden('Only the user themself may change their profile')
        const { displayName, password, currentPassword } = request.body
        const changes: Partial<typeof users.$inferInsert> = {}
        if (displayName !== undefined) changes.displayName = displayName
        if (password !== undefined) {
          if (currentPassword === undefined) throw new CurrentPasswordRequired()
          if (!(await app.passwords.verify(user.passwordHash, currentPassword))) throw new WrongPassword()
          changes.passwordHash = await app.passwords.hash(password)
        }
        if (Object.keys(changes).length === 0) return toUser(user)
        const [updated] = await app.db
          .update(users)
          .set(changes)
          .where(and(eq(users.id, userId), isNull(users.deletedAt)))
          .returning()
        if (!updated) throw new UserNotFound()
        if (password !== undefined) await app.sessions.revokeUser(userId, 'password_changed', request.auth.sessionId)
        return toUser(updated)
      }
    )

    authed.delete(
      '/users/:userId',
      {
        schema: {
          tags: ['users'],
          summary: 'Delete one\'s account: sessions end, owned rooms are deleted, messages stay as "Deleted user"',
          params: UserParams,
          response: { 204: Type.Null({ description: 'No content' }), ...errors(400, 401, 403, 404) }
        }
      },
      async (request, reply) => {
        const { userId } = request.params
        const user = await findLiveUser(app.db, userId)
        if (!user) throw new UserNotFound()
        if (userId !== request.auth.userId) throw new Forbidden('Only the user themself may delete their account')
        const { deletedRoomIds, leftEvents } = await app.db.transaction(async (tx) => {
          await tx
            .update(users)
            .set({
              deletedAt: new Date(),
              username: DELETED_USERNAME,
              displayName: DELETED_DISPLAY_NAME,
              passwordHash: null
            })
            .where(eq(users.id, userId))
          return removeUserFromRooms(tx, userId)
        })
        await app.sessions.revokeUser(userId, 'user_deleted')
        for (const roomId of deletedRoomIds) await app.realtime.publishRoomDeleted(roomId)
        for (const event of leftEvents) await app.realtime.publishEvent(event)
        return reply.code(204).send(null)
      }
    )
  })
}

export default users_
