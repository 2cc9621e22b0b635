// Long-polls the SQS queue Amazon SP-API delivers notifications to, turns each message into
// stockguard events (./notifications.ts) and publishes them to the event streams. A message
// is deleted only once everything it produced is durably somewhere: its events in the
// streams (sink.publish resolved), or, when it cannot be read, the message itself in the
// dead-letter path. Otherwise it stays on the queue, comes back after the visibility
// timeout and is tried again; the sink's dedupe on the NotificationId makes that harmless.
import { setMaxListeners } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  DeleteMessageBatchCommand,
  ReceiveMessageCommand,
  SQSClient,
  type DeleteMessageBatchRequestEntry,
  type Message,
} from '@aws-sdk/client-sqs';
import { pino } from 'pino';
import { backoffDelayMs, DEFAULT_BACKOFF, type BackoffPolicy } from '../../domain/backoff.ts';
import type { StockguardEvent } from '../../domain/events.ts';
import { StockguardError } from '../../errors.ts';
import type { Logger } from '../../logger.ts';
import type { EventSink } from '../sink.ts';
import { parseAmazonNotification, type IgnoreReason } from './notifications.ts';
import { readQueueRetention } from './queueRetention.ts';

/** Where to reach SQS when the poller builds its own client. */
export interface SqsConnection {
  region: string;
  /** A non-AWS endpoint (a local emulator, a VPC endpoint URL); AWS's own when unset. */
  endpoint?: string;
  /** Static credentials; the SDK's default provider chain (env, profile, role) when unset. */
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
}

export interface DeadLetterMetadata {
  source: 'amazon-sqs';
  messageId: string | undefined;
  /** SQS ApproximateReceiveCount: how often this message was handed out, this time included. */
  receiveCount: number | undefined;
  /** SQS SentTimestamp: when Amazon put the message on the queue. */
  sentAtMs: number | undefined;
  receivedAtMs: number;
  notificationType: string | undefined;
  notificationId: string | undefined;
}

/** Stores a message that can never become an event, with why. Resolve only once it is durable. */
export type DeadLetter = (reason: string, rawBody: string, metadata: DeadLetterMetadata) => Promise<void>;

/** Metric hooks; every one is optional. They must not throw. */
export interface SqsPollerCounters {
  /** A ReceiveMessage call is about to go out (SQS bills per request, empty ones included). */
  receiveStarted?(): void;
  /** Messages handed out by one ReceiveMessage call (redeliveries included). */
  received?(count: number): void;
  /** An event appended to its stream. */
  published?(event: StockguardEvent): void;
  /**
   * A message that brought at least one new event: seconds from its EventTime (else
   * PublishTime) to its receipt, never negative (clock skew). Not called for redeliveries
   * whose events were all duplicates, nor when the notification carries neither time.
   */
  deliveryLag?(seconds: number, notificationType: string): void;
  /** An event the sink recognised by its delivery id and did not append again. */
  duplicate?(event: StockguardEvent): void;
  ignored?(reason: IgnoreReason): void;
  /** A message that cannot become an event (bad JSON, schema violation); it goes to the dead-letter path. */
  rejected?(): void;
  /** sink.publish threw: the message stays on the queue. */
  publishFailed?(): void;
  /** deadLetter threw: the message stays on the queue. */
  deadLetterFailed?(): void;
  /** Messages whose delete failed; SQS hands them out again and the sink dedupes them. */
  deleteFailed?(count: number): void;
  receiveFailed?(): void;
}

export interface SqsPollerOptions {
  queueUrl: string;
  /** A client to use (the caller owns it) or where to connect (the poller owns the client it builds). */
  sqs: SQSClient | SqsConnection;
  sink: EventSink;
  deadLetter: DeadLetter;
  /** Long-poll wait per ReceiveMessage, 0–20 s. Default 20 (the SQS maximum: fewest empty receives). */
  waitTimeSeconds?: number;
  /** Messages per ReceiveMessage, 1–10. Default 10. */
  maxMessages?: number;
  /**
   * Receive loops run at once, 1–32. Default 4. Each handles the messages of its batch at
   * once (SQS standard queues keep no order, and the ledger takes an order's events in any
   * order: a cancel before its reserve leaves a tombstone the reserve respects).
   */
  receiveLoops?: number;
  /**
   * How long a received message stays hidden, 1–43200 s. Default 60. A message whose events
   * could not be published reappears after this long; it must exceed the time one batch
   * takes, or a slow batch is handed out twice (harmless, the sink dedupes, but wasted).
   */
  visibilityTimeoutSeconds?: number;
  /** Delay between failed receives (and batches where nothing got through). Default DEFAULT_BACKOFF. */
  backoff?: BackoffPolicy;
  /** MFN-only SKU policy, see ParseNotificationOptions.isLedgerSku. */
  isLedgerSku?: (sellerSku: string) => boolean;
  counters?: SqsPollerCounters;
  logger?: Logger;
  /** Injectable clock (ms) for receivedAtMs. */
  clock?: () => number;
  /** Injectable random source for the backoff jitter. */
  random?: () => number;
}

