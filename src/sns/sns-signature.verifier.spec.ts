import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  afterAll,
  beforeAll,
  beforeEach,
  describe,
  expect,
  it,
  vi,
} from 'vitest';
import { SnsTestSigner } from '../testing/sns-test-signer.js';
import {
  DEFAULT_SNS_CERT_URL_PATTERN,
  SnsSignatureVerifier,
  SnsSubscriptionConfirmer,
  SnsVerificationError,
  isUrlAllowed,
  urlRejectionReason,
  type SnsSignatureVerifierOptions,
  type SnsSubscriptionConfirmation,
} from './sns-signature.verifier.js';

const TOPIC = 'arn:aws:sns:eu-central-1:123456789012:cloudwatch-alarms';
const OTHER_TOPIC = 'arn:aws:sns:eu-central-1:123456789012:someone-else';
const ALARM = { AlarmName: 'HighFailureRate', NewStateValue: 'ALARM' };
const AWS_CERT = readFileSync(
  new URL(
    '../../test/fixtures/aws/sns-signed/certs/SimpleNotificationService-7506a1e35b36ef5a444dd1a8e7cc3ed8.pem',
    import.meta.url,
  ),
  'utf8',
);

let signer: SnsTestSigner;

beforeAll(async () => {
  signer = await SnsTestSigner.start();
});
afterAll(async () => {
  await signer.stop();
});
beforeEach(() => signer.resetCounters());

function verifier(
  options: Partial<SnsSignatureVerifierOptions> = {},
): SnsSignatureVerifier {
  return new SnsSignatureVerifier({
    certUrlPattern: signer.certUrlPattern,
    topicAllowlist: [TOPIC],
    ...options,
  });
}

async function codeOf(promise: Promise<unknown>): Promise<string> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(SnsVerificationError);
  return (error as SnsVerificationError).code;
}

function changeOneByte(value: string): string {
  const i = value.length - 1;
  return value.slice(0, i) + (value[i] === 'x' ? 'y' : 'x');
}

