// The stream consumer runtime: producers append events, consumer groups apply them,
// the dead-letter tools and the trimmer keep the streams healthy. See docs/streams.md.
export { appendEvent, appendPayload, type AppendOptions } from './append.ts';
export {
  DEFAULT_PERMANENT_CODES,
  StreamConsumer,
  type ConsumerMetrics,
  type StopOptions,
  type StopResult,
  type StreamConsumerOptions,
  type StreamEntry,
  type StreamHandler,
} from './consumer.ts';
export {
  listDeadLetters,
  replayDeadLetters,
  TOO_MANY_DELIVERIES,
  type DeadLetter,
  type ListDeadLettersOptions,
  type ReplayResult,
  type ReplaySelection,
} from './deadLetters.ts';
export { EVENT_FIELD } from './entries.ts';
export { fnv1a32 } from '../domain/fnv1a.ts';
export { partitionFor } from './partition.ts';
export { safeTrimId, StreamTrimmer, trimStream, trimStreams, type TrimOptions, type TrimResult } from './trimmer.ts';