/** What one receive and its processing did. */
export interface BatchReport {
  received: number;
  published: number;
  duplicates: number;
  ignored: number;
  rejected: number;
  /** Left on the queue because a publish or the dead-letter write failed. */
  kept: number;
  deleted: number;
  deleteFailures: number;
}

type Disposition = { action: 'delete' } | { action: 'keep' };

export class SqsPoller {
  readonly #client: SQSClient;
  readonly #ownsClient: boolean;
  readonly #queueUrl: string;
  readonly #sink: EventSink;
  readonly #deadLetter: DeadLetter;
  readonly #waitTimeSeconds: number;
  readonly #maxMessages: number;
  readonly #receiveLoops: number;
  readonly #visibilityTimeoutSeconds: number;
  readonly #backoff: BackoffPolicy;
  readonly #isLedgerSku: ((sellerSku: string) => boolean) | undefined;
  readonly #counters: SqsPollerCounters;
  readonly #logger: Logger;
  readonly #clock: () => number;
  readonly #random: () => number;
  /** Aborted by stop(): cancels the in-flight long poll and the backoff sleep, nothing else. */
  readonly #stopController = new AbortController();
  #loop: Promise<void> | undefined;
  #stopped: Promise<void> | undefined;

  constructor(options: SqsPollerOptions) {
    this.#queueUrl = requireSetting('queueUrl', options.queueUrl, (value) => typeof value === 'string' && value !== '', 'a non-empty queue URL');
    this.#waitTimeSeconds = integerSetting('waitTimeSeconds', options.waitTimeSeconds ?? 20, 0, 20);
    this.#maxMessages = integerSetting('maxMessages', options.maxMessages ?? 10, 1, 10);
    this.#receiveLoops = integerSetting('receiveLoops', options.receiveLoops ?? 4, 1, 32);
    // Each loop's long poll (and its backoff sleep) listens on the one stop signal: past 10
    // loops Node would warn of a listener leak (seen with 16 loops).
    setMaxListeners(Math.max(10, this.#receiveLoops * 2), this.#stopController.signal);
    this.#visibilityTimeoutSeconds = integerSetting('visibilityTimeoutSeconds', options.visibilityTimeoutSeconds ?? 60, 1, 43_200);
    this.#backoff = options.backoff ?? DEFAULT_BACKOFF;
    try {
      backoffDelayMs(0, this.#backoff, () => 0);
    } catch (error) {
      throw new StockguardError('STOCKGUARD_E_CONFIG', `SqsPoller backoff: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
    }
    if (options.sqs instanceof SQSClient) {
      this.#client = options.sqs;
      this.#ownsClient = false;
    } else {
      requireSetting('sqs.region', options.sqs.region, (value) => typeof value === 'string' && value !== '', 'an AWS region such as us-east-1');
      this.#client = new SQSClient({
        region: options.sqs.region,
        ...(options.sqs.endpoint ? { endpoint: options.sqs.endpoint } : {}),
        ...(options.sqs.credentials ? { credentials: options.sqs.credentials } : {}),
      });
      this.#ownsClient = true;
    }
    this.#sink = options.sink;
    this.#deadLetter = options.deadLetter;
    this.#isLedgerSku = options.isLedgerSku;
    this.#counters = options.counters ?? {};
    this.#logger = (options.logger ?? pino({ level: 'silent' })).child({ component: 'amazon-sqs-poller' });
    this.#clock = options.clock ?? Date.now;
    this.#random = options.random ?? Math.random;
  }

  /** The queue's MessageRetentionPeriod in seconds, through this poller's client (queueRetention.ts). */
  queueRetentionSeconds(): Promise<number> {
    return readQueueRetention(this.#client, this.#queueUrl, this.#stopController.signal);
  }

  get running(): boolean {
    return this.#loop !== undefined && this.#stopped === undefined;
  }

  /** Polls until stop(). Errors never end the loop: they are logged, counted and backed off. */
  start(): void {
    if (this.#loop) throw new StockguardError('STOCKGUARD_E_BAD_ARGUMENT', 'this SqsPoller was already started');
    if (this.#stopped) throw new StockguardError('STOCKGUARD_E_BAD_ARGUMENT', 'this SqsPoller was stopped; create a new one');
    this.#logger.info({ queueUrl: this.#queueUrl, waitTimeSeconds: this.#waitTimeSeconds, receiveLoops: this.#receiveLoops }, 'polling SQS');
    this.#loop = Promise.all(Array.from({ length: this.#receiveLoops }, () => this.#run())).then(() => undefined);
  }

  /**
   * Aborts the in-flight long poll (messages SQS had not yet handed out stay queued; any
   * handed out to the aborted request reappear after the visibility timeout), lets the
   * messages being processed finish (publish, dead-letter, delete), then resolves.
   */
  stop(): Promise<void> {
    this.#stopped ??= (async () => {
      this.#stopController.abort();
      await this.#loop;
      if (this.#ownsClient) this.#client.destroy();
      this.#logger.info('stopped polling SQS');
    })();
    return this.#stopped;
  }

  async #run(): Promise<void> {
    const signal = this.#stopController.signal;
    let failures = 0;
    while (!signal.aborted) {
      let failed: boolean;
      try {
        const report = await this.pollOnce(signal);
        // Nothing got through although there was work: the sink (Redis) or the dead-letter
        // store is likely down, so wait before handing SQS another batch to fail on.
        failed = report.kept > 0 && report.deleted === 0;
      } catch (error) {
        if (signal.aborted) break;
        this.#counters.receiveFailed?.();
        this.#logger.warn({ err: error, attempt: failures + 1 }, 'SQS ReceiveMessage failed');
        failed = true;
      }
      if (!failed) {
        failures = 0;
        continue;
      }
      const delayMs = backoffDelayMs(failures, this.#backoff, this.#random);
      failures += 1;
      try {
        await sleep(delayMs, undefined, { signal });
      } catch {
        break; // stop() during the backoff
      }
    }
  }

  /**
   * One ReceiveMessage (long poll) and the processing of what it returned. Rejects only
   * when the receive itself fails (or `signal` aborts it); a message that cannot be
   * published or dead-lettered is counted in `kept` and left on the queue.
   */
  async pollOnce(signal?: AbortSignal): Promise<BatchReport> {
    this.#counters.receiveStarted?.();
    const response = await this.#client.send(
      new ReceiveMessageCommand({
        QueueUrl: this.#queueUrl,
        MaxNumberOfMessages: this.#maxMessages,
        WaitTimeSeconds: this.#waitTimeSeconds,
        VisibilityTimeout: this.#visibilityTimeoutSeconds,
        MessageSystemAttributeNames: ['ApproximateReceiveCount', 'SentTimestamp'],
      }),
      signal ? { abortSignal: signal } : {},
    );
    const messages = response.Messages ?? [];
    const report: BatchReport = { received: messages.length, published: 0, duplicates: 0, ignored: 0, rejected: 0, kept: 0, deleted: 0, deleteFailures: 0 };
    if (messages.length === 0) return report;
    this.#counters.received?.(messages.length);

    const deletions: DeleteMessageBatchRequestEntry[] = [];
    // All at once: one publish per message in turn held a whole batch behind each slow
    // Redis round trip, and a Cluster failover turned that into minutes of backlog.
    const dispositions = await Promise.all(messages.map((message) => this.#handle(message, report)));
    for (const [index, message] of messages.entries()) {
      const disposition = dispositions[index]!;
      if (disposition.action === 'keep') {
        report.kept += 1;
      } else if (message.ReceiptHandle) {
        deletions.push({ Id: `m${index}`, ReceiptHandle: message.ReceiptHandle });
      } else {
        report.deleteFailures += 1;
        this.#counters.deleteFailed?.(1);
        this.#logger.error({ messageId: message.MessageId }, 'SQS message has no receipt handle; it cannot be deleted');
      }
    }
    await this.#delete(deletions, report);
    return report;
  }

  async #handle(message: Message, report: BatchReport): Promise<Disposition> {
    const receivedAtMs = this.#clock();
    const body = message.Body ?? '';
    const outcome = parseAmazonNotification(body, {
      receivedAtMs,
      ...(this.#isLedgerSku ? { isLedgerSku: this.#isLedgerSku } : {}),
    });
    const context = { messageId: message.MessageId, receiveCount: receiveCountOf(message), notificationId: outcome.deliveryId, notificationType: outcome.notificationType };

    switch (outcome.kind) {
      case 'events': {
        for (const warning of outcome.warnings ?? []) this.#logger.warn({ ...context, warning }, 'notification applied with a correction');
        let publishedHere = 0;
        for (const event of outcome.events) {
          let duplicate: boolean;
          try {
            // The per-event id (NotificationId, `:<index>` when one notification yields
            // several) is the dedupe key: a redelivered message appends nothing twice, and
            // a message whose first events were published before a failure resumes cleanly.
            ({ duplicate } = await this.#sink.publish(event, { deliveryId: event.eventId }));
          } catch (error) {
            this.#counters.publishFailed?.();
            this.#logger.warn({ ...context, eventId: event.eventId, err: error }, 'publish failed; the message stays on the queue and is retried after the visibility timeout');
            return { action: 'keep' };
          }
          if (duplicate) {
            report.duplicates += 1;
            this.#counters.duplicate?.(event);
          } else {
            report.published += 1;
            publishedHere += 1;
            this.#counters.published?.(event);
          }
        }
        if (publishedHere > 0 && outcome.eventTimeMs !== undefined) {
          this.#counters.deliveryLag?.(Math.max(0, receivedAtMs - outcome.eventTimeMs) / 1000, outcome.notificationType);
        }
        this.#logger.debug({ ...context, events: outcome.events.length }, 'notification published');
        return { action: 'delete' };
      }
      case 'ignored':
        report.ignored += 1;
        this.#counters.ignored?.(outcome.reason);
        this.#logger.debug({ ...context, reason: outcome.reason, detail: outcome.detail }, 'notification ignored');
        return { action: 'delete' };
      case 'rejected': {
        const metadata: DeadLetterMetadata = {
          source: 'amazon-sqs',
          messageId: message.MessageId,
          receiveCount: receiveCountOf(message),
          sentAtMs: numberAttribute(message, 'SentTimestamp'),
          receivedAtMs,
          notificationType: outcome.notificationType,
          notificationId: outcome.deliveryId,
        };
        try {
          await this.#deadLetter(outcome.reason, body, metadata);
        } catch (error) {
          this.#counters.deadLetterFailed?.();
          this.#logger.error({ ...context, reason: outcome.reason, err: error }, 'dead-letter write failed; the message stays on the queue');
          return { action: 'keep' };
        }
        report.rejected += 1;
        this.#counters.rejected?.();
        this.#logger.warn({ ...context, reason: outcome.reason }, 'notification rejected and dead-lettered');
        return { action: 'delete' };
      }
    }
  }

  async #delete(entries: DeleteMessageBatchRequestEntry[], report: BatchReport): Promise<void> {
    if (entries.length === 0) return;
    try {
      const result = await this.#client.send(new DeleteMessageBatchCommand({ QueueUrl: this.#queueUrl, Entries: entries }));
      const failed = result.Failed ?? [];
      report.deleted += entries.length - failed.length;
      if (failed.length > 0) {
        report.deleteFailures += failed.length;
        this.#counters.deleteFailed?.(failed.length);
        this.#logger.warn({ failed }, 'SQS could not delete some messages; they will be handed out again and deduplicated');
      }
    } catch (error) {
      report.deleteFailures += entries.length;
      this.#counters.deleteFailed?.(entries.length);
      this.#logger.warn({ err: error, count: entries.length }, 'SQS DeleteMessageBatch failed; the messages will be handed out again and deduplicated');
    }
  }
}

function receiveCountOf(message: Message): number | undefined {
  return numberAttribute(message, 'ApproximateReceiveCount');
}

function numberAttribute(message: Message, name: 'ApproximateReceiveCount' | 'SentTimestamp'): number | undefined {
  const value = message.Attributes?.[name];
  const parsed = value === undefined ? Number.NaN : Number(value);
  return Number.isFinite(parsed) ? parsed : undefined;
}

function requireSetting<T>(name: string, value: T, valid: (value: T) => boolean, wanted: string): T {
  if (!valid(value)) {
    throw new StockguardError('STOCKGUARD_E_CONFIG', `SqsPoller ${name} must be ${wanted}, got ${JSON.stringify(value)}`, { details: { setting: name } });
  }
  return value;
}

function integerSetting(name: string, value: number, min: number, max: number): number {
  return requireSetting(name, value, (candidate) => Number.isInteger(candidate) && candidate >= min && candidate <= max, `a whole number from ${min} to ${max}`);
}