describe(SnsSignatureVerifier.name, () => {
  describe('accepts', () => {
    it.each(['1', '2'] as const)(
      'a notification with SignatureVersion %s',
      async (signatureVersion) => {
        const body = signer.notification({
          topicArn: TOPIC,
          message: ALARM,
          signatureVersion,
        });
        const message = await verifier().verify(body);
        expect(message).toMatchObject({
          Type: 'Notification',
          TopicArn: TOPIC,
          SignatureVersion: signatureVersion,
        });
        expect(JSON.parse(message.Message)).toEqual(ALARM);
      },
    );

    it.each(['1', '2'] as const)(
      'a notification with Subject, SignatureVersion %s',
      async (signatureVersion) => {
        const body = signer.notification({
          topicArn: TOPIC,
          message: 'plain text',
          subject: 'ALARM: "HighFailureRate" in EU (Frankfurt)',
          signatureVersion,
        });
        await expect(verifier().verify(body)).resolves.toMatchObject({
          Subject: 'ALARM: "HighFailureRate" in EU (Frankfurt)',
        });
      },
    );

    it.each(['1', '2'] as const)(
      'subscription and unsubscribe confirmations, SignatureVersion %s',
      async (signatureVersion) => {
        const subscribe = signer.subscriptionConfirmation({
          topicArn: TOPIC,
          signatureVersion,
        });
        const unsubscribe = signer.unsubscribeConfirmation({
          topicArn: TOPIC,
          signatureVersion,
        });
        await expect(verifier().verify(subscribe)).resolves.toMatchObject({
          Type: 'SubscriptionConfirmation',
          SubscribeURL: subscribe.SubscribeURL,
          Token: subscribe.Token,
        });
        await expect(verifier().verify(unsubscribe)).resolves.toMatchObject({
          Type: 'UnsubscribeConfirmation',
        });
      },
    );

    it('the JSON text as posted with Content-Type text/plain, and as a Buffer', async () => {
      const body = signer.notification({ topicArn: TOPIC, message: ALARM });
      await expect(
        verifier().verify(JSON.stringify(body)),
      ).resolves.toMatchObject({ MessageId: body.MessageId });
      await expect(
        verifier().verify(Buffer.from(JSON.stringify(body))),
      ).resolves.toMatchObject({
        MessageId: body.MessageId,
      });
    });

    it('the Lambda key spelling, normalized to the HTTP one', async () => {
      const { SigningCertURL, UnsubscribeURL, ...rest } = signer.notification({
        topicArn: TOPIC,
        message: ALARM,
      });
      const lambda = {
        ...rest,
        SigningCertUrl: SigningCertURL,
        UnsubscribeUrl: UnsubscribeURL,
        Subject: null,
      };
      const message = await verifier().verify(lambda);
      expect(message).toMatchObject({ SigningCertURL, UnsubscribeURL });
      expect(message).not.toHaveProperty('SigningCertUrl');
      expect(message).not.toHaveProperty('Subject');
    });

    it('any topic when the allowlist is empty', async () => {
      const body = signer.notification({
        topicArn: OTHER_TOPIC,
        message: ALARM,
      });
      await expect(
        verifier({ topicAllowlist: [] }).verify(body),
      ).resolves.toMatchObject({ TopicArn: OTHER_TOPIC });
    });

    it('changes to fields outside the signature (UnsubscribeURL, MessageAttributes)', async () => {
      const body = {
        ...signer.notification({ topicArn: TOPIC, message: ALARM }),
        UnsubscribeURL: `${signer.baseUrl}/elsewhere`,
        MessageAttributes: { a: { Type: 'String', Value: 'b' } },
      };
      await expect(verifier().verify(body)).resolves.toBeDefined();
    });
  });

  describe('rejects a signed field changed by one byte', () => {
    const notificationFields = [
      'Message',
      'MessageId',
      'Subject',
      'Timestamp',
      'TopicArn',
    ] as const;
    const confirmationFields = [
      'Message',
      'MessageId',
      'SubscribeURL',
      'Timestamp',
      'Token',
      'TopicArn',
    ] as const;

    it.each(['1', '2'] as const)(
      'Notification, SignatureVersion %s',
      async (signatureVersion) => {
        const body = signer.notification({
          topicArn: TOPIC,
          message: ALARM,
          subject: 'ALARM',
          signatureVersion,
        });
        for (const field of notificationFields) {
          const tampered = { ...body, [field]: changeOneByte(body[field]!) };
          expect(
            await codeOf(verifier({ topicAllowlist: [] }).verify(tampered)),
            field,
          ).toBe('bad-signature');
        }
      },
    );

    it.each(['1', '2'] as const)(
      'SubscriptionConfirmation, SignatureVersion %s',
      async (signatureVersion) => {
        const body = signer.subscriptionConfirmation({
          topicArn: TOPIC,
          signatureVersion,
        });
        for (const field of confirmationFields) {
          const tampered = { ...body, [field]: changeOneByte(body[field]) };
          expect(
            await codeOf(verifier({ topicAllowlist: [] }).verify(tampered)),
            field,
          ).toBe('bad-signature');
        }
      },
    );

    it('Type swapped between the two confirmation types', async () => {
      const body = signer.subscriptionConfirmation({ topicArn: TOPIC });
      const tampered = { ...body, Type: 'UnsubscribeConfirmation' };
      expect(await codeOf(verifier().verify(tampered))).toBe('bad-signature');
    });

    it('a Subject added to or removed from a notification', async () => {
      const plain = signer.notification({ topicArn: TOPIC, message: ALARM });
      const withSubject = signer.notification({
        topicArn: TOPIC,
        message: ALARM,
        subject: 'ALARM',
      });
      const { Subject: _subject, ...withoutSubject } = withSubject;
      expect(
        await codeOf(verifier().verify({ ...plain, Subject: 'ALARM' })),
      ).toBe('bad-signature');
      expect(await codeOf(verifier().verify(withoutSubject))).toBe(
        'bad-signature',
      );
    });
  });

  describe('rejects a bad signature', () => {
    it("another message's signature", async () => {
      const a = signer.notification({ topicArn: TOPIC, message: 'a' });
      const b = signer.notification({ topicArn: TOPIC, message: 'b' });
      expect(
        await codeOf(verifier().verify({ ...a, Signature: b.Signature })),
      ).toBe('bad-signature');
    });

    it('a SignatureVersion 1 signature relabelled as 2', async () => {
      const body = signer.notification({
        topicArn: TOPIC,
        message: ALARM,
        signatureVersion: '1',
      });
      expect(
        await codeOf(verifier().verify({ ...body, SignatureVersion: '2' })),
      ).toBe('bad-signature');
    });

    it('garbage', async () => {
      const body = signer.notification({ topicArn: TOPIC, message: ALARM });
      expect(
        await codeOf(
          verifier().verify({ ...body, Signature: 'bm90IGEgc2lnbmF0dXJl' }),
        ),
      ).toBe('bad-signature');
      expect(
        await codeOf(verifier().verify({ ...body, Signature: '!!!' })),
      ).toBe('bad-signature');
    });

    it('a signature checked against a certificate with another key', async () => {
      const body = signer.notification({ topicArn: TOPIC, message: ALARM });
      const sut = verifier({
        fetchCertificate: async () => AWS_CERT,
        // inside that certificate's validity, so only the key can fail
        now: () => new Date('2026-03-01T00:00:00Z'),
      });
      expect(await codeOf(sut.verify(body))).toBe('bad-signature');
    });
  });

  describe('checks the topic before any certificate fetch', () => {
    it('rejects a topic outside the allowlist with zero certificate requests', async () => {
      const body = signer.notification({
        topicArn: OTHER_TOPIC,
        message: ALARM,
      });
      const error = await verifier()
        .verify(body)
        .catch((e: unknown) => e);
      expect(error).toMatchObject({ code: 'topic-not-allowed' });
      expect((error as Error).message).toContain(OTHER_TOPIC);
      expect(signer.certRequests).toBe(0);
      expect(signer.requests).toEqual([]);
    });

    it('even when the certificate URL is also bad', async () => {
      const body = {
        ...signer.notification({ topicArn: OTHER_TOPIC, message: ALARM }),
        SigningCertURL: 'https://evil.test/x.pem',
      };
      expect(await codeOf(verifier().verify(body))).toBe('topic-not-allowed');
    });
  });

  describe('rejects certificate URLs outside the pattern, without fetching them', () => {
    const fetchCertificate = vi.fn(
      async (_url: string) => signer.certificatePem,
    );
    beforeEach(() => fetchCertificate.mockClear());

    it.each([
      [
        'look-alike host',
        'https://sns.us-east-1.amazonaws.com.evil.test/SimpleNotificationService-x.pem',
      ],
      [
        'AWS host in the path',
        'https://evil.test/sns.us-east-1.amazonaws.com/SimpleNotificationService-x.pem',
      ],
      [
        'userinfo trick',
        'https://sns.us-east-1.amazonaws.com@evil.test/SimpleNotificationService-x.pem',
      ],
      [
        'userinfo with port',
        'https://sns.us-east-1.amazonaws.com:443@evil.test/x.pem',
      ],
      [
        '.pem only in the query',
        'https://sns.us-east-1.amazonaws.com/cert?file=x.pem',
      ],
      [
        '.pem only in the fragment',
        'https://sns.us-east-1.amazonaws.com/cert#x.pem',
      ],
      [
        'http',
        'http://sns.us-east-1.amazonaws.com/SimpleNotificationService-x.pem',
      ],
      ['not a URL', 'sns.us-east-1.amazonaws.com/x.pem'],
    ])('%s', async (_name, url) => {
      const sut = verifier({
        certUrlPattern: DEFAULT_SNS_CERT_URL_PATTERN,
        fetchCertificate,
      });
      const body = {
        ...signer.notification({ topicArn: TOPIC, message: ALARM }),
        SigningCertURL: url,
      };
      const error = await sut.verify(body).catch((e: unknown) => e);
      expect(error).toMatchObject({ code: 'bad-cert-url' });
      expect((error as Error).message).toContain('SigningCertURL');
      expect(fetchCertificate).not.toHaveBeenCalled();
    });

    it('on the test signer: a different port, .pem in the query, userinfo', async () => {
      const port = Number(new URL(signer.baseUrl).port);
      for (const url of [
        `http://127.0.0.1:${port + 1}${SnsTestSigner.CERT_PATH}`,
        `${signer.baseUrl}/cert?x=.pem`,
        `http://127.0.0.1:${port}@localhost:${port}${SnsTestSigner.CERT_PATH}`,
      ]) {
        const body = {
          ...signer.notification({ topicArn: TOPIC, message: ALARM }),
          SigningCertURL: url,
        };
        expect(await codeOf(verifier().verify(body)), url).toBe('bad-cert-url');
      }
      expect(signer.requests).toEqual([]);
    });
  });

  describe('rejects malformed and unsigned messages', () => {
    it.each([
      'MessageId',
      'TopicArn',
      'Message',
      'Timestamp',
      'SignatureVersion',
      'SigningCertURL',
    ])('a notification without %s', async (field) => {
      const body: Record<string, unknown> = {
        ...signer.notification({ topicArn: TOPIC, message: ALARM }),
      };
      delete body[field];
      const error = await verifier()
        .verify(body)
        .catch((e: unknown) => e);
      expect(error).toMatchObject({ code: 'missing-field' });
      expect((error as Error).message).toContain(field);
      expect(signer.certRequests).toBe(0);
    });

    it.each(['SubscribeURL', 'Token'])(
      'a confirmation without %s',
      async (field) => {
        const body: Record<string, unknown> = {
          ...signer.subscriptionConfirmation({ topicArn: TOPIC }),
        };
        delete body[field];
        const error = await verifier()
          .verify(body)
          .catch((e: unknown) => e);
        expect(error).toMatchObject({ code: 'missing-field' });
        expect((error as Error).message).toContain(field);
      },
    );

    it('a raw message delivery (the bare payload)', async () => {
      expect(await codeOf(verifier().verify(ALARM))).toBe('unsigned');
      expect(await codeOf(verifier().verify(JSON.stringify(ALARM)))).toBe(
        'unsigned',
      );
    });

    it('an envelope without Signature', async () => {
      const { Signature: _signature, ...body } = signer.notification({
        topicArn: TOPIC,
        message: ALARM,
      });
      expect(await codeOf(verifier().verify(body))).toBe('unsigned');
      expect(await codeOf(verifier().verify({ ...body, Signature: '' }))).toBe(
        'unsigned',
      );
    });

    it('an unknown Type', async () => {
      const body = signer.notification({ topicArn: TOPIC, message: ALARM });
      expect(await codeOf(verifier().verify({ ...body, Type: 'Notice' }))).toBe(
        'unknown-type',
      );
      const { Type: _type, ...untyped } = body;
      expect(await codeOf(verifier().verify(untyped))).toBe('unknown-type');
    });

    it('an unsupported SignatureVersion', async () => {
      const body = signer.notification({ topicArn: TOPIC, message: ALARM });
      expect(
        await codeOf(verifier().verify({ ...body, SignatureVersion: '3' })),
      ).toBe('unsupported-signature-version');
      expect(
        await codeOf(verifier().verify({ ...body, SignatureVersion: 1 })),
      ).toBe('unsupported-signature-version');
    });

    it.each([['not json'], [null], [42], [[1, 2]]])(
      'a body that is not a JSON object: %o',
      async (body) => {
        expect(await codeOf(verifier().verify(body))).toBe('malformed');
      },
    );
  });

  describe('certificate', () => {
    it('is fetched once for many messages', async () => {
      const sut = verifier();
      for (let i = 0; i < 5; i += 1) {
        await sut.verify(
          signer.notification({
            topicArn: TOPIC,
            message: `m${i}`,
            signatureVersion: i % 2 ? '1' : '2',
          }),
        );
      }
      expect(signer.certRequests).toBe(1);
    });

    it('is fetched once by concurrent verifications', async () => {
      const sut = verifier();
      const bodies = Array.from({ length: 10 }, (_, i) =>
        signer.notification({ topicArn: TOPIC, message: `m${i}` }),
      );
      await Promise.all(bodies.map((b) => sut.verify(b)));
      expect(signer.certRequests).toBe(1);
    });

    it('is fetched again once the cache entry is older than certCacheTtlMs', async () => {
      let now = new Date();
      const sut = verifier({ certCacheTtlMs: 60_000, now: () => now });
      await sut.verify(signer.notification({ topicArn: TOPIC, message: 'a' }));
      now = new Date(now.getTime() + 59_000);
      await sut.verify(signer.notification({ topicArn: TOPIC, message: 'b' }));
      expect(signer.certRequests).toBe(1);
      now = new Date(now.getTime() + 2_000);
      await sut.verify(signer.notification({ topicArn: TOPIC, message: 'c' }));
      expect(signer.certRequests).toBe(2);
    });

    it('fetch failures are reported and not cached', async () => {
      let fail = true;
      const sut = verifier({
        fetchCertificate: async () => {
          if (fail) throw new Error('connect ECONNREFUSED');
          return signer.certificatePem;
        },
      });
      const body = signer.notification({ topicArn: TOPIC, message: ALARM });
      const error = await sut.verify(body).catch((e: unknown) => e);
      expect(error).toMatchObject({ code: 'cert-fetch-failed' });
      expect((error as Error).message).toContain('ECONNREFUSED');
      fail = false;
      await expect(sut.verify(body)).resolves.toBeDefined();
    });

    it('a 404 from the default fetcher is a fetch failure', async () => {
      const body = {
        ...signer.notification({ topicArn: TOPIC, message: ALARM }),
        SigningCertURL: `${signer.baseUrl}/missing.pem`,
      };
      expect(await codeOf(verifier().verify(body))).toBe('cert-fetch-failed');
    });

    it('something that is not a certificate is rejected', async () => {
      const sut = verifier({
        fetchCertificate: async () => '<html>hello</html>',
      });
      expect(
        await codeOf(
          sut.verify(signer.notification({ topicArn: TOPIC, message: ALARM })),
        ),
      ).toBe('cert-invalid');
    });

    it('must be valid now', async () => {
      const body = signer.notification({ topicArn: TOPIC, message: ALARM });
      expect(
        await codeOf(
          verifier({ now: () => new Date('2100-01-01T00:00:00Z') }).verify(
            body,
          ),
        ),
      ).toBe('cert-expired');
      expect(
        await codeOf(
          verifier({ now: () => new Date('2000-01-01T00:00:00Z') }).verify(
            body,
          ),
        ),
      ).toBe('cert-not-yet-valid');
    });
  });
});

