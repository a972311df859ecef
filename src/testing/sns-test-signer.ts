/**
 * A stand-in for AWS SNS on the delivering side: its own RSA key and self-signed
 * certificate (made once per process in JS, see self-signed-certificate.ts), the certificate served over
 * HTTP on 127.0.0.1, and bodies signed exactly as SNS signs what it POSTs to an HTTP(S)
 * subscriber.
 *
 * ```ts
 * const signer = await SnsTestSigner.start();
 * // app config: SNS_CERT_URL_PATTERN = signer.certUrlPattern.source
 * const body = signer.notification({ topicArn, message: alarmJson, signatureVersion: '2' });
 * await request(server).post('/v1/sns').set(signer.headersFor(body)).send(JSON.stringify(body));
 * expect(signer.certRequests).toBe(1);
 * await signer.stop();
 * ```
 */
import { createSign, randomUUID } from 'node:crypto';
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  createSelfSignedCertificate,
  type TestKeyMaterial,
} from './self-signed-certificate.js';

export type SignatureVersion = '1' | '2';

export interface SignedNotificationBody {
  Type: 'Notification';
  MessageId: string;
  TopicArn: string;
  Subject?: string;
  Message: string;
  Timestamp: string;
  SignatureVersion: SignatureVersion;
  Signature: string;
  SigningCertURL: string;
  UnsubscribeURL: string;
  MessageAttributes?: Record<string, { Type: string; Value: string }>;
}

export interface SignedConfirmationBody {
  Type: 'SubscriptionConfirmation' | 'UnsubscribeConfirmation';
  MessageId: string;
  Token: string;
  TopicArn: string;
  Message: string;
  SubscribeURL: string;
  Timestamp: string;
  SignatureVersion: SignatureVersion;
  Signature: string;
  SigningCertURL: string;
}

export interface NotificationOptions {
  topicArn: string;
  /** a string as is; anything else is JSON-encoded (e.g. a CloudWatch alarm object) */
  message: unknown;
  subject?: string;
  messageId?: string;
  /** ISO 8601; default now */
  timestamp?: string;
  /** default '1', what SNS topics use unless configured otherwise */
  signatureVersion?: SignatureVersion;
  messageAttributes?: Record<string, { Type: string; Value: string }>;
}

export interface ConfirmationOptions {
  topicArn: string;
  /** default: this signer's own server, so a confirmation GET is counted in `confirmRequests` */
  subscribeUrl?: string;
  token?: string;
  messageId?: string;
  timestamp?: string;
  signatureVersion?: SignatureVersion;
}

type KeyMaterial = TestKeyMaterial;

let keyMaterial: KeyMaterial | undefined;

/** One key pair per process: RSA generation costs tens of milliseconds. */
function generateKeyMaterial(): KeyMaterial {
  keyMaterial ??= createSelfSignedCertificate({ commonName: 'sns.test' });
  return keyMaterial;
}

const NOTIFICATION_FIELDS = [
  'Message',
  'MessageId',
  'Subject',
  'Timestamp',
  'TopicArn',
  'Type',
];
const CONFIRMATION_FIELDS = [
  'Message',
  'MessageId',
  'SubscribeURL',
  'Timestamp',
  'Token',
  'TopicArn',
  'Type',
];

/** Written apart from the verifier's, so a shared mistake cannot make both sides agree. */
function stringToSign(body: Record<string, unknown>): string {
  const fields =
    body.Type === 'Notification' ? NOTIFICATION_FIELDS : CONFIRMATION_FIELDS;
  return fields
    .filter((key) => typeof body[key] === 'string')
    .map((key) => `${key}\n${body[key] as string}\n`)
    .join('');
}

export class SnsTestSigner {
  /** path of the certificate on the server; ends in `.pem` like AWS's */
  static readonly CERT_PATH = '/SimpleNotificationService-snstest.pem';

  /** GETs of the certificate so far */
  certRequests = 0;
  /** URLs of every GET carrying `Action=ConfirmSubscription` */
  readonly confirmRequests: string[] = [];
  /** every request the server saw, as `METHOD path?query` */
  readonly requests: string[] = [];

  private constructor(
    private readonly server: Server,
    private readonly keys: KeyMaterial,
    /** `http://127.0.0.1:<port>` */
    readonly baseUrl: string,
  ) {}

  /** Generates (once per process) the key pair and starts the certificate server on a random port. */
  static async start(): Promise<SnsTestSigner> {
    const keys = generateKeyMaterial();
    let signer: SnsTestSigner | undefined;
    const server = createServer((req, res) =>
      signer!.handle(req.method ?? 'GET', req.url ?? '/', res),
    );
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    const { port } = server.address() as AddressInfo;
    signer = new SnsTestSigner(server, keys, `http://127.0.0.1:${port}`);
    return signer;
  }

  /** the URL put in `SigningCertURL` */
  get certUrl(): string {
    return `${this.baseUrl}${SnsTestSigner.CERT_PATH}`;
  }

