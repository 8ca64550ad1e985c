// The user stream over SSE (GET /events through fetch), against the real server.
import { streamScenarios } from './stream-scenarios.ts'

streamScenarios('sse')
