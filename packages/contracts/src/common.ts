// Shapes every route shares: ids, the error body, pagination, unions of listed names. One definition so the
// OpenAPI document and the handlers cannot drift apart.
import { Type, type Static, type TLiteral, type TSchemaOptions, type TUnion } from 'typebox'

type Literals<T extends readonly string[]> = { -readonly [K in keyof T]: TLiteral<T[K]> }

/** One of the names of a const list, as a union of literals whose static type is exactly the list's members. */
export function OneOf<const T extends readonly string[]>(names: T, options?: TSchemaOptions): TUnion<Literals<T>> {
  const literals = names.map((name) => Type.Literal(name))
  return Type.Union(literals, options) as unknown as TUnion<Literals<T>>
}

// Exactly 8-4-4-4-12 hex digits. The `uuid` format alone also lets `urn:uuid:…` through, which PostgreSQL's
// uuid type refuses; the pattern keeps every spelling but the canonical one a 400.
export const UUID_PATTERN = '^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}$'
export const Uuid = Type.String({ format: 'uuid', pattern: UUID_PATTERN, description: 'UUID (8-4-4-4-12 hex digits)' })
export const Timestamp = Type.String({ format: 'date-time', description: 'ISO 8601 UTC time' })

// Patterns are compiled with the `u` flag, where a class range of surrogates matches only an unpaired one: a
// lone surrogate cannot be stored as sent (the database would keep U+FFFD), so free text refuses it, while
// astral characters (emoji) written as surrogate pairs pass.
// Any text taken as sent (passwords): no lone surrogates.
export const NO_LONE_SURROGATES = '^[^\\uD800-\\uDFFF]*$'
// C0 controls other than tab, line feed and carriage return, DEL and lone surrogates are refused in free text.
export const NO_CONTROL_CHARS = '^[^\\u0000-\\u0008\\u000B\\u000C\\u000E-\\u001F\\u007F\\uD800-\\uDFFF]*$'
// Single-line text (names): no control characters at all, no lone surrogates.
export const SINGLE_LINE = '^[^\\u0000-\\u001F\\u007F\\uD800-\\uDFFF]*$'

// A reaction key (an emoji, or a `:name:`): no whitespace, no C0 or C1 controls, no lone surrogates. Emoji
// sequences joined by U+200D (a format character, not a control) pass.
export const REACTION_KEY = '^[^\\s\\u0000-\\u001F\\u007F-\\u009F\\uD800-\\uDFFF]+$'

// Sequence numbers a client may send: integers a JavaScript number holds exactly, so a query never reaches
// PostgreSQL's bigint with a value it cannot take or one that lost precision on the way.
export const MAX_SEQ = Number.MAX_SAFE_INTEGER

// A Last-Event-ID (header or ?lastEventId=): 1 to 20 ASCII digits, so every bigint seq fits. A value past
// MAX_SEQ lies beyond any room's lastSeq and replays nothing.
export const LAST_EVENT_ID_PATTERN = '^[0-9]{1,20}$'

export const ErrorBody = Type.Object(
  {
    statusCode: Type.Integer(),
    code: Type.String({ description: 'stable machine-readable code, CHAT_* or FST_*' }),
    error: Type.String(),
    message: Type.String()
  },
  { description: 'Every error has this shape' }
)
export type ErrorBody = Static<typeof ErrorBody>

export const PageQuery = Type.Object(
  {
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, default: 50 })),
    cursor: Type.Optional(Type.String({ minLength: 1, maxLength: 512, description: 'opaque; from nextCursor' }))
  },
  { additionalProperties: false }
)
export type PageQuery = Static<typeof PageQuery>

export const Page = <T extends Parameters<typeof Type.Array>[0]>(item: T) =>
  Type.Object({
    items: Type.Array(item),
    nextCursor: Type.Union([Type.String(), Type.Null()], {
      description: 'pass as ?cursor= for the next page; null at the end'
    })
  })

// Error responses a route may give, keyed by status, so every status appears in the OpenAPI document.
export const errors = (...statuses: number[]): Record<number, typeof ErrorBody> =>
  Object.fromEntries(statuses.map((s) => [s, ErrorBody]))

/** The body of a 204. */
export const NoContent = Type.Null({ description: 'No content' })