  /** `^http://127\.0\.0\.1:<port>/`: hand `.source` to SNS_CERT_URL_PATTERN */
  get certUrlPattern(): RegExp {
    return new RegExp(`^${this.baseUrl.replace(/\./g, '\\.')}/`);
  }

  get certificatePem(): string {
    return this.keys.certPem;
  }

  resetCounters(): void {
    this.certRequests = 0;
    this.confirmRequests.length = 0;
    this.requests.length = 0;
  }

  notification(options: NotificationOptions): SignedNotificationBody {
    const messageId = options.messageId ?? randomUUID();
    const body: SignedNotificationBody = {
      Type: 'Notification',
      MessageId: messageId,
      TopicArn: options.topicArn,
      ...(options.subject !== undefined ? { Subject: options.subject } : {}),
      Message:
        typeof options.message === 'string'
          ? options.message
          : JSON.stringify(options.message),
      Timestamp: options.timestamp ?? new Date().toISOString(),
      SignatureVersion: options.signatureVersion ?? '1',
      Signature: '',
      SigningCertURL: this.certUrl,
      UnsubscribeURL: `${this.baseUrl}/?Action=Unsubscribe&SubscriptionArn=${options.topicArn}:${messageId}`,
      ...(options.messageAttributes
        ? { MessageAttributes: options.messageAttributes }
        : {}),
    };
    return this.sign(body);
  }

  subscriptionConfirmation(
    options: ConfirmationOptions,
  ): SignedConfirmationBody {
    return this.confirmation('SubscriptionConfirmation', options);
  }

  unsubscribeConfirmation(
    options: ConfirmationOptions,
  ): SignedConfirmationBody {
    return this.confirmation('UnsubscribeConfirmation', options);
  }

  /** (Re)computes `Signature` over the body's current fields, per its `SignatureVersion`. */
  sign<T extends { Signature: string; SignatureVersion: string }>(body: T): T {
    const algorithm = body.SignatureVersion === '2' ? 'RSA-SHA256' : 'RSA-SHA1';
    const signature = createSign(algorithm)
      .update(stringToSign(body as unknown as Record<string, unknown>), 'utf8')
      .sign(this.keys.keyPem, 'base64');
    return { ...body, Signature: signature };
  }

  /** The headers SNS sends with the body (`Content-Type: text/plain`, `x-amz-sns-*`). */
  headersFor(body: {
    Type: string;
    MessageId: string;
    TopicArn: string;
  }): Record<string, string> {
    return {
      'content-type': 'text/plain; charset=UTF-8',
      'x-amz-sns-message-type': body.Type,
      'x-amz-sns-message-id': body.MessageId,
      'x-amz-sns-topic-arn': body.TopicArn,
      'user-agent': 'Amazon Simple Notification Service Agent',
    };
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private confirmation(
    type: SignedConfirmationBody['Type'],
    options: ConfirmationOptions,
  ): SignedConfirmationBody {
    const token = options.token ?? randomUUID().replace(/-/g, '').repeat(4);
    const action =
      type === 'SubscriptionConfirmation' ? 'subscribe' : 'unsubscribe';
    const body: SignedConfirmationBody = {
      Type: type,
      MessageId: options.messageId ?? randomUUID(),
      Token: token,
      TopicArn: options.topicArn,
      Message: `You have chosen to ${action} the topic ${options.topicArn}.\nTo confirm the subscription, visit the SubscribeURL included in this message.`,
      SubscribeURL:
        options.subscribeUrl ??
        `${this.baseUrl}/?Action=ConfirmSubscription&TopicArn=${options.topicArn}&Token=${token}`,
      Timestamp: options.timestamp ?? new Date().toISOString(),
      SignatureVersion: options.signatureVersion ?? '1',
      Signature: '',
      SigningCertURL: this.certUrl,
    };
    return this.sign(body);
  }

  private handle(method: string, url: string, res: ServerResponse): void {
    this.requests.push(`${method} ${url}`);
    const parsed = new URL(url, this.baseUrl);
    if (method === 'GET' && parsed.pathname === SnsTestSigner.CERT_PATH) {
      this.certRequests += 1;
      res.writeHead(200, { 'content-type': 'application/x-pem-file' });
      res.end(this.keys.certPem);
      return;
    }
    if (
      method === 'GET' &&
      parsed.searchParams.get('Action') === 'ConfirmSubscription'
    ) {
      this.confirmRequests.push(url);
      const topicArn = parsed.searchParams.get('TopicArn') ?? '';
      res.writeHead(200, { 'content-type': 'text/xml' });
      res.end(
        `<ConfirmSubscriptionResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/"><ConfirmSubscriptionResult><SubscriptionArn>${topicArn}:${randomUUID()}</SubscriptionArn></ConfirmSubscriptionResult><ResponseMetadata><RequestId>${randomUUID()}</RequestId></ResponseMetadata></ConfirmSubscriptionResponse>`,
      );
      return;
    }
    res.writeHead(404, { 'content-type': 'text/plain' });
    res.end('not found');
  }
}
