// The HTTP contract as TypeBox schemas: every body, response and event, with their static types, and the
// closed lists of names (event types, close reasons, error codes) they are built from.
export * from './vocabulary.ts'
export * from './common.ts'
export * from './users.ts'
export * from './rooms.ts'
export * from './stream.ts'
export * from './ws.ts'
