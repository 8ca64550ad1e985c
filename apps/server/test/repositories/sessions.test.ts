// Sessions and refresh tokens on a fresh database: a refresh token rotates once only, an expired one not at all,
// and a rotated one leads back to its session; revocations return exactly the sessions they ended (so a second
// one returns none), sparing the one session named; live sessions exclude revoked ones and deleted users.
import t from 'tap'
import { randomBytes } from 'node:crypto'
import { fileDatabase, uniqueName } from '../helper.ts'
import {
  insertSession,
  prepareLiveSessions,
  revokeSessions,
  revokeUserSessions,
  rotateRefreshToken,
  sessionOfRotatedToken
} from '../../src/repositories/sessions.ts'
import { insertUser, markUserDeleted } from '../../src/repositories/users.ts'

const db = await fileDatabase()

const HOUR = 3_600_000
const newUser = async () => {
  const username = uniqueName()
  return insertUser(db, { username, displayName: username, passwordHash: 'x' })
}
const token = (expiresInMs = HOUR) => ({
  hash: randomBytes(16).toString('hex'),
  expiresAt: new Date(Date.now() + expiresInMs)
})
const liveSessions = prepareLiveSessions(db)
const live = async (ids: string[]) => (await liveSessions.execute({ ids })).map((row) => row.id).sort()

t.test('a refresh token rotates once only; the rotated one leads back to its session', async (t) => {
  const user = await newUser()
  const first = token()
  const sessionId = await insertSession(db, user.id, first)
  t.equal(await sessionOfRotatedToken(db, first.hash), undefined, 'not rotated yet')

  const second = token()
  t.same(await rotateRefreshToken(db, first.hash, second, new Date()), { sessionId, userId: user.id })
  t.equal(await rotateRefreshToken(db, first.hash, token(), new Date()), null, 'a second rotation gives null')
  t.equal(await sessionOfRotatedToken(db, first.hash), sessionId, 'the rotated token names its session')
  t.equal(await sessionOfRotatedToken(db, second.hash), undefined, 'the new token is not rotated')

  const third = token()
  t.same(await rotateRefreshToken(db, second.hash, third, new Date()), { sessionId, userId: user.id })
  t.equal(await rotateRefreshToken(db, randomBytes(16).toString('hex'), token(), new Date()), null, 'unknown')
})

t.test('an expired refresh token does not rotate', async (t) => {
  const user = await newUser()
  const expired = token(-1000)
  await insertSession(db, user.id, expired)
  t.equal(await rotateRefreshToken(db, expired.hash, token(), new Date()), null)
  const soon = token(HOUR)
  await insertSession(db, user.id, soon)
  t.equal(await rotateRefreshToken(db, soon.hash, token(), new Date(Date.now() + 2 * HOUR)), null, 'past its expiry')
  t.equal(await sessionOfRotatedToken(db, expired.hash), undefined, 'nothing was rotated')
})

t.test('a token of a revoked session or a deleted user does not rotate', async (t) => {
  const user = await newUser()
  const revoked = token()
  await revokeSessions(db, [await insertSession(db, user.id, revoked)], 'logout')
  t.equal(await rotateRefreshToken(db, revoked.hash, token(), new Date()), null)
  const other = token()
  await insertSession(db, user.id, other)
  await db.transaction((tx) => markUserDeleted(tx, user.id))
  t.equal(await rotateRefreshToken(db, other.hash, token(), new Date()), null)
})

t.test('revokeSessions returns only what it revoked', async (t) => {
  const user = await newUser()
  const [a, b, c] = [
    await insertSession(db, user.id, token()),
    await insertSession(db, user.id, token()),
    await insertSession(db, user.id, token())
  ]
  t.same(await revokeSessions(db, [a], 'logout'), [a])
  t.same(await revokeSessions(db, [a], 'logout'), [], 'a second revocation revokes nothing')
  t.same((await revokeSessions(db, [a, b], 'refresh_reuse')).sort(), [b], 'only the one still live')
  t.same(await revokeSessions(db, [], 'logout'), [])
  t.same(await live([a, b, c]), [c])
})

t.test('revokeUserSessions ends every live session of the user but the one named', async (t) => {
  const [user, other] = [await newUser(), await newUser()]
  const mine = [
    await insertSession(db, user.id, token()),
    await insertSession(db, user.id, token()),
    await insertSession(db, user.id, token())
  ]
  const theirs = await insertSession(db, other.id, token())
  await revokeSessions(db, [mine[0]!], 'logout')
  t.same(
    await revokeUserSessions(db, user.id, 'password_changed', mine[2]),
    [mine[1]],
    'not the one revoked before, not the one spared'
  )
  t.same(await revokeUserSessions(db, user.id, 'password_changed', mine[2]), [], 'idempotent')
  t.same(await live([...mine, theirs]), [mine[2]!, theirs].sort(), "another user's session is untouched")
  t.same(await revokeUserSessions(db, user.id, 'user_deleted'), [mine[2]], 'without an exception, the last one')
})

t.test('live sessions exclude revoked sessions and deleted users', async (t) => {
  const [kept, revoked, deleted] = [await newUser(), await newUser(), await newUser()]
  const sessions = {
    kept: await insertSession(db, kept.id, token()),
    revoked: await insertSession(db, revoked.id, token()),
    deleted: await insertSession(db, deleted.id, token())
  }
  t.same(await live(Object.values(sessions)), Object.values(sessions).sort())
  await revokeSessions(db, [sessions.revoked], 'logout')
  await db.transaction((tx) => markUserDeleted(tx, deleted.id))
  const rows = await liveSessions.execute({ ids: Object.values(sessions) })
  t.same(rows, [{ id: sessions.kept, userId: kept.id }], 'the live one, with its user')
  t.same(await live([]), [])
})
