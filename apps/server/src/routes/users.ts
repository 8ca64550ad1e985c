// Registration and profiles. Each route is its schema and one call of the users service, which says who may
// change what.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { NoContent, Page, RegisterBody, UpdateUserBody, User, UserListQuery, UserParams, errors } from '@chat/contracts'

const userRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { users } = app

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
    async (request, reply) => reply.code(201).send(await users.register(request.body))
  )

  app.get(
    '/users',
    {
      onRequest: app.authenticate,
      schema: {
        tags: ['users'],
        summary: 'List users, by username; ?q= is a username prefix',
        querystring: UserListQuery,
        response: { 200: Page(User), ...errors(400, 401) }
      }
    },
    async (request) => {
      const { q, limit = 50, cursor } = request.query
      return users.list({ q, limit, cursor })
    }
  )

  app.get(
    '/users/me',
    {
      onRequest: app.authenticate,
      schema: { tags: ['users'], summary: 'The caller', response: { 200: User, ...errors(401, 404) } }
    },
    async (request) => users.get(request.auth.userId)
  )

  app.get(
    '/users/:userId',
    {
      onRequest: app.authenticate,
      schema: {
        tags: ['users'],
        summary: 'One user',
        params: UserParams,
        response: { 200: User, ...errors(400, 401, 404) }
      }
    },
    async (request) => users.get(request.params.userId)
  )

  app.patch(
    '/users/:userId',
    {
      onRequest: app.authenticate,
      schema: {
        tags: ['users'],
        summary: "Change one's display name or password (the latter needs currentPassword and ends the other sessions)",
        params: UserParams,
        body: UpdateUserBody,
        response: { 200: User, ...errors(400, 401, 403, 404, 413, 415) }
      }
    },
    async (request) => users.update(request.auth, request.params.userId, request.body)
  )

  app.delete(
    '/users/:userId',
    {
      onRequest: app.authenticate,
      schema: {
        tags: ['users'],
        summary: 'Delete one\'s account: sessions end, owned rooms are deleted, messages stay as "Deleted user"',
        params: UserParams,
        response: { 204: NoContent, ...errors(400, 401, 403, 404) }
      }
    },
    async (request, reply) => {
      await users.remove(request.auth, request.params.userId)
      return reply.code(204).send(null)
    }
  )
}

export default userRoutes
