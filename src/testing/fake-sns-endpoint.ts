/**
 * A local SNS API endpoint for the `sns` notifier. @aws-sdk/client-sns speaks the
 * awsQuery protocol (see `AwsQueryProtocol` in its dist-cjs): a form-encoded POST with
 * `Action=Publish&TopicArn=…&MessageAttributes.entry.N.Name=…`, answered in XML.
 *
 * ```ts
 * const sns = await FakeSnsEndpoint.start();
 * const client = new SNSClient({ region: 'eu-central-1', endpoint: sns.url,
 *   credentials: { accessKeyId: 'test', secretAccessKey: 'test' } });
 * sns.failNext(1, { status: 500 });
 * expect(sns.publishes[0].subject).toBe('[TRIGGER] …');
 * await sns.stop();
 * ```
 */
import { randomUUID } from 'node:crypto';
import {
  createServer,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import type { AddressInfo } from 'node:net';

export interface RecordedAttribute {
  dataType: string;
  stringValue?: string;
}

export interface RecordedPublish {
  messageId: string;
  topicArn: string;
  subject?: string;
  message: string;
  messageAttributes: Record<string, RecordedAttribute>;
  messageGroupId?: string;
  messageDeduplicationId?: string;
  /** every decoded form parameter, for anything not lifted above */
  params: Record<string, string>;
  headers: IncomingMessage['headers'];
}

export interface ScriptedFailure {
  status: number;
  /** SNS error code; default InternalError for 5xx, Throttled for 429, InvalidParameter otherwise */
  code?: string;
  message?: string;
}

export class FakeSnsEndpoint {
  /** successful publishes, in arrival order */
  readonly publishes: RecordedPublish[] = [];
  /** every request, failed or not */
  requestCount = 0;
  private readonly failures: ScriptedFailure[] = [];

  private constructor(
    private readonly server: Server,
    /** `http://127.0.0.1:<port>`: the SNSClient `endpoint` */
    readonly url: string,
  ) {}

  static async start(): Promise<FakeSnsEndpoint> {
    let fake: FakeSnsEndpoint | undefined;
    const server = createServer((req, res) => {
      void fake!.handle(req, res);
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    const { port } = server.address() as AddressInfo;
    fake = new FakeSnsEndpoint(server, `http://127.0.0.1:${port}`);
    return fake;
  }

  /** The next `count` requests get this error instead of being recorded. */
  failNext(count: number, failure: ScriptedFailure): void {
    for (let i = 0; i < count; i += 1) this.failures.push(failure);
  }

  reset(): void {
    this.publishes.length = 0;
    this.failures.length = 0;
    this.requestCount = 0;
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private async handle(
    req: IncomingMessage,
    res: ServerResponse,
  ): Promise<void> {
    this.requestCount += 1;
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const params = Object.fromEntries(
      new URLSearchParams(Buffer.concat(chunks).toString('utf8')),
    );
    const requestId = randomUUID();

    const failure = this.failures.shift();
    if (failure) {
      const code =
        failure.code ??
        (failure.status >= 500
          ? 'InternalError'
          : failure.status === 429
            ? 'Throttled'
            : 'InvalidParameter');
      const type = failure.status >= 500 ? 'Receiver' : 'Sender';
      return this.reply(
        res,
        failure.status,
        `<ErrorResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/"><Error><Type>${type}</Type><Code>${escapeXml(code)}</Code><Message>${escapeXml(failure.message ?? `scripted ${code}`)}</Message></Error><RequestId>${requestId}</RequestId></ErrorResponse>`,
      );
    }

    if (req.method !== 'POST' || params.Action !== 'Publish') {
      return this.reply(
        res,
        400,
        `<ErrorResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/"><Error><Type>Sender</Type><Code>InvalidAction</Code><Message>fake supports only Publish, got ${escapeXml(String(params.Action))}</Message></Error><RequestId>${requestId}</RequestId></ErrorResponse>`,
      );
    }

    const messageId = randomUUID();
    this.publishes.push({
      messageId,
      topicArn: params.TopicArn,
      subject: params.Subject,
      message: params.Message,
      messageAttributes: decodeAttributes(params),
      messageGroupId: params.MessageGroupId,
      messageDeduplicationId: params.MessageDeduplicationId,
      params,
      headers: req.headers,
    });
    this.reply(
      res,
      200,
      `<PublishResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/"><PublishResult><MessageId>${messageId}</MessageId></PublishResult><ResponseMetadata><RequestId>${requestId}</RequestId></ResponseMetadata></PublishResponse>`,
    );
  }

  private reply(res: ServerResponse, status: number, xml: string): void {
    res.writeHead(status, {
      'content-type': 'text/xml',
      'x-amzn-requestid': randomUUID(),
    });
    res.end(xml);
  }
}

/** `MessageAttributes.entry.N.Name` / `.Value.DataType` / `.Value.StringValue` → a map. */
function decodeAttributes(
  params: Record<string, string>,
): Record<string, RecordedAttribute> {
  const out: Record<string, RecordedAttribute> = {};
  for (
    let n = 1;
    params[`MessageAttributes.entry.${n}.Name`] !== undefined;
    n += 1
  ) {
    const prefix = `MessageAttributes.entry.${n}`;
    out[params[`${prefix}.Name`]] = {
      dataType: params[`${prefix}.Value.DataType`],
      stringValue: params[`${prefix}.Value.StringValue`],
    };
  }
  return out;
}

function escapeXml(value: string): string {
  return value.replace(/[<>&'"]/g, (c) => `&#${c.charCodeAt(0)};`);
}
