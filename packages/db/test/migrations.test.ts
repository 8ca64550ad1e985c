// Every node migrates at start, and in a cluster several start at once against the same PostgreSQL: the runs
// must serialise so each migration is applied exactly once and every node comes up. With PGlite there is one
// node, so what matters there is that starting again finds nothing left to do.
import t from 'tap'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import postgres from 'postgres'
import { PGlite } from '@electric-sql/pglite'
import { migrate, migrationsFolder } from '../src/index.ts'
import { scratchDatabase } from './fixtures/databases.ts'

// The tables of the first migration; later ones may add more.
const TABLES = ['memberships', 'refresh_tokens', 'room_events', 'rooms', 'sessions', 'users']

async function journalLength(): Promise<number> {
  const journal = JSON.parse(await readFile(join(migrationsFolder, 'meta', '_journal.json'), 'utf8'))
  return journal.entries.length
}

t.test('four nodes migrating one empty PostgreSQL at once', async (t) => {
  const url = await scratchDatabase(t)
  const db = postgres(url, { max: 1, onnotice: () => {} })
  t.teardown(() => db.end())

  const runs = await Promise.allSettled(Array.from({ length: 4 }, () => migrate({ kind: 'postgres', url })))
  t.same(
    runs.map((r) => r.status),
    ['fulfilled', 'fulfilled', 'fulfilled', 'fulfilled'],
    JSON.stringify(runs.filter((r) => r.status === 'rejected'))
  )

  const tables = (await db`select tablename from pg_tables where schemaname = 'public'`).map((r) => r.tablename)
  for (const table of TABLES) t.ok(tables.includes(table), `${table} exists`)
  const applied = await db`select hash, created_at from drizzle.__drizzle_migrations`
  t.equal(applied.length, await journalLength(), 'one row per migration')
  t.equal(new Set(applied.map((r) => r.hash)).size, applied.length, 'no migration recorded twice')

  await migrate({ kind: 'postgres', url })
  t.equal((await db`select 1 from drizzle.__drizzle_migrations`).length, applied.length, 'a later start adds nothing')
})

t.test('PGlite: migrating again finds nothing to do', async (t) => {
  const client = await PGlite.create()
  t.teardown(() => client.close())
  for (let i = 0; i < 3; i++) await migrate({ kind: 'pglite', client })
  const tables = await client.query<{ tablename: string }>(
    "select tablename from pg_tables where schemaname = 'public'"
  )
  for (const table of TABLES)
    t.ok(
      tables.rows.some((r) => r.tablename === table),
      `${table} exists`
    )
  const applied = await client.query('select hash from drizzle.__drizzle_migrations')
  t.equal(applied.rows.length, await journalLength(), 'one row per migration')
})
