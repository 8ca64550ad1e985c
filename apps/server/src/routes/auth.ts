// Login, refresh and logout. Login answers an unknown user exactly as it answers a wrong password.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { EmptyBody, LoginBody, RefreshBody, Session, errors } from '@chat/contracts'
import { Type } from 'typebox'
import { InvalidCredentials, UserNotFound } from '../errors.ts'
import { findLiveUser, findLiveUserByName, toUser } from '../repositories/users.ts'

const auth: FastifyPluginAsyncTypebox = async (app) => {
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
    async (request) => {
      const user = await findLiveUserByName(app.db, request.body.username.toLowerCase())
      const ok = await app.passwords.verify(user?.passwordHash, request.body.password)
      if (!user || !ok) throw new InvalidCredentials()
      return { ...(await app.sessions.start(user.id)), user: toUser(user) }
    }
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
    async (request) => {
      const tokens = await app.sessions.refresh(request.body.refreshToken)
      const user = await findLiveUser(app.db, tokens.userId)
      if (!user) throw new UserNotFound()
      const { userId: _userId, ...session } = tokens
      return { ...session, user: toUser(user) }
    }
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
        response: { 204: Type.Null({ description: 'No content' }), ...errors(400, 401) }
      }
    },
    async (request, reply) => {
      await app.sessions.revoke([request.auth.sessionId], 'logout')
      return reply.code(204).send(null)
    }
  )
}

export default auth
