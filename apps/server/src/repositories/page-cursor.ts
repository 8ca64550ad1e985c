// Opaque cursors of paginated lists: base64url of the JSON of the last row's sort key. A cursor that does not
// decode to a key of the expected shape is a 400, never a query.
import { InvalidCursor } from '../errors.ts'

export function encodeCursor(key: unknown): string {
  return Buffer.from(JSON.stringify(key)).toString('base64url')
}

export function decodeCursor<T>(cursor: string, valid: (value: unknown) => value is T): T {
  let value: unknown
  try {
    value = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'))
  } catch {
    throw new InvalidCursor()
  }
  if (!valid(value)) throw new InvalidCursor()
  return value
}

/** Builds the page a list returns from limit + 1 rows: the extra row only says there is more. */
export function toPage<Row, Item>(
  rows: Row[],
  limit: number,
  toItem: (row: Row) => Item,
  keyOf: (row: Row) => unknown
): { items: Item[]; nextCursor: string | null } {
  const page = rows.slice(0, limit)
  const last = page.at(-1)
  return {
    items: page.map(toItem),
    nextCursor: rows.length > limit && last !== undefined ? encodeCursor(keyOf(last)) : null
  }
}

export const isString = (value: unknown): value is string => typeof value === 'string'
