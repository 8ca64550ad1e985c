// Users and sessions: the bodies and responses of registration, login, refresh, logout and profile routes.
import { Type, type Static } from 'typebox'
import { NO_LONE_SURROGATES, SINGLE_LINE, Timestamp, Uuid, PageQuery } from './common.ts'

export const Username = Type.String({
  minLength: 3,
  maxLength: 32,
  pattern: '^[A-Za-z0-9_.-]+$',
  description: '3–32 of a-z 0-9 _ . - (lowercased: Alice is alice)'
})
export const Password = Type.String({
  minLength: 8,
  maxLength: 256,
  pattern: NO_LONE_SURROGATES,
  description: '8–256 characters, compared exactly as sent (no lone surrogates: they cannot be)'
})
export const DisplayName = Type.String({ minLength: 1, maxLength: 64, pattern: SINGLE_LINE })

export const User = Type.Object({
  id: Uuid,
  username: Type.String(),
  displayName: Type.String(),
  createdAt: Timestamp
})
export type User = Static<typeof User>

export const Session = Type.Object({
  accessToken: Type.String(),
  refreshToken: Type.String(),
  tokenType: Type.Literal('Bearer'),
  expiresIn: Type.Integer({ description: 'access token lifetime in seconds' }),
  user: User
})
export type Session = Static<typeof Session>

export const RegisterBody = Type.Object(
  { username: Username, password: Password, displayName: Type.Optional(DisplayName) },
  { additionalProperties: false }
)
export type RegisterBody = Static<typeof RegisterBody>

export const LoginBody = Type.Object(
  {
    username: Type.String({ minLength: 1, maxLength: 64, pattern: NO_LONE_SURROGATES }),
    password: Type.String({ minLength: 1, maxLength: 256, pattern: NO_LONE_SURROGATES })
  },
  { additionalProperties: false }
)
export type LoginBody = Static<typeof LoginBody>

export const RefreshBody = Type.Object(
  {
    // Any string: one that is not a live refresh token of ours (empty, garbage, an access token) is a 401
    // CHAT_INVALID_REFRESH_TOKEN, never a validation error; the body limit bounds its length.
    refreshToken: Type.String({ description: 'from a Session; anything else is 401 CHAT_INVALID_REFRESH_TOKEN' })
  },
  { additionalProperties: false }
)
export type RefreshBody = Static<typeof RefreshBody>

export const EmptyBody = Type.Object({}, { additionalProperties: false })

export const UserParams = Type.Object({ userId: Uuid }, { additionalProperties: false })
export type UserParams = Static<typeof UserParams>

export const UserListQuery = Type.Object(
  {
    ...PageQuery.properties,
    q: Type.Optional(Type.String({ maxLength: 32, pattern: '^[A-Za-z0-9_.-]*$', description: 'username prefix' }))
  },
  { additionalProperties: false }
)
export type UserListQuery = Static<typeof UserListQuery>

export const UpdateUserBody = Type.Object(
  {
    displayName: Type.Optional(DisplayName),
    password: Type.Optional(Password),
    currentPassword: Type.Optional(Type.String({ minLength: 1, maxLength: 256, pattern: NO_LONE_SURROGATES }))
  },
  {
    additionalProperties: false,
    // A new password without the current one is a 400 CHAT_CURRENT_PASSWORD_REQUIRED.
    dependentRequired: { password: ['currentPassword'] },
    description: 'password needs currentPassword'
  }
)
export type UpdateUserBody = Static<typeof UpdateUserBody>
