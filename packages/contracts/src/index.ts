// The HTTP contract as TypeBox schemas: every body, response and event, with their static types.
export * from './common.ts'
export * from './users.ts'
export * from './rooms.ts'