describe(isUrlAllowed.name, () => {
  const aws = DEFAULT_SNS_CERT_URL_PATTERN;

  it.each([
    'https://sns.us-east-1.amazonaws.com/SimpleNotificationService-7ff5318490ec183fbaddaa2a969abfda.pem',
    'https://sns.cn-north-1.amazonaws.com.cn/SimpleNotificationService-x.pem',
    'https://SNS.EU-CENTRAL-1.amazonaws.com/SimpleNotificationService-x.pem',
  ])('accepts the certificate URL %s', (url) => {
    expect(isUrlAllowed(url, aws, { certificate: true })).toBe(true);
  });

  it.each([
    ['look-alike host', 'https://sns.us-east-1.amazonaws.com.evil.test/x.pem'],
    ['look-alike domain', 'https://sns.us-east-1.amazonaws.co/x.pem'],
    ['userinfo', 'https://sns.us-east-1.amazonaws.com@evil.test/x.pem'],
    [
      'encoded userinfo',
      'https://sns.us-east-1.amazonaws.com%40evil.test@evil.test/x.pem',
    ],
    ['.pem in the query', 'https://sns.us-east-1.amazonaws.com/x?.pem'],
    ['query after .pem', 'https://sns.us-east-1.amazonaws.com/x.pem?x=1'],
    ['http', 'http://sns.us-east-1.amazonaws.com/x.pem'],
    ['no path', 'https://sns.us-east-1.amazonaws.com'],
    ['relative', '/x.pem'],
    ['empty', ''],
  ])('refuses the certificate URL with %s', (_name, url) => {
    expect(isUrlAllowed(url, aws, { certificate: true })).toBe(false);
  });

  it('allows a query on a SubscribeURL but keeps every other rule', () => {
    const subscribe =
      'https://sns.us-west-2.amazonaws.com/?Action=ConfirmSubscription&TopicArn=arn:aws:sns:us-west-2:1:t&Token=abc';
    expect(isUrlAllowed(subscribe, aws)).toBe(true);
    expect(isUrlAllowed(subscribe, aws, { certificate: true })).toBe(false);
    expect(
      isUrlAllowed(
        'https://sns.us-west-2.amazonaws.com@169.254.169.254/?Action=x',
        aws,
      ),
    ).toBe(false);
    expect(isUrlAllowed('https://169.254.169.254/latest/meta-data/', aws)).toBe(
      false,
    );
  });

  it('allows http only when the pattern says http', () => {
    expect(
      isUrlAllowed(
        'http://127.0.0.1:4000/x.pem',
        /^http:\/\/127\.0\.0\.1:4000\//,
      ),
    ).toBe(true);
    expect(
      isUrlAllowed(
        'http://127.0.0.1:4000/x.pem',
        new RegExp('^http://127\\.0\\.0\\.1:4000/'),
      ),
    ).toBe(true);
    expect(
      isUrlAllowed(
        'http://127.0.0.1:4000/x.pem',
        /^https?:\/\/127\.0\.0\.1:4000\//,
      ),
    ).toBe(true);
    expect(
      isUrlAllowed('http://127.0.0.1:4000/x.pem', /127\.0\.0\.1:4000\//),
    ).toBe(false);
    expect(
      isUrlAllowed('ftp://127.0.0.1:4000/x.pem', /127\.0\.0\.1:4000\//),
    ).toBe(false);
  });

  it('gives the same answer every time for a /g pattern', () => {
    const pattern = new RegExp(aws.source, 'g');
    const url = 'https://sns.us-east-1.amazonaws.com/x.pem';
    expect([1, 2, 3].map(() => isUrlAllowed(url, pattern))).toEqual([
      true,
      true,
      true,
    ]);
  });

  it('names the reason', () => {
    expect(
      urlRejectionReason(
        'https://sns.us-east-1.amazonaws.com@evil.test/x.pem',
        aws,
      ),
    ).toBe('userinfo not allowed');
    expect(
      urlRejectionReason('https://sns.us-east-1.amazonaws.com/x?.pem', aws, {
        certificate: true,
      }),
    ).toBe('path does not end in .pem');
  });
});

describe(SnsSubscriptionConfirmer.name, () => {
  let elsewhere: Server;
  let elsewhereUrl: string;
  let elsewhereHits = 0;

  beforeAll(async () => {
    elsewhere = createServer((_req, res) => {
      elsewhereHits += 1;
      res.end('ok');
    });
    await new Promise<void>((resolve) =>
      elsewhere.listen(0, '127.0.0.1', resolve),
    );
    elsewhereUrl = `http://127.0.0.1:${(elsewhere.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    elsewhere.closeAllConnections();
    await new Promise((resolve) => elsewhere.close(resolve));
  });
  beforeEach(() => {
    elsewhereHits = 0;
  });

  it('visits an allowed SubscribeURL exactly once', async () => {
    const body = signer.subscriptionConfirmation({ topicArn: TOPIC });
    const message = (await verifier().verify(
      body,
    )) as SnsSubscriptionConfirmation;
    const sut = new SnsSubscriptionConfirmer({
      urlPattern: signer.certUrlPattern,
    });

    await sut.confirm(message);

    expect(signer.confirmRequests).toHaveLength(1);
    expect(signer.confirmRequests[0]).toContain(`Token=${body.Token}`);
  });

  it('refuses a SubscribeURL on another host without any request', async () => {
    const body = signer.subscriptionConfirmation({
      topicArn: TOPIC,
      subscribeUrl: `${elsewhereUrl}/?Action=ConfirmSubscription&Token=x`,
    });
    const message = (await verifier().verify(
      body,
    )) as SnsSubscriptionConfirmation;
    const fetch = vi.fn(async () => undefined);

    for (const sut of [
      new SnsSubscriptionConfirmer({ urlPattern: signer.certUrlPattern }),
      new SnsSubscriptionConfirmer({
        urlPattern: signer.certUrlPattern,
        fetch,
      }),
    ]) {
      const error = await sut.confirm(message).catch((e: unknown) => e);
      expect(error).toMatchObject({ code: 'bad-subscribe-url' });
    }
    expect(elsewhereHits).toBe(0);
    expect(fetch).not.toHaveBeenCalled();
    expect(signer.confirmRequests).toHaveLength(0);
  });

  it('refuses the userinfo trick', async () => {
    const fetch = vi.fn(async () => undefined);
    const sut = new SnsSubscriptionConfirmer({
      urlPattern: DEFAULT_SNS_CERT_URL_PATTERN,
      fetch,
    });
    const message = {
      ...signer.subscriptionConfirmation({ topicArn: TOPIC }),
      SubscribeURL:
        'https://sns.us-east-1.amazonaws.com@169.254.169.254/?Action=ConfirmSubscription',
    } as SnsSubscriptionConfirmation;
    await expect(sut.confirm(message)).rejects.toMatchObject({
      code: 'bad-subscribe-url',
    });
    expect(fetch).not.toHaveBeenCalled();
  });

  it('reports a failed confirmation', async () => {
    const message = {
      ...signer.subscriptionConfirmation({ topicArn: TOPIC }),
      SubscribeURL: `${signer.baseUrl}/not-there`,
    } as SnsSubscriptionConfirmation;
    const sut = new SnsSubscriptionConfirmer({
      urlPattern: signer.certUrlPattern,
    });
    await expect(sut.confirm(message)).rejects.toMatchObject({
      code: 'subscribe-failed',
    });
    expect(signer.requests).toEqual(['GET /not-there']);
  });

  it('gives up after the timeout', async () => {
    const hanging = createServer(() => undefined);
    await new Promise<void>((resolve) =>
      hanging.listen(0, '127.0.0.1', resolve),
    );
    const base = `http://127.0.0.1:${(hanging.address() as AddressInfo).port}`;
    try {
      const sut = new SnsSubscriptionConfirmer({
        urlPattern: new RegExp(`^${base.replace(/\./g, '\\.')}/`),
        timeoutMs: 100,
      });
      const message = {
        ...signer.subscriptionConfirmation({ topicArn: TOPIC }),
        SubscribeURL: `${base}/?Action=ConfirmSubscription`,
      } as SnsSubscriptionConfirmation;
      await expect(sut.confirm(message)).rejects.toMatchObject({
        code: 'subscribe-failed',
      });
    } finally {
      hanging.closeAllConnections();
      await new Promise((resolve) => hanging.close(resolve));
    }
  });
});
