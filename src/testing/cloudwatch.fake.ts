import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type {
  CloudWatchClientConfig,
  MetricAlarm,
  StateValue,
  Tag,
} from '@aws-sdk/client-cloudwatch';

/**
 * In-memory CloudWatch for tests, speaking what @aws-sdk/client-cloudwatch 3.11xx
 * speaks: awsJson1_0 with awsQueryCompatible. Every call is `POST /` with
 * `X-Amz-Target: GraniteServiceVersion20100801.<Operation>`, a JSON body, and
 * `x-amzn-query-mode: true`; answers are JSON, timestamps in epoch seconds, errors
 * `{ __type, message }` plus `x-amzn-query-error: <Code>;Sender` (the SDK takes the
 * query-era error code from that header). Signatures are not checked.
 *
 * Operations: DescribeAlarms (AlarmNames, AlarmNamePrefix, StateValue, AlarmTypes,
 * paging), PutMetricAlarm, DeleteAlarms, ListTagsForResource, TagResource,
 * UntagResource, SetAlarmState.
 */
export class CloudWatchFake {
  readonly region: string;
  readonly accountId: string;
  /** every request, in order */
  readonly calls: { operation: string; input: Record<string, unknown> }[] = [];
  /** DescribeAlarms page size when the caller does not ask for one */
  defaultPageSize = 50;

  private readonly alarms = new Map<string, StoredAlarm>();
  private readonly failures: { operation: string; failure: FakeFailure }[] = [];
  private server?: Server;
  private port = 0;

  private constructor(options: { region?: string; accountId?: string }) {
    this.region = options.region ?? 'eu-central-1';
    this.accountId = options.accountId ?? '123456789012';
  }

  static async start(
    options: { region?: string; accountId?: string } = {},
  ): Promise<CloudWatchFake> {
    const fake = new CloudWatchFake(options);
    await fake.listen();
    return fake;
  }

