// Shared helpers for the k6 scripts in this folder: configuration from the environment, unique names, and one
// function per API call (shapes and statuses as in the HTTP contract). Every request carries a `name` tag
// (register, login, create, join, post, edit, react, …) so thresholds can target one route:
// `http_req_duration{name:post}`.
import http from 'k6/http'
import { check, fail } from 'k6'

export const BASE_URL = (__ENV.BASE_URL || 'http://localhost:8080').replace(/\/+$/, '')
export const PASSWORD = __ENV.PASSWORD || 'k6-load-test-password'
// Usernames are `<run>-<kind><vu>-<n>-<rand>` (at most 32 characters of a-z 0-9 -), unique per run.
export const RUN_ID = (__ENV.RUN_ID || Date.now().toString(36))
  .toLowerCase()
  .replace(/[^a-z0-9]/g, '')
  .slice(0, 10)

/** A number from the environment, or the fallback when unset or empty. */
export function envNumber(name, fallback) {
  const raw = __ENV[name]
  if (raw === undefined || raw === '') return fallback
  const value = Number(raw)
  if (!Number.isFinite(value)) fail(`${name} must be a number (got "${raw}")`)
  return value
}

/** Seconds in a k6 duration string such as `90s`, `5m`, `1h30m` or `500ms`. */
export function durationSeconds(text) {
  const pattern = /(\d+(?:\.\d+)?)(ms|h|m|s)/g
  let seconds = 0
  for (let m = pattern.exec(String(text)); m !== null; m = pattern.exec(String(text))) {
    seconds += Number(m[1]) * { ms: 0.001, s: 1, m: 60, h: 3600 }[m[2]]
  }
  return seconds
}

const ALPHABET = 'abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ'
/** A random id; lowercase only when asked (usernames), otherwise fit for `clientMsgId`. */
export function randomId(length = 16, lowercase = false) {
  const size = lowercase ? 36 : ALPHABET.length
  let id = ''
  for (let i = 0; i < length; i++) id += ALPHABET[Math.floor(Math.random() * size)]
  return id
}

let counter = 0
export function uniqueUsername(kind = 'u') {
  counter += 1
  return `${RUN_ID}-${kind}${__VU}-${counter}-${randomId(4, true)}`
}

export function headers(token) {
  const h = { 'Content-Type': 'application/json' }
  if (token) h.Authorization = `Bearer ${token}`
  return h
}

/** One request as `http.batch` takes it; `http.request` takes the same fields. */
function request(method, path, body, token, name) {
  return {
    method,
    url: BASE_URL + path,
    body: body === undefined ? null : JSON.stringify(body),
    params: { headers: headers(token), tags: { name } }
  }
}

function send(method, path, body, token, name) {
  const r = request(method, path, body, token, name)
  return http.request(r.method, r.url, r.body, r.params)
}

/** Checks the status; returns the parsed body (or true for an empty one) when it matches, else null. */
export function expect(res, status, name) {
  const ok = check(res, { [`${name} ${status}`]: (r) => r.status === status })
  if (!ok) return null
  return res.body ? res.json() : true
}

/** Like expect, but stops the test: for setup(), where nothing can go on without the object. */
export function must(res, status, name) {
  const value = expect(res, status, name)
  if (value !== null) return value
  const hint = res.status === 429 ? ' (raise AUTH_RATE_LIMIT / MESSAGE_RATE_LIMIT on the server)' : ''
  return fail(`${name}: expected ${status}, got ${res.status}${hint}: ${String(res.body).slice(0, 200)}`)
}

export const register = (username, password = PASSWORD) =>
  send('POST', '/users', { username, password }, null, 'register')
export const login = (username, password = PASSWORD) =>
  send('POST', '/auth/login', { username, password }, null, 'login')
export const me = (token) => send('GET', '/users/me', undefined, token, 'me')
export const logout = (token) => send('POST', '/auth/logout', {}, token, 'logout')
export const createRoom = (token, name, topic) => send('POST', '/rooms/create', { name, topic }, token, 'create')
export const joinRoom = (token, roomId) => send('POST', '/rooms/join', { roomId }, token, 'join')
export const getRoom = (token, roomId) => send('GET', `/rooms/${roomId}`, undefined, token, 'room')
export const listRooms = (token, mine = false) =>
  send('GET', `/rooms?limit=50${mine ? '&mine=true' : ''}`, undefined, token, mine ? 'list_mine' : 'list')
export const postMessage = (token, roomId, text, clientMsgId = randomId(20)) =>
  send('POST', '/rooms/message', { roomId, text, clientMsgId }, token, 'post')
export const editMessage = (token, roomId, seq, text) =>
  send('POST', '/rooms/message/edit', { roomId, seq, text }, token, 'edit')
/** Adds the reaction `key` to message `seq`, or takes it back with `remove`; 204 when that changes nothing. */
export const react = (token, roomId, seq, key, remove = false) =>
  send('POST', '/rooms/message/react', remove ? { roomId, seq, key, remove } : { roomId, seq, key }, token, 'react')

/** Registers and logs in `count` users, `batch` at a time: [{id, username, token}]. For setup(). */
export function createUsers(count, kind = 'u', batch = envNumber('SETUP_BATCH', 10)) {
  const users = []
  for (let i = 0; i < count; i += batch) {
    const names = Array.from({ length: Math.min(batch, count - i) }, () => uniqueUsername(kind))
    const body = (username) => ({ username, password: PASSWORD })
    const created = http.batch(names.map((u) => request('POST', '/users', body(u), null, 'register')))
    created.forEach((res) => must(res, 201, 'register'))
    const sessions = http.batch(names.map((u) => request('POST', '/auth/login', body(u), null, 'login')))
    for (const res of sessions) {
      const session = must(res, 200, 'login')
      users.push({ id: session.user.id, username: session.user.username, token: session.accessToken })
    }
  }
  return users
}

/** Creates `count` rooms, owned in turn by `owners`: [{id, name}]. For setup(). */
export function createRooms(owners, count) {
  const rooms = []
  for (let i = 0; i < count; i++) {
    const name = `k6 ${RUN_ID} room ${i}`
    const room = must(createRoom(owners[i % owners.length].token, name, 'load test'), 201, 'create')
    rooms.push({ id: room.id, name: room.name })
  }
  return rooms
}

/** Joins each [token, roomId] pair, `batch` at a time (join is idempotent). For setup(). */
export function joinAll(pairs, batch = envNumber('SETUP_BATCH', 10) * 5) {
  for (let i = 0; i < pairs.length; i += batch) {
    const chunk = pairs.slice(i, i + batch)
    const res = http.batch(chunk.map(([token, roomId]) => request('POST', '/rooms/join', { roomId }, token, 'join')))
    res.forEach((r) => must(r, 200, 'join'))
  }
}

/** Posts each {token, roomId, text}, `batch` at a time, tagged `name`: the stored events in order. For setup(). */
export function postAll(posts, name = 'seed', batch = envNumber('SETUP_BATCH', 10) * 5) {
  const events = []
  for (let i = 0; i < posts.length; i += batch) {
    const chunk = posts.slice(i, i + batch)
    const body = ({ roomId, text }) => ({ roomId, text, clientMsgId: randomId(20) })
    const res = http.batch(chunk.map((p) => request('POST', '/rooms/message', body(p), p.token, name)))
    res.forEach((r) => events.push(must(r, 201, name)))
  }
  return events
}
