// Publishes SP-API notifications to an SQS queue through the real @aws-sdk/client-sqs, the
// way Amazon delivers them: the message body is the notification JSON itself, with no SNS
// wrapper (spec notes §3.1). Duplicates and delays model SQS at-least-once, unordered delivery.
// Messages go out in SendMessageBatch requests of up to 10 (a busy fake sends one request per
// ten notifications, not one per notification); each publish still settles when its own
// messages are on the queue.
import { SendMessageBatchCommand, type SendMessageBatchRequestEntry, SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { checkLogLimit, trimLog } from '../boundedLog.ts';
import { assertValidNotification, type SpApiNotification } from './notifications.ts';

export interface SqsDestination {
  /** SQS endpoint, e.g. a local fauxqs server. Explicit, so the client never goes to AWS. */
  endpoint: string;
  queueUrl: string;
  region: string;
  /** Any values do for an emulator; defaults to dummy credentials. */
  credentials?: { accessKeyId: string; secretAccessKey: string };
}

export interface PublishOptions {
  /** Extra identical copies to send (same body, so the same NotificationId). */
  duplicates?: number;
  /** Hold the notification in the fake this long before sending it, so later ones can overtake it. */
  delayMs?: number;
  /** SQS `DelaySeconds` (0–900): the queue hides the message this long after it is sent. */
  delaySeconds?: number;
}

export type PublishStatus = 'pending' | 'sent' | 'failed' | 'not-sent';

/** How messages are grouped into SendMessageBatch requests. */
export interface SqsBatchOptions {
  /** Messages per SendMessageBatch, 1–10 (SQS's maximum). Default 10. */
  maxEntries?: number;
  /** How long the first queued message waits for company before its batch is sent anyway. Default 5 ms. */
  lingerMs?: number;
  /**
   * Sends per message that SQS lists as Failed without SenderFault (a server-side failure)
   * before its publish rejects. Default 3. A sender fault rejects at once.
   */
  maxAttempts?: number;
}

export interface NotificationPublisherOptions {
  /** Batching of the SQS sends; `false` sends one SendMessage per message, as before batching. Default: batches of 10, 5 ms linger. */
  batch?: SqsBatchOptions | false;
  /** Keep about this many entries (with their notification bodies) in `log()`, the newest. Default: keep every one. */
  logLimit?: number;
}

interface QueuedMessage {
  readonly body: string;
  readonly bytes: number;
  readonly delaySeconds: number | undefined;
  /** SendMessageBatch requests that carried this message so far. */
  attempts: number;
  readonly resolve: (messageId: string | undefined) => void;
  readonly reject: (error: Error) => void;
}

// SQS caps a batch at 10 entries and (historically) 256 KiB of bodies in all.
const MAX_BATCH_ENTRIES = 10;
const MAX_BATCH_BYTES = 256 * 1024;

function errorOf(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}

export interface PublishedNotification {
  readonly notification: SpApiNotification;
  /** One SQS MessageId per copy sent. */
  readonly sqsMessageIds: string[];
  /** `not-sent` when the fake has no SQS destination configured. */
  status: PublishStatus;
  error?: string;
}

export class NotificationPublisher {
  private readonly client: SQSClient | undefined;
  private readonly published: PublishedNotification[] = [];
  private readonly waits = new Set<{ timer: NodeJS.Timeout; cancel: () => void }>();
  private readonly logLimit: number | undefined;
  private readonly batch: Required<SqsBatchOptions> | undefined;
  /** Messages waiting for their batch. */
  private queue: QueuedMessage[] = [];
  private flushTimer: NodeJS.Timeout | undefined;
  /** Publishes that have not settled yet (delayed ones included), for idle(). */
  private readonly unsettled = new Set<Promise<unknown>>();
  private closed = false;

  constructor(
    private readonly destination: SqsDestination | undefined,
    options: NotificationPublisherOptions = {},
  ) {
    this.logLimit = checkLogLimit('notificationLogLimit', options.logLimit);
    if (options.batch === false) this.batch = undefined;
    else {
      const maxEntries = options.batch?.maxEntries ?? MAX_BATCH_ENTRIES;
      const lingerMs = options.batch?.lingerMs ?? 5;
      const maxAttempts = options.batch?.maxAttempts ?? 3;
      if (!Number.isInteger(maxEntries) || maxEntries < 1 || maxEntries > MAX_BATCH_ENTRIES) throw new Error(`sqsBatch.maxEntries must be a whole number from 1 to 10, got ${maxEntries}`);
      if (!Number.isFinite(lingerMs) || lingerMs < 0) throw new Error(`sqsBatch.lingerMs must be a number >= 0, got ${lingerMs}`);
      if (!Number.isInteger(maxAttempts) || maxAttempts < 1) throw new Error(`sqsBatch.maxAttempts must be a whole number >= 1, got ${maxAttempts}`);
      this.batch = { maxEntries, lingerMs, maxAttempts };
    }
    this.client = destination
      ? new SQSClient({
          endpoint: destination.endpoint,
          region: destination.region,
          credentials: destination.credentials ?? { accessKeyId: 'stockguard-fake', secretAccessKey: 'stockguard-fake' },
          // A flash sale publishes hundreds of batches at once: more sockets than the
          // SDK's 50, so they do not queue behind each other (and warn on the terminal).
          requestHandler: { httpAgent: { keepAlive: true, maxSockets: 256 } },
        })
      : undefined;
  }

  /** Every notification the fake built, in the order it was asked to publish them; the newest logLimit when set. */
  log(): readonly PublishedNotification[] {
    return this.published;
  }

  /**
   * Validates `notification` against its official schema, then sends it (and any
   * duplicates). Resolves once every copy is on the queue; rejects when any copy could not
   * be sent (the entry says `failed`, with the error).
   */
  async publish(notification: SpApiNotification, options: PublishOptions = {}): Promise<PublishedNotification> {
    return this.start(notification, options).sent;
  }

  /**
   * Like publish(), but hands back the log entry at once (status `pending` while it waits for
   * its delay or its batch) beside the promise of its sending. Throws at once on a schema
   * violation. idle() waits for `sent` too; a caller that never awaits it must still catch it.
   */
  start(notification: SpApiNotification, options: PublishOptions = {}): { entry: PublishedNotification; sent: Promise<PublishedNotification> } {
    assertValidNotification(notification);
    const duplicates = options.duplicates ?? 0;
    if (!Number.isInteger(duplicates) || duplicates < 0) throw new Error(`duplicates must be a whole number >= 0, got ${duplicates}`);
    const entry: PublishedNotification = { notification, sqsMessageIds: [], status: this.client ? 'pending' : 'not-sent' };
    this.published.push(entry);
    trimLog(this.published, this.logLimit);
    if (!this.client || !this.destination) return { entry, sent: Promise.resolve(entry) };
    const work = this.send(this.client, this.destination, entry, duplicates, options);
    this.unsettled.add(work);
    const forget = (): void => {
      this.unsettled.delete(work);
    };
    work.then(forget, forget);
    return { entry, sent: work };
  }

  /** Waits until every publish started so far has settled: delayed ones sent, batches answered. */
  async idle(): Promise<void> {
    while (this.unsettled.size > 0) await Promise.allSettled([...this.unsettled]);
  }

  /**
   * Cancels delayed notifications that have not been sent yet, rejects messages still waiting
   * for their batch, and releases the SQS client.
   */
  close(): void {
    this.closed = true;
    for (const wait of this.waits) {
      clearTimeout(wait.timer);
      wait.cancel();
    }
    this.waits.clear();
    if (this.flushTimer) clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
    const queued = this.queue;
    this.queue = [];
    for (const message of queued) message.reject(new Error('the Amazon fake closed before the notification was sent'));
    this.client?.destroy();
  }

  private async send(client: SQSClient, destination: SqsDestination, entry: PublishedNotification, duplicates: number, options: PublishOptions): Promise<PublishedNotification> {
    const { notification } = entry;
    try {
      if (options.delayMs) await this.wait(options.delayMs);
      const body = JSON.stringify(notification);
      if (this.batch) {
        const copies: Promise<string | undefined>[] = [];
        for (let copy = 0; copy <= duplicates; copy += 1) copies.push(this.enqueue(body, options.delaySeconds));
        const outcomes = await Promise.allSettled(copies);
        for (const outcome of outcomes) if (outcome.status === 'fulfilled' && outcome.value) entry.sqsMessageIds.push(outcome.value);
        const failure = outcomes.find((outcome): outcome is PromiseRejectedResult => outcome.status === 'rejected');
        if (failure) throw failure.reason;
      } else {
        for (let copy = 0; copy <= duplicates; copy += 1) {
          const output = await client.send(new SendMessageCommand({ QueueUrl: destination.queueUrl, MessageBody: body, DelaySeconds: options.delaySeconds }));
          if (output.MessageId) entry.sqsMessageIds.push(output.MessageId);
        }
      }
      entry.status = 'sent';
      return entry;
    } catch (error) {
      entry.status = 'failed';
      entry.error = error instanceof Error ? error.message : String(error);
      throw new Error(`publishing ${notification.NotificationType} ${notification.NotificationMetadata.NotificationId} failed`, { cause: error });
    }
  }

  /** Queues one message for the next batch; resolves with its SQS MessageId once SQS took it. */
  private enqueue(body: string, delaySeconds: number | undefined): Promise<string | undefined> {
    if (this.closed) return Promise.reject(new Error('the Amazon fake is closed'));
    return new Promise((resolve, reject) => {
      this.requeue({ body, bytes: Buffer.byteLength(body), delaySeconds, attempts: 0, resolve, reject });
    });
  }

  private requeue(message: QueuedMessage): void {
    if (this.closed) {
      message.reject(new Error('the Amazon fake closed before the notification was sent'));
      return;
    }
    this.queue.push(message);
    const batch = this.batch;
    if (!batch) throw new Error('unreachable: batching is off');
    if (this.queue.length >= batch.maxEntries) this.flush(false);
    if (this.queue.length > 0 && !this.flushTimer) {
      this.flushTimer = setTimeout(() => {
        this.flushTimer = undefined;
        this.flush(true);
      }, batch.lingerMs);
    }
  }

  /** Sends full batches, and with `all` the partial one left too. */
  private flush(all: boolean): void {
    const batch = this.batch;
    if (!batch) return;
    while (this.queue.length >= batch.maxEntries || (all && this.queue.length > 0)) {
      let count = 0;
      let bytes = 0;
      for (const message of this.queue) {
        if (count === batch.maxEntries || (count > 0 && bytes + message.bytes > MAX_BATCH_BYTES)) break;
        count += 1;
        bytes += message.bytes;
      }
      const messages = this.queue.splice(0, count);
      // sendBatch settles each message itself; this only guards against a bug leaving one hanging.
      this.sendBatch(messages).catch((error: unknown) => {
        for (const message of messages) message.reject(errorOf(error));
      });
    }
    if (this.queue.length === 0 && this.flushTimer) {
      clearTimeout(this.flushTimer);
      this.flushTimer = undefined;
    }
  }

  /** One SendMessageBatch; every message in it is resolved, rejected or queued again, never dropped. */
  private async sendBatch(messages: QueuedMessage[]): Promise<void> {
    const client = this.client;
    const destination = this.destination;
    const batch = this.batch;
    if (!client || !destination || !batch) {
      for (const message of messages) message.reject(new Error('the Amazon fake has no SQS destination'));
      return;
    }
    const byId = new Map<string, QueuedMessage>();
    const entries: SendMessageBatchRequestEntry[] = messages.map((message, index) => {
      message.attempts += 1;
      const id = `m${index}`;
      byId.set(id, message);
      return { Id: id, MessageBody: message.body, ...(message.delaySeconds === undefined ? {} : { DelaySeconds: message.delaySeconds }) };
    });
    let output;
    try {
      output = await client.send(new SendMessageBatchCommand({ QueueUrl: destination.queueUrl, Entries: entries }));
    } catch (error) {
      // The SDK already retried what it deems retryable; the whole batch failed.
      for (const message of messages) message.reject(errorOf(error));
      return;
    }
    for (const sent of output.Successful ?? []) {
      const message = byId.get(sent.Id ?? '');
      if (!message) continue;
      byId.delete(sent.Id ?? '');
      message.resolve(sent.MessageId);
    }
    for (const failed of output.Failed ?? []) {
      const message = byId.get(failed.Id ?? '');
      if (!message) continue;
      byId.delete(failed.Id ?? '');
      if (!failed.SenderFault && message.attempts < batch.maxAttempts) this.requeue(message);
      else {
        message.reject(new Error(`SQS refused the message after ${message.attempts} attempt(s): ${failed.Code ?? 'unknown code'}${failed.Message ? `: ${failed.Message}` : ''}`));
      }
    }
    for (const message of byId.values()) message.reject(new Error('SendMessageBatch answered without a result for the message'));
  }

  private wait(milliseconds: number): Promise<void> {
    if (this.closed) return Promise.reject(new Error('the Amazon fake is closed'));
    return new Promise((resolve, reject) => {
      const wait = {
        timer: setTimeout(() => {
          this.waits.delete(wait);
          resolve();
        }, milliseconds),
        cancel: () => reject(new Error('the Amazon fake closed before a delayed notification was sent')),
      };
      this.waits.add(wait);
    });
  }
}
