// The users table on a fresh database: a username is unique among live users and free again once its user is
// deleted; a deleted user cannot be updated or found; listUsers searches by prefix, taking `%` and `_`
// literally, and pages by username.
import t from 'tap'
import { fileDatabase, uniqueName } from '../helper.ts'
import { isUniqueViolation } from '../../src/errors.ts'
import {
  findLiveUser,
  findLiveUserByName,
  insertUser,
  listUsers,
  markUserDeleted,
  updateUser
} from '../../src/repositories/users.ts'

const db = await fileDatabase()

const newUser = (username = uniqueName()) => insertUser(db, { username, displayName: username, passwordHash: 'x' })
const remove = (id: string) => db.transaction((tx) => markUserDeleted(tx, id))

t.test('a username is unique among live users, and free again once its user is deleted', async (t) => {
  const name = uniqueName()
  const first = await newUser(name)
  t.equal(first.username, name)
  const taken = await newUser(name).then(
    () => null,
    (error: unknown) => error
  )
  t.ok(isUniqueViolation(taken), 'a second live user of the name is refused by the unique index')

  await remove(first.id)
  t.equal(await findLiveUser(db, first.id), undefined, 'a deleted user is not found')
  t.equal(await findLiveUserByName(db, name), undefined)
  const second = await newUser(name)
  t.not(second.id, first.id, 'the name went to a new user')
  t.equal((await findLiveUserByName(db, name))?.id, second.id)

  await remove(second.id)
  t.ok(await newUser(name), 'and again: deleted users do not collide with each other')
})

t.test('a deleted user keeps the row but loses name, password and profile', async (t) => {
  const user = await newUser()
  await remove(user.id)
  const [row] = await db.query.users.findMany({ where: (users, { eq }) => eq(users.id, user.id) })
  t.match(row, { id: user.id, username: 'deleted', displayName: 'Deleted user', passwordHash: null })
  t.type(row?.deletedAt, Date)
})

t.test('updateUser changes a live user; of a deleted user it is undefined', async (t) => {
  const user = await newUser()
  const updated = await updateUser(db, user.id, { displayName: 'New Name' })
  t.equal(updated?.displayName, 'New Name')
  t.equal(updated?.username, user.username)
  await remove(user.id)
  t.equal(await updateUser(db, user.id, { displayName: 'Ghost' }), undefined)
  t.equal(await updateUser(db, user.id, { passwordHash: 'y' }), undefined)
})

t.test('listUsers: prefix search takes % and _ literally, and pages by username', async (t) => {
  const p = uniqueName('q')
  const names = [`${p}_a%b`, `${p}_a_b`, `${p}_axb`, `${p}_ab`, `${p}_a\\b`]
  for (const name of names) await newUser(name)
  const search = async (q: string) => (await listUsers(db, { q, limit: 100 })).items.map((u) => u.username)

  t.same(await search(`${p}_a%`), [`${p}_a%b`], '% is a character, not a wildcard')
  t.same(await search(`${p}_a_`), [`${p}_a_b`], '_ is a character, not a wildcard')
  t.same(await search(`${p}_a\\`), [`${p}_a\\b`], 'a backslash is a character too')
  t.same(await search(`${p}_a`), [...names].sort(), 'a plain prefix finds them all, by username')
  t.same(await search(p.toUpperCase()), [...names].sort(), 'the search is case-insensitive')
  t.same(await search(`${p}_z`), [])

  const deleted = await newUser(`${p}_zz`)
  await remove(deleted.id)
  t.same(await search(`${p}_z`), [], 'deleted users are not listed')

  const pages: string[][] = []
  let cursor: string | undefined
  do {
    const page = await listUsers(db, { q: p, limit: 2, cursor })
    pages.push(page.items.map((u) => u.username))
    cursor = page.nextCursor ?? undefined
  } while (cursor)
  t.same(pages.flat(), [...names].sort(), 'pages of two walk the whole list in order')
  t.same(
    pages.map((page) => page.length),
    [2, 2, 1]
  )
})
