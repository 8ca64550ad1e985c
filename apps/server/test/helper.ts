// The one build(t) helper every test uses: a fresh database for each app (a clone of a migrated PGlite, or a
// new PostgreSQL database copied from a migrated template, chosen by TEST_DB), the app built from a config
// with test-friendly values, and everything released when the test ends.
import { createHash, randomBytes } from 'node:crypto'
import { readdir, readFile, rename, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import tap, { type Test } from 'tap'
import postgres from 'postgres'
import { PGlite } from '@electric-sql/pglite'
import type { FastifyInstance, InjectOptions, LightMyRequestResponse } from 'fastify'
import { migrate, migrationsFolder, openDb, type Database, type DbOptions } from '@chat/db'
import { buildApp, type AppOptions } from '../src/app.ts'
import { loadConfig, type Config } from '../src/config.ts'

export const TEST_DB = process.env.TEST_DB === 'postgres' ? 'postgres' : 'pglite'
/** A maintenance connection to the test PostgreSQL server (postgres only): creates and drops databases. */
export const ADMIN_URL = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres'
export const TEST_SECRET = 'test-secret-0123456789-abcdefghijklmnopqrstuvwxyz'

let pgliteTemplate: Promise<PGlite> | undefined

async function migrationsHash(): Promise<string> {
  const hash = createHash('sha256')
  for (const file of (await readdir(migrationsFolder)).sort()) {
    if (file.endsWith('.sql')) hash.update(await readFile(join(migrationsFolder, file)))
  }
  return hash.digest('hex').slice(0, 12)
}

export function withDatabase(url: string, database: string): string {
  const u = new URL(url)
  u.pathname = `/${database}`
  return u.toString()
}

export interface FreshDatabase {
  options: DbOptions
  /** postgres only: the URL of the fresh database (for tests that open their own connection). */
  url?: string
  drop(): Promise<void>
}

/**
 * The migrated, empty PGlite every test database of this file is cloned from. Creating one (initdb and every
 * migration) costs seconds of CPU, in every test file; so the first file to need it writes its data directory
 * to a file named by the migrations and the PGlite build, and the others load that.
 */
async function openPgliteTemplate(): Promise<PGlite> {
  // The resolved module's path names PGlite's version (a data directory is only good for the version that wrote it).
  const pglite = createHash('sha256')
    .update(import.meta.resolve('@electric-sql/pglite'))
    .digest('hex')
    .slice(0, 12)
  const file = join(tmpdir(), `chat-test-pglite-${await migrationsHash()}-${pglite}.tar`)
  let template: PGlite
  try {
    template = await PGlite.create({ loadDataDir: new Blob([await readFile(file)]) })
  } catch {
    template = await PGlite.create()
    await migrate({ kind: 'pglite', client: template })
    const dump = Buffer.from(await (await template.dumpDataDir('none')).arrayBuffer())
    // Written aside and renamed: a file loading it at the same time sees all of it or none.
    const partial = `${file}.${process.pid}`
    await writeFile(partial, dump)
    await rename(partial, file)
  }
  // An open PGlite keeps the process alive; the template lives until the file's last test.
  tap.teardown(() => template.close())
  return template
}

/**
 * A new, migrated, empty database of the kind TEST_DB names (or of `kind`: a test that runs a node in another
 * process needs PostgreSQL whatever TEST_DB says, PGlite being one process's database).
 */
export async function freshDatabase(kind: 'postgres' | 'pglite' = TEST_DB): Promise<FreshDatabase> {
  if (kind === 'pglite') {
    pgliteTemplate ??= openPgliteTemplate()
    const client = (await (await pgliteTemplate).clone()) as PGlite
    // A test may close the client itself (to take the database away); closing twice throws.
    return { options: { kind: 'pglite', client }, drop: async () => (client.closed ? undefined : client.close()) }
  }
  const admin = postgres(ADMIN_URL, { max: 1, onnotice: () => {} })
  try {
    const template = `chat_test_tpl_${await migrationsHash()}`
    await admin`select pg_advisory_lock(4242002)`
    try {
      const [exists] = await admin`select 1 from pg_database where datname = ${template}`
      if (!exists) {
        await admin.unsafe(`create database "${template}"`)
        await migrate({ kind: 'postgres', url: withDatabase(ADMIN_URL, template) })
      }
    } finally {
      await admin`select pg_advisory_unlock(4242002)`
    }
    const name = `chat_test_${randomBytes(6).toString('hex')}`
    await admin.unsafe(`create database "${name}" template "${template}"`)
    const url = withDatabase(ADMIN_URL, name)
    return {
      options: { kind: 'postgres', url, poolSize: 5 },
      url,
      drop: async () => {
        const dropper = postgres(ADMIN_URL, { max: 1, onnotice: () => {} })
        await dropper.unsafe(`drop database if exists "${name}" with (force)`)
        await dropper.end()
      }
    }
  } finally {
    await admin.end()
  }
}

/**
 * Every test file's own Redis namespace: test files (and CI's parallel suites) share one Redis, and a node of one
 * must not sweep another's presence entries or count its streams.
 */
export const TEST_REDIS_PREFIX = `test-${process.pid}:`

/** The configuration tests run with: the defaults, generous rate limits, quiet logs. */
export function testConfig(overrides: Partial<Config> = {}): Config {
  return {
    ...loadConfig({}),
    redisPrefix: TEST_REDIS_PREFIX,
    jwtSecret: TEST_SECRET,
    logLevel: 'silent',
    authRateLimit: 10_000,
    messageRateLimit: 10_000,
    ...overrides
  }
}

export interface BuildOptions extends Partial<Omit<AppOptions, 'config'>> {
  config?: Partial<Config>
}

/**
 * Builds an app on a fresh database; closed and dropped when the test ends. It serves no web client unless the
 * test names one: the browser suite rebuilds apps/web/dist meanwhile, and the API suites do not need it.
 */
export async function build(t: Test, options: BuildOptions = {}): Promise<FastifyInstance> {
  const db = options.database ? undefined : await freshDatabase()
  const app = await buildApp({
    web: { root: null },
    ...options,
    config: testConfig(options.config),
    database: options.database ?? db!.options
  })
  t.teardown(async () => {
    await app.close()
    await db?.drop()
  })
  return app
}

export interface TestUser {
  id: string
  username: string
  password: string
  accessToken: string
  refreshToken: string
  auth: { authorization: string }
}

let counter = 0
export function uniqueName(prefix = 'user'): string {
  return `${prefix}_${process.pid}_${++counter}`
}

/** Registers and logs in a new user. */
export async function signUp(
  app: FastifyInstance,
  username = uniqueName(),
  password = 'correct horse battery'
): Promise<TestUser> {
  const created = await app.inject({ method: 'POST', url: '/users', payload: { username, password } })
  if (created.statusCode !== 201) throw new Error(`register failed: ${created.statusCode} ${created.body}`)
  const session = await login(app, username, password)
  return { id: created.json().id, username, password, ...session }
}

export async function login(app: FastifyInstance, username: string, password: string) {
  const res = await app.inject({ method: 'POST', url: '/auth/login', payload: { username, password } })
  if (res.statusCode !== 200) throw new Error(`login failed: ${res.statusCode} ${res.body}`)
  const { accessToken, refreshToken } = res.json()
  return { accessToken, refreshToken, auth: { authorization: `Bearer ${accessToken}` } }
}

/** app.inject with the user's bearer token. */
export function as(
  app: FastifyInstance,
  user: { auth: { authorization: string } },
  opts: InjectOptions
): Promise<LightMyRequestResponse> {
  return app.inject({ ...opts, headers: { ...user.auth, ...opts.headers } })
}

/** Asserts the contract's error shape with the given status and code. */
export function assertError(t: Test, res: LightMyRequestResponse, status: number, code: string): void {
  t.equal(res.statusCode, status, `status ${status} (${res.body.slice(0, 200)})`)
  const body = res.json()
  t.same(Object.keys(body).sort(), ['code', 'error', 'message', 'statusCode'], 'error shape')
  t.equal(body.statusCode, status)
  t.equal(body.code, code)
}

/**
 * One fresh database opened for a whole test file (repository tests, where a fresh PGlite per test costs more
 * than the test; each test makes its own rows), closed and dropped when the file ends.
 */
export async function fileDatabase(): Promise<Database> {
  const fresh = await freshDatabase()
  const opened = await openDb(fresh.options)
  tap.teardown(async () => {
    await opened.close()
    await fresh.drop()
  })
  return opened.db
}
