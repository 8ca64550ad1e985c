// @chat/client: a typed client of the chat API for browsers and Node ≥ 20, over the global fetch. The shapes
// are the contract's (@chat/contracts), re-exported as types.
export { ChatClient, type Page, type ReplyBody } from './client.ts'
export { ChatStream, backoffDelay } from './stream.ts'
export { ChatApiError } from './errors.ts'
export { SseParser, type SseFrame } from './sse.ts'
export {
  FINAL_CLOSE_REASONS,
  type CallOptions,
  type ChatClientOptions,
  type ChatEvent,
  type ChatEventType,
  type ConnectionState,
  type EventOf,
  type FetchLike,
  type StateChange,
  type StreamOptions,
  type Tokens,
  type Transport,
  type WebSocketConstructor,
  type WebSocketLike
} from './types.ts'
export type * from './contract.ts'
