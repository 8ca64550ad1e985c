// Requests for property tests, derived from the OpenAPI document: each operation's params, query and body
// come from its own schemas, mixed with hostile strings and numbers, so a new route is exercised without
// anyone listing it here.
import fc from 'fast-check'

export interface JsonSchema {
  type?: string | string[]
  properties?: Record<string, JsonSchema>
  required?: string[]
  items?: JsonSchema
  anyOf?: JsonSchema[]
  oneOf?: JsonSchema[]
  enum?: unknown[]
  const?: unknown
  format?: string
  pattern?: string
  minLength?: number
  maxLength?: number
  minimum?: number
  maximum?: number
  [key: string]: unknown
}

export interface Operation {
  method: string
  path: string
  pathParams: Array<{ name: string; schema: JsonSchema }>
  query: Array<{ name: string; schema: JsonSchema }>
  body: JsonSchema | undefined
  responses: Record<string, { content?: Record<string, { schema?: JsonSchema }> }>
  /** Its 200 is a text/event-stream that never ends on its own. */
  stream: boolean
}

interface OpenApiOperation {
  parameters?: Array<{ in: string; name: string; schema: JsonSchema }>
  requestBody?: { content?: Record<string, { schema?: JsonSchema }> }
  responses?: Operation['responses']
}

/** Every operation of the OpenAPI document. */
export function operationsOf(doc: { paths: Record<string, Record<string, OpenApiOperation>> }): Operation[] {
  return Object.entries(doc.paths).flatMap(([path, item]) =>
    Object.entries(item).map(([method, op]) => ({
      method: method.toUpperCase(),
      path,
      pathParams: (op.parameters ?? []).filter((p) => p.in === 'path'),
      query: (op.parameters ?? []).filter((p) => p.in === 'query'),
      body: op.requestBody?.content?.['application/json']?.schema,
      responses: op.responses ?? {},
      stream: JSON.stringify(op.responses?.['200'] ?? {}).includes('text/event-stream')
    }))
  )
}

/** An id that names something of the test's world, resolved when the request is made. */
export class IdRef {
  constructor(readonly which: 'me' | 'other' | 'room' | 'foreignRoom' | 'missing') {}
}

const MISSING = '00000000-0000-4000-8000-000000000000'

export const HOSTILE_STRINGS = [
  '',
  ' ',
  '\ud800',
  'a\udc00b',
  'x\ud83d',
  '\u0000',
  'nul\u0000byte',
  '\u0001\u0007\u001b\u007f',
  '\u202eevil\u200b\u200f\ufeff',
  'x'.repeat(10 * 1024),
  `urn:uuid:${MISSING}`,
  `{${MISSING}}`,
  MISSING.toUpperCase().replaceAll('-', ''),
  '../../etc/passwd',
  '..%2F..%2Fusers',
  '%00',
  '%E0%A4%A',
  '%',
  '😀'.repeat(64),
  "'; drop table users; --",
  '\r\nX-Injected: 1',
  '__proto__'
]

export const HOSTILE_NUMBERS: unknown[] = [
  -1,
  -0,
  1.5,
  1e21,
  2 ** 53,
  2 ** 63,
  -(2 ** 63),
  Number.MAX_SAFE_INTEGER + 2,
  Number.NaN,
  Number.POSITIVE_INFINITY,
  '9'.repeat(30),
  '1e21',
  'NaN',
  '0x10'
]

const hostile = fc.oneof(fc.constantFrom(...HOSTILE_STRINGS), fc.constantFrom(...HOSTILE_NUMBERS))
const isUuid = (s: JsonSchema) => s.format === 'uuid'