  get endpoint(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** What a `new CloudWatchClient(...)` needs to talk to this fake. */
  clientConfig(): CloudWatchClientConfig {
    return {
      region: this.region,
      endpoint: this.endpoint,
      credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
      maxAttempts: 1,
    };
  }

  async close(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    server.closeAllConnections();
    await new Promise<void>((resolve, reject) =>
      server.close((err) => (err ? reject(err) : resolve())),
    );
  }

  /** Forget alarms, calls and queued failures. */
  reset(): void {
    this.alarms.clear();
    this.calls.length = 0;
    this.failures.length = 0;
  }

  callCount(operation?: string): number {
    return operation
      ? this.calls.filter((c) => c.operation === operation).length
      : this.calls.length;
  }

  /** Adds an alarm as if someone created it outside the manager (no tags unless given). */
  seed(alarm: Partial<MetricAlarm> & { AlarmName: string }, tags: Tag[] = []) {
    const stored = this.upsert({ ...alarm } as Record<string, unknown>);
    stored.tags = tags.map((t) => ({ Key: t.Key, Value: t.Value }));
    return this.view(stored);
  }

  setState(name: string, state: StateValue, reason?: string): void {
    const alarm = this.mustGet(name);
    alarm.alarm.StateValue = state;
    alarm.alarm.StateReason = reason ?? `Set by the test to ${state}`;
    alarm.alarm.StateUpdatedTimestamp = new Date();
    alarm.alarm.StateTransitionedTimestamp = new Date();
  }

  remove(name: string): void {
    this.mustGet(name);
    this.alarms.delete(name);
  }

  get(name: string): MetricAlarm | undefined {
    const stored = this.alarms.get(name);
    return stored ? this.view(stored) : undefined;
  }

  list(): MetricAlarm[] {
    return [...this.alarms.values()].map((a) => this.view(a));
  }

  tagsOf(name: string): Tag[] {
    return this.mustGet(name).tags.map((t) => ({ ...t }));
  }

  arnOf(name: string): string {
    return `arn:aws:cloudwatch:${this.region}:${this.accountId}:alarm:${name}`;
  }

  /** The next call of `operation` fails once with this error (e.g. throttling). */
  failNext(operation: string, failure: FakeFailure): void {
    this.failures.push({ operation, failure });
  }

  private async listen(): Promise<void> {
    this.server = createServer((req, res) => {
      void this.handle(req).then(({ status, body, headers }) => {
        const payload = JSON.stringify(body);
        res.writeHead(status, {
          'content-type': 'application/x-amz-json-1.0',
          'content-length': Buffer.byteLength(payload),
          'x-amzn-requestid': `fake-${this.calls.length}`,
          ...headers,
        });
        res.end(payload);
      });
    });
    await new Promise<void>((resolve) =>
      this.server!.listen(0, '127.0.0.1', resolve),
    );
    this.port = (this.server.address() as AddressInfo).port;
  }

  private async handle(req: IncomingMessage): Promise<FakeResponse> {
    const raw = await readBody(req);
    const target = String(req.headers['x-amz-target'] ?? '');
    const [service, operation] = target.split('.');
    if (req.method !== 'POST' || service !== 'GraniteServiceVersion20100801') {
      return error(400, 'UnknownOperationException', `unsupported: ${target}`);
    }
    let input: Record<string, unknown>;
    try {
      input = raw ? (JSON.parse(raw) as Record<string, unknown>) : {};
    } catch {
      return error(400, 'SerializationException', 'body is not JSON');
    }
    this.calls.push({ operation, input });

    const queued = this.failures.findIndex((f) => f.operation === operation);
    if (queued >= 0) {
      const { failure } = this.failures.splice(queued, 1)[0];
      return error(
        failure.status,
        failure.code,
        failure.message ?? failure.code,
      );
    }

    switch (operation) {
      case 'DescribeAlarms':
        return this.describeAlarms(input);
      case 'PutMetricAlarm':
        return this.putMetricAlarm(input);
      case 'DeleteAlarms':
        return this.deleteAlarms(input);
      case 'ListTagsForResource':
        return this.withAlarmByArn(input, (a) => ok({ Tags: a.tags }));
      case 'TagResource':
        return this.withAlarmByArn(input, (a) => {
          for (const tag of (input.Tags as Tag[] | undefined) ?? []) {
            a.tags = a.tags.filter((t) => t.Key !== tag.Key);
            a.tags.push({ Key: tag.Key, Value: tag.Value });
          }
          return ok({});
        });
      case 'UntagResource':
        return this.withAlarmByArn(input, (a) => {
          const keys = (input.TagKeys as string[] | undefined) ?? [];
          a.tags = a.tags.filter((t) => !keys.includes(t.Key!));
          return ok({});
        });
      case 'SetAlarmState': {
        const name = String(input.AlarmName);
        if (!this.alarms.has(name)) {
          return error(404, 'ResourceNotFound', `alarm ${name} does not exist`);
        }
        this.setState(
          name,
          input.StateValue as StateValue,
          input.StateReason as string,
        );
        return ok({});
      }
      default:
        return error(
          400,
          'InvalidAction',
          `operation ${operation} is not emulated by CloudWatchFake`,
        );
    }
  }

  private describeAlarms(input: Record<string, unknown>): FakeResponse {
    const names = input.AlarmNames as string[] | undefined;
    const prefix = input.AlarmNamePrefix as string | undefined;
    if (names?.length && prefix) {
      return error(
        400,
        'InvalidParameterCombination',
        'AlarmNames and AlarmNamePrefix cannot be used together',
      );
    }
    const types = input.AlarmTypes as string[] | undefined;
    // Without AlarmTypes, CloudWatch answers with metric alarms only.
    const wantsMetric = !types?.length || types.includes('MetricAlarm');
    const matching = (wantsMetric ? [...this.alarms.values()] : [])
      .filter((a) => !names?.length || names.includes(a.alarm.AlarmName!))
      .filter((a) => !prefix || a.alarm.AlarmName!.startsWith(prefix))
      .filter(
        (a) => !input.StateValue || a.alarm.StateValue === input.StateValue,
      )
      .sort((a, b) => a.alarm.AlarmName!.localeCompare(b.alarm.AlarmName!));
    const size = Math.min(
      Number(input.MaxRecords ?? this.defaultPageSize),
      100,
    );
    const start = input.NextToken
      ? Number(Buffer.from(text(input.NextToken), 'base64url').toString())
      : 0;
    const page = matching.slice(start, start + size);
    const next = start + size < matching.length ? start + size : undefined;
    return ok({
      MetricAlarms: page.map((a) => serialize(this.view(a))),
      CompositeAlarms: [],
      ...(next !== undefined
        ? { NextToken: Buffer.from(String(next)).toString('base64url') }
        : {}),
    });
  }

  private putMetricAlarm(input: Record<string, unknown>): FakeResponse {
    if (typeof input.AlarmName !== 'string' || input.AlarmName === '') {
      return error(400, 'ValidationError', 'AlarmName is required');
    }
    if (input.Statistic && input.ExtendedStatistic) {
      return error(
        400,
        'InvalidParameterCombination',
        'Statistic and ExtendedStatistic cannot both be set',
      );
    }
    const isNew = !this.alarms.has(input.AlarmName);
    const { Tags, ...fields } = input;
    const stored = this.upsert(fields);
    // CloudWatch applies Tags only when it creates the alarm.
    if (isNew) stored.tags = ((Tags as Tag[] | undefined) ?? []).slice();
    return ok({});
  }

  private deleteAlarms(input: Record<string, unknown>): FakeResponse {
    const names = (input.AlarmNames as string[] | undefined) ?? [];
    const missing = names.filter((n) => !this.alarms.has(n));
    // CloudWatch deletes nothing when one of the names is wrong.
    if (missing.length > 0) {
      return error(
        404,
        'ResourceNotFound',
        `alarms not found: ${missing.join(', ')}`,
      );
    }
    for (const name of names) this.alarms.delete(name);
    return ok({});
  }

  private withAlarmByArn(
    input: Record<string, unknown>,
    fn: (alarm: StoredAlarm) => FakeResponse,
  ): FakeResponse {
    const arn = text(input.ResourceARN);
    const alarm = [...this.alarms.values()].find(
      (a) => a.alarm.AlarmArn === arn,
    );
    if (!alarm) {
      return error(
        404,
        'ResourceNotFoundException',
        `resource ${arn} does not exist`,
      );
    }
    return fn(alarm);
  }

  private upsert(fields: Record<string, unknown>): StoredAlarm {
    const name = String(fields.AlarmName);
    const now = new Date();
    const existing = this.alarms.get(name);
    const alarm: MetricAlarm = {
      ActionsEnabled: true,
      OKActions: [],
      AlarmActions: [],
      InsufficientDataActions: [],
      Dimensions: [],
      ...(fields as MetricAlarm),
      AlarmName: name,
      AlarmArn: this.arnOf(name),
      AlarmConfigurationUpdatedTimestamp: now,
      StateValue: existing?.alarm.StateValue ?? 'INSUFFICIENT_DATA',
      StateReason:
        existing?.alarm.StateReason ?? 'Unchecked: Initial alarm creation',
      StateUpdatedTimestamp: existing?.alarm.StateUpdatedTimestamp ?? now,
      StateTransitionedTimestamp:
        existing?.alarm.StateTransitionedTimestamp ?? now,
    };
    for (const key of Object.keys(alarm) as (keyof MetricAlarm)[]) {
      if (alarm[key] === undefined || alarm[key] === null) delete alarm[key];
    }
    const stored = { alarm, tags: existing?.tags ?? [] };
    this.alarms.set(name, stored);
    return stored;
  }

  private view(stored: StoredAlarm): MetricAlarm {
    return structuredClone(stored.alarm);
  }

  private mustGet(name: string): StoredAlarm {
    const alarm = this.alarms.get(name);
    if (!alarm) throw new Error(`CloudWatchFake: no alarm named ${name}`);
    return alarm;
  }
}

export interface FakeFailure {
  status: number;
  /** query-era error code, e.g. `Throttling`, `ResourceNotFound`, `InternalServiceError` */
  code: string;
  message?: string;
}

interface StoredAlarm {
  alarm: MetricAlarm;
  tags: Tag[];
}

interface FakeResponse {
  status: number;
  body: unknown;
  headers?: Record<string, string>;
}

function ok(body: unknown): FakeResponse {
  return { status: 200, body };
}

function error(status: number, code: string, message: string): FakeResponse {
  return {
    status,
    body: { __type: `com.amazonaws.cloudwatch#${code}`, message },
    headers: {
      'x-amzn-query-error': `${code};${status >= 500 ? 'Receiver' : 'Sender'}`,
    },
  };
}

/** awsJson1_0 sends timestamps as epoch seconds. */
function serialize(alarm: MetricAlarm): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(alarm)) {
    out[key] = value instanceof Date ? value.getTime() / 1000 : value;
  }
  return out;
}

function text(value: unknown): string {
  return typeof value === 'string' ? value : '';
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}
