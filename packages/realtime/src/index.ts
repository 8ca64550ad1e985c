// The package's public surface: what the server needs to stream rooms and to publish into them.
export { MemoryBus, type Bus, type BusHandler } from './bus.ts'
export { RedisBus, type RedisBusOptions } from './redis-bus.ts'
export { ShardedBus, shardedChannel, type ShardedBusOptions } from './sharded-bus.ts'
export { Hub, type AttachOptions, type AttachUserOptions, type HubOptions, type UserPlan } from './hub.ts'
export { parseCursor, positionsOf, type CursorBase, type CursorEntry, type ParsedCursor } from './cursor.ts'
export type { UserStream } from './user-stream.ts'
export { chunkedSink } from './http-sink.ts'
export { sseCodec, wsCodec, type Codec } from './codec.ts'
export { wsSink, WS_CLOSE_CODES, type WebSocketLike } from './ws-sink.ts'
export {
  CONTROL_CHANNEL,
  Publisher,
  roomChannel,
  userChannel,
  type EndStreamsFilter,
  type RoomNoticeMessage,
  type TypingUser
} from './protocol.ts'
export { Notice, type NoticeType } from './notice.ts'
export type { Stream } from './stream.ts'
export { CONNECTION_KINDS } from './types.ts'
export type {
  CloseReason,
  ConnectionKind,
  EndReason,
  ErrorHandler,
  LoadEvents,
  LoadEventsMany,
  RealtimeMetrics,
  RoomEvent,
  RoomEventType,
  StreamEndReason,
  StreamSink
} from './types.ts'