/** A value the schema allows (mostly), or near it. */
function fromSchema(schema: JsonSchema, depth = 0): fc.Arbitrary<unknown> {
  const choices = schema.anyOf ?? schema.oneOf
  if (choices) return fc.oneof(...choices.map((s) => fromSchema(s, depth)))
  if (schema.const !== undefined) return fc.constant(schema.const)
  if (schema.enum) return fc.constantFrom(...schema.enum)
  const type = Array.isArray(schema.type) ? schema.type[0] : schema.type
  switch (type) {
    case 'string': {
      if (isUuid(schema))
        return fc.constantFrom('me', 'other', 'room', 'foreignRoom', 'missing').map((w) => new IdRef(w))
      const maxLength = Math.min(schema.maxLength ?? 80, 80)
      const minLength = Math.min(schema.minLength ?? 0, maxLength)
      if (schema.pattern) {
        return fc
          .stringMatching(new RegExp(schema.pattern, 'u'))
          .map((s) => s.slice(0, maxLength))
          .filter((s) => s.length >= minLength)
      }
      return fc.string({ minLength, maxLength, unit: fc.constantFrom('a', 'Z', '0', ' ', 'é', '😀', '\t', '-') })
    }
    case 'integer':
      return fc.integer({
        min: Math.max(schema.minimum ?? -1000, -(2 ** 31)),
        max: Math.min(schema.maximum ?? 1000, 2 ** 31)
      })
    case 'number':
      return fc.double({ noNaN: true, noDefaultInfinity: true })
    case 'boolean':
      return fc.boolean()
    case 'null':
      return fc.constant(null)
    case 'array':
      return depth > 3 ? fc.constant([]) : fc.array(near(schema.items ?? {}, depth + 1), { maxLength: 3 })
    case 'object': {
      if (depth > 3) return fc.constant({})
      const props = schema.properties ?? {}
      const required = schema.required ?? []
      const record = fc.record(Object.fromEntries(Object.entries(props).map(([k, s]) => [k, near(s, depth + 1)])), {
        requiredKeys: required.filter((k) => k in props)
      })
      // Sometimes a key the schema does not know, such as a server-owned field.
      const extra = fc.oneof(
        { arbitrary: fc.constant(null), weight: 9 },
        { arbitrary: fc.constantFrom('isAdmin', 'ownerId', 'seq', 'createdAt', '__proto__'), weight: 1 }
      )
      return fc.tuple(record, extra).map(([value, key]) => (key ? { ...value, [key]: true } : value))
    }
    default:
      return fc.jsonValue({ maxDepth: 2 })
  }
}

/** Mostly what the schema allows, sometimes a hostile value in its place. */
function near(schema: JsonSchema, depth = 0): fc.Arbitrary<unknown> {
  return fc.oneof({ arbitrary: fromSchema(schema, depth), weight: 9 }, { arbitrary: hostile, weight: 1 })
}

export type Auth = 'valid' | 'none' | 'garbage' | 'refresh-token'

export interface RequestSpec {
  auth: Auth
  pathParams: Record<string, unknown>
  /** Per path param: percent-encode it (the usual) or put it in the URL as is. */
  rawPath: boolean
  query: Record<string, unknown>
  /** undefined: no body at all; otherwise the JSON value sent. */
  body: unknown
  lastEventId: string | undefined
}

/** A request of `op`: its params, query and body drawn from its schemas, mixed with hostile values. */
export function requestFor(op: Operation): fc.Arbitrary<RequestSpec> {
  const pathParams = fc.record(Object.fromEntries(op.pathParams.map((p) => [p.name, near(p.schema)])))
  const query = fc.record(Object.fromEntries(op.query.map((p) => [p.name, near(p.schema)])), { requiredKeys: [] })
  const body = op.body
    ? fc.oneof(
        { arbitrary: fromSchema(op.body), weight: 5 },
        { arbitrary: fc.oneof(hostile, fc.jsonValue()), weight: 1 }
      )
    : fc.constant(undefined)
  return fc.record({
    auth: fc.oneof(
      { arbitrary: fc.constant<Auth>('valid'), weight: 6 },
      { arbitrary: fc.constantFrom<Auth>('none', 'garbage', 'refresh-token'), weight: 1 }
    ),
    pathParams,
    rawPath: fc.boolean(),
    query,
    body,
    lastEventId: fc.option(
      fc.oneof(fc.constantFrom('0', '9'.repeat(20), '9'.repeat(21), 'abc', '-1'), fc.nat().map(String)),
      {
        nil: undefined
      }
    )
  })
}

/** Replaces every IdRef in a value by the id it names. */
export function resolveIds(value: unknown, ids: Record<IdRef['which'], string>): unknown {
  if (value instanceof IdRef) return ids[value.which]
  if (Array.isArray(value)) return value.map((v) => resolveIds(v, ids))
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, resolveIds(v, ids)]))
  }
  return value
}

export { MISSING }
