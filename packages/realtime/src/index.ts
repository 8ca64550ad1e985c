// The package's public surface: what the server needs to stream rooms and to publish into them.
export { MemoryBus, type Bus, type BusHandler } from './bus.ts'
export { RedisBus, type RedisBusOptions } from './redis-bus.ts'
export { Hub, type AttachOptions, type HubOptions } from './hub.ts'
export { chunkedSink } from './http-sink.ts'
export { CONTROL_CHANNEL, Publisher, roomChannel, type EndStreamsFilter } from './protocol.ts'
export type { Stream } from './stream.ts'
export type {
  CloseReason,
  EndReason,
  ErrorHandler,
  LoadEvents,
  RealtimeMetrics,
  RoomEvent,
  RoomEventType,
  StreamEndReason,
  StreamSink
} from './types.ts'
