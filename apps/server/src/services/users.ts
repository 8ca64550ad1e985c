// What an account change means: registration, login, refresh, logout, profile changes and deletion. Only the
// user themself may change or delete their account. Login answers an unknown user exactly as a wrong password.
// Deleting a user is one transaction (their row loses its name and password, they leave or delete their rooms);
// after the commit their sessions end and the rooms service announces the room changes.
import fp from 'fastify-plugin'
import { Value } from 'typebox/value'
import {
  Username,
  type LoginBody,
  type RegisterBody,
  type Session,
  type UpdateUserBody,
  type User
} from '@chat/contracts'
import type { Database } from '@chat/db'
import {
  CurrentPasswordRequired,
  Forbidden,
  InvalidCredentials,
  UserNotFound,
  UsernameTaken,
  WrongPassword,
  isUniqueViolation
} from '../errors.ts'
import type { AccessTokens, AuthContext } from '../plugins/auth.ts'
import type { Passwords } from '../plugins/passwords.ts'
import type { Sessions, StartedSession } from '../plugins/sessions.ts'
import {
  findLiveUser,
  findLiveUserByName,
  insertUser,
  listUsers,
  markUserDeleted,
  toUser,
  updateUser,
  type UserRow
} from '../repositories/users.ts'
import type { RoomsService } from './rooms.ts'

declare module 'fastify' {
  interface FastifyInstance {
    users: UsersService
  }
}

export interface UsersDeps {
  db: Database
  passwords: Passwords
  sessions: Sessions
  accessTokens: AccessTokens
  rooms: RoomsService
}

export class UsersService {
  readonly #deps: UsersDeps

  constructor(deps: UsersDeps) {
    this.#deps = deps
  }

  async register({ username, password, displayName }: RegisterBody): Promise<User> {
    const name = username.toLowerCase()
    const passwordHash = await this.#deps.passwords.hash(password)
    try {
      return toUser(await insertUser(this.#deps.db, { username: name, displayName: displayName ?? name, passwordHash }))
    } catch (error) {
      if (isUniqueViolation(error)) throw new UsernameTaken()
      throw error
    }
  }

  async login({ username, password }: LoginBody): Promise<Session> {
    // A name registration would refuse belongs to nobody, so it is not looked up (PostgreSQL itself refuses
    // some, NUL among them); it gets the answer of an unknown user, after the same hash check.
    const name = username.toLowerCase()
    const user = Value.Check(Username, name) ? await findLiveUserByName(this.#deps.db, name) : undefined
    // The hash is verified even for an unknown user, so both answers take as long.
    const ok = await this.#deps.passwords.verify(user?.passwordHash, password)
    if (!user || !ok) throw new InvalidCredentials()
    return this.#session(await this.#deps.sessions.start(user.id), user)
  }

  async refresh(refreshToken: string): Promise<Session> {
    const started = await this.#deps.sessions.refresh(refreshToken)
    return this.#session(started, await this.#live(started.userId))
  }

  logout(auth: AuthContext): Promise<void> {
    return this.#deps.sessions.revoke([auth.sessionId], 'logout')
  }

  async get(userId: string): Promise<User> {
    return toUser(await this.#live(userId))
  }

  list(query: { q?: string | undefined; limit: number; cursor?: string | undefined }) {
    return listUsers(this.#deps.db, query)
  }

  /** A new password needs the current one and ends the user's other sessions. */
  async update(auth: AuthContext, userId: string, body: UpdateUserBody): Promise<User> {
    const user = await this.#ownAccount(auth, userId, 'change their profile')
    const { displayName, password, currentPassword } = body
    const changes: { displayName?: string; passwordHash?: string } = {}
    if (displayName !== undefined) changes.displayName = displayName
    if (password !== undefined) {
      if (currentPassword === undefined) throw new CurrentPasswordRequired()
      if (!(await this.#deps.passwords.verify(user.passwordHash, currentPassword))) throw new WrongPassword()
      changes.passwordHash = await this.#deps.passwords.hash(password)
    }
    if (Object.keys(changes).length === 0) return toUser(user)
    const updated = await updateUser(this.#deps.db, userId, changes)
    if (!updated) throw new UserNotFound()
    if (password !== undefined) await this.#deps.sessions.revokeUser(userId, 'password_changed', auth.sessionId)
    return toUser(updated)
  }

  /** Sessions end, owned rooms are deleted, other rooms left; messages stay, by "Deleted user". */
  async remove(auth: AuthContext, userId: string): Promise<void> {
    await this.#ownAccount(auth, userId, 'delete their account')
    const { db, rooms, sessions } = this.#deps
    const changes = await db.transaction(async (tx) => {
      await markUserDeleted(tx, userId)
      return rooms.removeUser(tx, userId)
    })
    await sessions.revokeUser(userId, 'user_deleted')
    await rooms.announce(changes)
  }

  async #live(userId: string): Promise<UserRow> {
    const user = await findLiveUser(this.#deps.db, userId)
    if (!user) throw new UserNotFound()
    return user
  }

  /** 404 for an unknown user, 403 for someone else's account. */
  async #ownAccount(auth: AuthContext, userId: string, what: string): Promise<UserRow> {
    const user = await this.#live(userId)
    if (userId !== auth.userId) throw new Forbidden(`Only the user themself may ${what}`)
    return user
  }

  #session({ userId, sessionId, refreshToken }: StartedSession, user: UserRow): Session {
    const { accessTokens } = this.#deps
    return {
      accessToken: accessTokens.issue(userId, sessionId),
      refreshToken,
      tokenType: 'Bearer',
      expiresIn: accessTokens.ttl,
      user: toUser(user)
    }
  }
}

export default fp(
  async (app) => {
    const { db, passwords, sessions, accessTokens, rooms } = app
    app.decorate('users', new UsersService({ db, passwords, sessions, accessTokens, rooms }))
  },
  { name: 'users-service', dependencies: ['db', 'passwords', 'sessions', 'auth', 'rooms-service'] }
)
