import { createHash } from 'node:crypto';
import {
  PublishCommand,
  type MessageAttributeValue,
  type PublishCommandInput,
  type SNSClient,
} from '@aws-sdk/client-sns';
import {
  NotifierError,
  type IncidentSnapshot,
  type NotificationEvent,
  type Notifier,
  type NotifierResult,
} from '../notifier/notifier.port.js';
import { NotifierAdapter } from '../notifier/notifier-adapter.decorator.js';
import { clampDelay } from '../notifier/bounded.js';

export interface SnsNotifierOptions {
  topicArn: string;
  client: SNSClient;
  /** whole budget of one publish; default 10 s. The SDK's own has no limit. */
  timeoutMs?: number;
}

// AWS: "Subjects must be UTF-8 text with no line breaks or control characters, and less
// than 100 characters long"; 99 keeps us clear of the off-by-one in that wording.
const MAX_SUBJECT_CHARS = 99;
// SNS rejects a Message over 256 KiB (UTF-8 bytes).
const MAX_MESSAGE_BYTES = 256 * 1024;
const FIFO_ID_MAX = 128;
const FIFO_ID_CHARS = /^[A-Za-z0-9!"#$%&'()*+,\-./:;<=>?@[\\\]^_`{|}~]+$/;

const RETRYABLE_ERROR_NAMES = new Set([
  'Throttled',
  'ThrottledException',
  'Throttling',
  'ThrottlingException',
  'KMSThrottlingException',
  'RequestTimeout',
  'RequestTimeoutException',
  'TimeoutError',
  'InternalError',
  'InternalErrorException',
  'ServiceUnavailable',
  'ServiceUnavailableException',
]);

@NotifierAdapter()
export class SnsNotifier implements Notifier {
  readonly name = 'sns';
  private readonly topicArn: string;
  private readonly client: SNSClient;
  private readonly timeoutMs: number;

  constructor(options: SnsNotifierOptions) {
    this.topicArn = options.topicArn;
    this.client = options.client;
    this.timeoutMs = clampDelay(options.timeoutMs ?? 10_000);
  }

  async send(event: NotificationEvent): Promise<NotifierResult> {
    // An endpoint that never answers would hold the row, its lease renewed, for ever.
    const abort = new AbortController();
    const deadline = setTimeout(() => abort.abort(), this.timeoutMs);
    try {
      const output = await this.client.send(
        new PublishCommand(buildPublishInput(this.topicArn, event)),
        { abortSignal: abort.signal },
      );
      return {
        response: {
          messageId: output.MessageId,
          requestId: output.$metadata.requestId,
        },
      };
    } catch (error) {
      if (abort.signal.aborted)
        throw new NotifierError(
          `SNS did not answer within ${this.timeoutMs} ms`,
          true,
        );
      throw toNotifierError(error);
    } finally {
      clearTimeout(deadline);
    }
  }
}

export function buildPublishInput(
  topicArn: string,
  event: NotificationEvent,
): PublishCommandInput {
  const { incident } = event;
  const input: PublishCommandInput = {
    TopicArn: topicArn,
    Subject: buildSubject(event),
    Message: buildMessage(event),
    MessageAttributes: buildAttributes(event),
  };
  // FIFO topics refuse a publish without a group; grouping by incident keeps a resolve behind its trigger.
  if (topicArn.endsWith('.fifo')) {
    input.MessageGroupId = fifoId(incident.dedupKey);
    input.MessageDeduplicationId = fifoId(event.deliveryId);
  }
  return input;
}

/** `[TRIGGER] PRODUCTION <alarmName>`, control characters flattened, cut with `…`. */
export function buildSubject(event: NotificationEvent): string {
  const raw = `[${event.action.toUpperCase()}] ${event.incident.environment.toUpperCase()} ${event.incident.alarmName}`;
  const clean = raw
    .replace(/[\p{Cc}\u2028\u2029]+/gu, ' ')
    .replace(/\s+/g, ' ')
    .trim();
  // Code points, not UTF-16 units: never split an emoji's surrogate pair.
  const chars = Array.from(clean);
  if (chars.length <= MAX_SUBJECT_CHARS) return clean;
  return `${chars
    .slice(0, MAX_SUBJECT_CHARS - 1)
    .join('')
    .trimEnd()}…`;
}

/** The transition as JSON; never the routing key, which is a PagerDuty secret. */
export function buildMessage(event: NotificationEvent): string {
  const { incident } = event;
  const body = snapshotBody(event, incident);
  const json = JSON.stringify(body);
  if (Buffer.byteLength(json, 'utf8') <= MAX_MESSAGE_BYTES) return json;
  return JSON.stringify({
    ...body,
    customDetails: {
      error: 'custom details removed: message exceeded 256 KiB',
    },
  });
}

function snapshotBody(
  event: NotificationEvent,
  incident: IncidentSnapshot,
): Record<string, unknown> {
  const { id, dedupKey, ...rest } = incident;
  return {
    event_action: event.action,
    dedupKey,
    incidentId: id,
    ...rest,
    deliveryId: event.deliveryId,
    createdAt: event.createdAt.toISOString(),
  };
}

function buildAttributes(
  event: NotificationEvent,
): Record<string, MessageAttributeValue> {
  const attributes: Record<string, MessageAttributeValue> = {};
  const values: Record<string, string> = {
    severity: event.incident.severity,
    environment: event.incident.environment,
    event_action: event.action,
  };
  for (const [name, value] of Object.entries(values)) {
    // SNS refuses an attribute with an empty value, which would kill the whole publish.
    if (value) attributes[name] = { DataType: 'String', StringValue: value };
  }
  return attributes;
}

function fifoId(value: string): string {
  if (value.length <= FIFO_ID_MAX && FIFO_ID_CHARS.test(value)) return value;
  return createHash('sha256').update(value).digest('hex');
}

interface SdkErrorShape {
  name?: string;
  message?: string;
  code?: string;
  $fault?: 'client' | 'server';
  $retryable?: { throttling?: boolean };
  $metadata?: { httpStatusCode?: number; requestId?: string };
}

export function toNotifierError(error: unknown): NotifierError {
  if (error instanceof NotifierError) return error;
  const e = (error ?? {}) as SdkErrorShape;
  const status = e.$metadata?.httpStatusCode;
  const name = e.name ?? 'Error';
  const message = `SNS publish failed: ${name}${e.message ? `: ${e.message}` : ''}`;
  const details = {
    status,
    body: { name, message: e.message, requestId: e.$metadata?.requestId },
  };
  const retryable =
    RETRYABLE_ERROR_NAMES.has(name) ||
    e.$retryable !== undefined ||
    status === undefined || // no HTTP answer at all: network failure, DNS, socket reset
    status === 408 ||
    status === 429 ||
    status >= 500;
  return new NotifierError(message, retryable, details);
}
