// Changing and deleting an account: only the owner may, a password change needs the current password and
// ends every other session, and a deleted account is gone for good (sessions, profile, login) while its name
// becomes free again.
import t from 'tap'
import { randomUUID } from 'node:crypto'
import { as, assertError, build, login, signUp, type TestUser } from '../helper.ts'

const refresh = (app: Awaited<ReturnType<typeof build>>, refreshToken: string) =>
  app.inject({ method: 'POST', url: '/auth/refresh', payload: { refreshToken } })

t.test('PATCH /users/:userId', async (t) => {
  const app = await build(t)
  const patch = (user: TestUser, id: string, payload: object) =>
    as(app, user, { method: 'PATCH', url: `/users/${id}`, payload })

  t.test('changes the display name, and the change is what others then read', async (t) => {
    const alice = await signUp(app)
    const bob = await signUp(app)
    const res = await patch(alice, alice.id, { displayName: 'Alice A.' })
    t.equal(res.statusCode, 200)
    t.same(Object.keys(res.json()).sort(), ['createdAt', 'displayName', 'id', 'username'])
    t.match(res.json(), { id: alice.id, username: alice.username, displayName: 'Alice A.' })
    const seen = await as(app, bob, { method: 'GET', url: `/users/${alice.id}` })
    t.equal(seen.json().displayName, 'Alice A.')
  })

  t.test('an empty patch changes nothing and still answers the user', async (t) => {
    const alice = await signUp(app)
    const res = await patch(alice, alice.id, {})
    t.equal(res.statusCode, 200)
    t.match(res.json(), { id: alice.id, displayName: alice.username })
  })

  t.test("someone else's profile is 403 CHAT_FORBIDDEN and stays as it was", async (t) => {
    const alice = await signUp(app)
    const mallory = await signUp(app)
    assertError(t, await patch(mallory, alice.id, { displayName: 'pwned' }), 403, 'CHAT_FORBIDDEN')
    assertError(
      t,
      await patch(mallory, alice.id, { password: 'new password 1', currentPassword: mallory.password }),
      403,
      'CHAT_FORBIDDEN'
    )
    t.equal((await as(app, alice, { method: 'GET', url: '/users/me' })).json().displayName, alice.username)
    t.ok(await login(app, alice.username, alice.password), 'her password still works')
  })

  t.test('an unknown id is 404, a malformed one 400, no token 401', async (t) => {
    const alice = await signUp(app)
    assertError(t, await patch(alice, randomUUID(), { displayName: 'x' }), 404, 'CHAT_USER_NOT_FOUND')
    assertError(t, await patch(alice, 'nope', { displayName: 'x' }), 400, 'FST_ERR_VALIDATION')
    const anonymous = await app.inject({ method: 'PATCH', url: `/users/${alice.id}`, payload: { displayName: 'x' } })
    assertError(t, anonymous, 401, 'CHAT_UNAUTHORIZED')
  })

  t.test('a new password without currentPassword is 400, with a wrong one 403 CHAT_WRONG_PASSWORD', async (t) => {
    const alice = await signUp(app)
    assertError(
      t,
      await patch(alice, alice.id, { password: 'brand new password' }),
      400,
      'CHAT_CURRENT_PASSWORD_REQUIRED'
    )
    assertError(
      t,
      await patch(alice, alice.id, { password: 'brand new password', currentPassword: 'not my password' }),
      403,
      'CHAT_WRONG_PASSWORD'
    )
    // A refused change changes nothing, not even the display name sent alongside it.
    assertError(
      t,
      await patch(alice, alice.id, { displayName: 'half', password: 'brand new password', currentPassword: 'nope!!' }),
      403,
      'CHAT_WRONG_PASSWORD'
    )
    t.equal((await as(app, alice, { method: 'GET', url: '/users/me' })).json().displayName, alice.username)
    t.ok(await login(app, alice.username, alice.password), 'the old password still works')
    const newLogin = await app.inject({
      method: 'POST',
      url: '/auth/login',
      payload: { username: alice.username, password: 'brand new password' }
    })
    assertError(t, newLogin, 401, 'CHAT_INVALID_CREDENTIALS')
  })

  t.test('a password change ends the other sessions, keeps the current one, and swaps the password', async (t) => {
    const alice = await signUp(app)
    const other = await login(app, alice.username, alice.password)
    const third = await login(app, alice.username, alice.password)
    const bob = await signUp(app)
    const res = await patch(alice, alice.id, { password: 'a much better password', currentPassword: alice.password })
    t.equal(res.statusCode, 200)
    t.match(res.json(), { id: alice.id })

    for (const session of [other, third]) {
      assertError(t, await as(app, session, { method: 'GET', url: '/users/me' }), 401, 'CHAT_UNAUTHORIZED')
      assertError(t, await refresh(app, session.refreshToken), 401, 'CHAT_INVALID_REFRESH_TOKEN')
    }
    t.equal((await as(app, alice, { method: 'GET', url: '/users/me' })).statusCode, 200, 'this session goes on')
    const rotated = await refresh(app, alice.refreshToken)
    t.equal(rotated.statusCode, 200, "and so does this session's refresh token")
    t.equal((await as(app, bob, { method: 'GET', url: '/users/me' })).statusCode, 200, "other users' sessions live")

    const oldLogin = await app.inject({
      method: 'POST',
      url: '/auth/login',
      payload: { username: alice.username, password: alice.password }
    })
    assertError(t, oldLogin, 401, 'CHAT_INVALID_CREDENTIALS')
    t.ok(await login(app, alice.username, 'a much better password'), 'the new password logs in')
  })
})

