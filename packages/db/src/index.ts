// Opens the database the node runs on: PostgreSQL through postgres.js when a URL is given, otherwise embedded
// PostgreSQL (PGlite) in a directory or in memory. Both give the same drizzle API, and both are migrated here.
import { fileURLToPath } from 'node:url'
import { mkdir } from 'node:fs/promises'
import postgres from 'postgres'
import { PGlite } from '@electric-sql/pglite'
import { drizzle as drizzlePostgres } from 'drizzle-orm/postgres-js'
import { drizzle as drizzlePglite } from 'drizzle-orm/pglite'
import { migrate as migratePostgres } from 'drizzle-orm/postgres-js/migrator'
import { migrate as migratePglite } from 'drizzle-orm/pglite/migrator'
import { sql } from 'drizzle-orm'
import type { PgDatabase, PgQueryResultHKT } from 'drizzle-orm/pg-core'
import * as schema from './schema.ts'

export * as schema from './schema.ts'
// The query operators, re-exported so the whole workspace builds queries with this package's drizzle.
export {
  and,
  asc,
  desc,
  eq,
  getTableColumns,
  getViewSelectedFields,
  gt,
  inArray,
  is,
  isNotNull,
  isNull,
  like,
  lt,
  lte,
  ne,
  sql,
  View
} from 'drizzle-orm'
export type { Column, SQL, Table } from 'drizzle-orm'
export { schema as tables }
export type Database = PgDatabase<PgQueryResultHKT, typeof schema>
export type Transaction = Parameters<Parameters<Database['transaction']>[0]>[0]

export const migrationsFolder = fileURLToPath(new URL('../drizzle', import.meta.url))

// Any constant works; it only has to be the same on every node that migrates the same database.
const MIGRATION_LOCK = 4_242_001

export type DbOptions =
  { kind: 'postgres'; url: string; poolSize?: number } | { kind: 'pglite'; dataDir?: string; client?: PGlite }

export interface Db {
  kind: 'postgres' | 'pglite'
  db: Database
  /** Resolves when the database answers a trivial query, rejects otherwise. */
  ping(timeoutMs?: number): Promise<void>
  close(): Promise<void>
}

/**
 * Applies the committed migrations. Against PostgreSQL the run holds an advisory lock, so several nodes
 * starting at once migrate one after another and the later ones find nothing left to do.
 */
export async function migrate(options: DbOptions): Promise<void> {
  if (options.kind === 'pglite') {
    const client = options.client ?? (await openPglite(options.dataDir))
    await migratePglite(drizzlePglite(client), { migrationsFolder })
    if (!options.client) await client.close()
    return
  }
  const sqlClient = postgres(options.url, { max: 1, onnotice: () => {} })
  try {
    await sqlClient`select pg_advisory_lock(${MIGRATION_LOCK})`
    try {
      await migratePostgres(drizzlePostgres(sqlClient), { migrationsFolder })
    } finally {
      await sqlClient`select pg_advisory_unlock(${MIGRATION_LOCK})`
    }
  } finally {
    await sqlClient.end({ timeout: 5 })
  }
}

async function openPglite(dataDir?: string): Promise<PGlite> {
  if (dataDir) await mkdir(dataDir, { recursive: true })
  return PGlite.create(dataDir)
}

/** Opens (without migrating) the database described by options. */
export async function openDb(options: DbOptions): Promise<Db> {
  if (options.kind === 'pglite') {
    const owned = !options.client
    const client = options.client ?? (await openPglite(options.dataDir))
    const db = drizzlePglite(client, { schema }) as unknown as Database
    return {
      kind: 'pglite',
      db,
      ping: async () => {
        await client.query('select 1')
      },
      close: async () => {
        if (owned && !client.closed) await client.close()
      }
    }
  }
  const client = postgres(options.url, {
    max: options.poolSize ?? 10,
    onnotice: () => {},
    connect_timeout: 5,
    idle_timeout: 60,
    // Timestamps are parsed by drizzle; bigints arrive as numbers through the schema's mode.
    connection: { application_name: 'chat-api' }
  })
  const db = drizzlePostgres(client, { schema }) as unknown as Database
  return {
    kind: 'postgres',
    db,
    ping: async (timeoutMs = 2000) => {
      let timer: NodeJS.Timeout | undefined
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error('database ping timed out')), timeoutMs)
      })
      try {
        await Promise.race([db.execute(sql`select 1`), timeout])
      } finally {
        clearTimeout(timer)
      }
    },
    close: async () => {
      await client.end({ timeout: 5 })
    }
  }
}

/** Opens and migrates: what a node does at start. */
export async function createDb(options: DbOptions): Promise<Db> {
  if (options.kind === 'pglite') {
    const client = options.client ?? (await openPglite(options.dataDir))
    await migrate({ kind: 'pglite', client })
    const opened = await openDb({ kind: 'pglite', client })
    const ownsClient = !options.client
    return { ...opened, close: async () => (ownsClient && !client.closed ? client.close() : undefined) }
  }
  await migrate(options)
  return openDb(options)
}
