// Publishes SP-API notifications to an SQS queue through the real @aws-sdk/client-sqs, the
// way Amazon delivers them: the message body is the notification JSON itself, with no SNS
// wrapper (spec notes §3.1). Duplicates and delays model SQS at-least-once, unordered delivery.
import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
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
  private closed = false;

  constructor(private readonly destination: SqsDestination | undefined) {
    this.client = destination
      ? new SQSClient({
          endpoint: destination.endpoint,
          region: destination.region,
          credentials: destination.credentials ?? { accessKeyId: 'stockguard-fake', secretAccessKey: 'stockguard-fake' },
        })
      : undefined;
  }

  /** Every notification the fake built, in the order it was asked to publish them. */
  log(): readonly PublishedNotification[] {
    return this.published;
  }

  /**
   * Validates `notification` against its official schema, then sends it (and any
   * duplicates) with SendMessage. Resolves once every copy is on the queue.
   */
  async publish(notification: SpApiNotification, options: PublishOptions = {}): Promise<PublishedNotification> {
    assertValidNotification(notification);
    const duplicates = options.duplicates ?? 0;
    if (!Number.isInteger(duplicates) || duplicates < 0) throw new Error(`duplicates must be a whole number >= 0, got ${duplicates}`);
    const entry: PublishedNotification = { notification, sqsMessageIds: [], status: this.client ? 'pending' : 'not-sent' };
    this.published.push(entry);
    if (!this.client || !this.destination) return entry;
    try {
      if (options.delayMs) await this.wait(options.delayMs);
      const body = JSON.stringify(notification);
      for (let copy = 0; copy <= duplicates; copy += 1) {
        const output = await this.client.send(
          new SendMessageCommand({ QueueUrl: this.destination.queueUrl, MessageBody: body, DelaySeconds: options.delaySeconds }),
        );
        if (output.MessageId) entry.sqsMessageIds.push(output.MessageId);
      }
      entry.status = 'sent';
      return entry;
    } catch (error) {
      entry.status = 'failed';
      entry.error = error instanceof Error ? error.message : String(error);
      throw new Error(`publishing ${notification.NotificationType} ${notification.NotificationMetadata.NotificationId} failed`, { cause: error });
    }
  }

  /** Cancels delayed notifications that have not been sent yet and releases the SQS client. */
  close(): void {
    this.closed = true;
    for (const wait of this.waits) {
      clearTimeout(wait.timer);
      wait.cancel();
    }
    this.waits.clear();
    this.client?.destroy();
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