t.test('DELETE /users/:userId', async (t) => {
  const app = await build(t)
  const remove = (user: TestUser, id: string) => as(app, user, { method: 'DELETE', url: `/users/${id}` })

  t.test("someone else's account is 403 and stays", async (t) => {
    const alice = await signUp(app)
    const mallory = await signUp(app)
    assertError(t, await remove(mallory, alice.id), 403, 'CHAT_FORBIDDEN')
    t.equal((await as(app, alice, { method: 'GET', url: '/users/me' })).statusCode, 200)
    t.equal((await as(app, mallory, { method: 'GET', url: `/users/${alice.id}` })).statusCode, 200)
  })

  t.test('an unknown id is 404, a malformed one 400, no token 401', async (t) => {
    const alice = await signUp(app)
    assertError(t, await remove(alice, randomUUID()), 404, 'CHAT_USER_NOT_FOUND')
    assertError(t, await remove(alice, 'nope'), 400, 'FST_ERR_VALIDATION')
    assertError(t, await app.inject({ method: 'DELETE', url: `/users/${alice.id}` }), 401, 'CHAT_UNAUTHORIZED')
  })

  t.test('deleting oneself ends every session, hides the profile, refuses the login, frees the name', async (t) => {
    const alice = await signUp(app)
    const other = await login(app, alice.username, alice.password)
    const bob = await signUp(app)

    const res = await remove(alice, alice.id)
    t.equal(res.statusCode, 204)
    t.equal(res.body, '')

    for (const session of [alice, other]) {
      assertError(t, await as(app, session, { method: 'GET', url: '/users/me' }), 401, 'CHAT_UNAUTHORIZED')
      assertError(t, await refresh(app, session.refreshToken), 401, 'CHAT_INVALID_REFRESH_TOKEN')
    }
    assertError(t, await remove(alice, alice.id), 401, 'CHAT_UNAUTHORIZED')
    assertError(t, await as(app, bob, { method: 'GET', url: `/users/${alice.id}` }), 404, 'CHAT_USER_NOT_FOUND')
    const listed = await as(app, bob, { method: 'GET', url: `/users?q=${alice.username}` })
    t.same(listed.json().items, [], 'no longer listed')
    const loginRes = await app.inject({
      method: 'POST',
      url: '/auth/login',
      payload: { username: alice.username, password: alice.password }
    })
    assertError(t, loginRes, 401, 'CHAT_INVALID_CREDENTIALS')

    const again = await app.inject({
      method: 'POST',
      url: '/users',
      payload: { username: alice.username, password: 'someone new here' }
    })
    t.equal(again.statusCode, 201, 'the name can be registered again')
    t.not(again.json().id, alice.id, 'by a new user')
    t.equal(again.json().displayName, alice.username)
    const newcomer = await login(app, alice.username, 'someone new here')
    t.equal((await as(app, newcomer, { method: 'GET', url: '/users/me' })).json().id, again.json().id)
    t.equal((await as(app, bob, { method: 'GET', url: '/users/me' })).statusCode, 200, "bob's session lives on")
  })
})
