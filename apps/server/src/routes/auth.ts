// Login, refresh and logout: each route is its schema and one call of the users service.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { EmptyBody, LoginBody, NoContent, RefreshBody, Session, errors } from '@chat/contracts'

const authRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { users } = app

  app.post(
    '/auth/login',
    {
      config: { rateLimit: app.rateLimits.auth },
      schema: {
        tags: ['auth'],
        summary: 'Log in: a new session with an access and a refresh token',
        security: [],
        body: LoginBody,
        response: { 200: Session, ...errors(400, 401, 413, 415, 429, 503) }
      }
    },
    async (request) => users.login(request.body)
  )

  app.post(
    '/auth/refresh',
    {
      config: { rateLimit: app.rateLimits.auth },
      schema: {
        tags: ['auth'],
        summary: 'Trade a refresh token for new tokens; the old one stops working, and replaying it ends the session',
        security: [],
        body: RefreshBody,
        response: { 200: Session, ...errors(400, 401, 413, 415, 429) }
      }
    },
    async (request) => users.refresh(request.body.refreshToken)
  )

  app.post(
    '/auth/logout',
    {
      onRequest: app.authenticate,
      // An empty POST is a logout too.
      preValidation: async (request) => {
        request.body ??= {}
      },
      schema: {
        tags: ['auth'],
        summary: "End the caller's session: its tokens and open streams stop at once, on every node",
        body: EmptyBody,
        response: { 204: NoContent, ...errors(400, 401) }
      }
    },
    async (request, reply) => {
      await users.logout(request.auth)
      return reply.code(204).send(null)
    }
  )
}

export default authRoutes
