import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  DEFAULT_SNS_CERT_URL_PATTERN,
  SnsSignatureVerifier,
  SnsVerificationError,
  signedFieldsOf,
  type SnsMessageType,
} from './sns-signature.verifier.js';

// Messages really signed by AWS, copied from /work/shared/fixtures/aws/sns-signed so the
// suite runs from a clean clone.
const FIXTURES = new URL(
  '../../test/fixtures/aws/sns-signed/',
  import.meta.url,
);

interface ManifestEntry {
  file: string;
  shape: 'http-body' | 'lambda-sns-event' | 'lambda-style-object';
  type: SnsMessageType;
  signatureVersion: '1' | '2';
  cert: string;
  hasSubject: boolean;
}

const manifest = JSON.parse(
  readFileSync(new URL('manifest.json', FIXTURES), 'utf8'),
) as {
  fixtures: ManifestEntry[];
};

function load(entry: ManifestEntry): Record<string, unknown> {
  const json = JSON.parse(readFileSync(new URL(entry.file, FIXTURES), 'utf8'));
  return entry.shape === 'lambda-sns-event' ? json.Records[0].Sns : json;
}

function certificateOf(entry: ManifestEntry): string {
  return readFileSync(new URL(`certs/${entry.cert}`, FIXTURES), 'utf8');
}

/** A verifier whose clock stands at the moment AWS signed the message, inside the certificate's validity. */
function verifierFor(
  entry: ManifestEntry,
  body: Record<string, unknown>,
  clock?: () => Date,
) {
  const requested: string[] = [];
  const sut = new SnsSignatureVerifier({
    certUrlPattern: DEFAULT_SNS_CERT_URL_PATTERN,
    topicAllowlist: [body.TopicArn as string],
    fetchCertificate: async (url) => {
      requested.push(url);
      return certificateOf(entry);
    },
    now: clock ?? (() => new Date(body.Timestamp as string)),
  });
  return { sut, requested };
}

function changeOneCharacter(value: string): string {
  const i = Math.floor(value.length / 2);
  const replacement = value[i] === 'a' ? 'b' : 'a';
  return value.slice(0, i) + replacement + value.slice(i + 1);
}

const cases = manifest.fixtures.map((entry) => [entry.file, entry] as const);

describe(`${SnsSignatureVerifier.name} with messages signed by AWS`, () => {
  it('covers SV1 and SV2, all three types and the Lambda shape', () => {
    const entries = manifest.fixtures;
    expect(new Set(entries.map((e) => e.signatureVersion))).toEqual(
      new Set(['1', '2']),
    );
    expect(new Set(entries.map((e) => e.type))).toEqual(
      new Set([
        'Notification',
        'SubscriptionConfirmation',
        'UnsubscribeConfirmation',
      ]),
    );
    expect(entries.some((e) => e.shape === 'lambda-sns-event')).toBe(true);
  });

  it.each(cases)('%s verifies offline', async (_file, entry) => {
    const body = load(entry);
    const { sut, requested } = verifierFor(entry, body);

    const message = await sut.verify(body);

    expect(message.Type).toBe(entry.type);
    expect(message.SignatureVersion).toBe(entry.signatureVersion);
    expect(message.MessageId).toBe(body.MessageId);
    expect(message.SigningCertURL).toMatch(
      /^https:\/\/sns\.[a-z0-9-]+\.amazonaws\.com\/.+\.pem$/,
    );
    expect('SigningCertUrl' in message).toBe(false);
    expect(requested).toEqual([message.SigningCertURL]);
    if (entry.type === 'Notification') {
      expect('Subject' in message && message.Subject !== undefined).toBe(
        entry.hasSubject,
      );
    }
  });

  it.each(cases)(
    '%s also verifies as the JSON text SNS posts',
    async (_file, entry) => {
      const body = load(entry);
      const { sut } = verifierFor(entry, body);
      await expect(sut.verify(JSON.stringify(body))).resolves.toMatchObject({
        Type: entry.type,
      });
    },
  );

  it.each(cases)(
    '%s is rejected after a one-character change in any signed field',
    async (_file, entry) => {
      const body = load(entry);
      const fields = signedFieldsOf(entry.type).filter(
        (f) => typeof body[f] === 'string',
      );
      expect(fields.length).toBeGreaterThanOrEqual(
        entry.type === 'Notification' ? 5 : 7,
      );

      for (const field of fields) {
        const tampered = {
          ...body,
          [field]: changeOneCharacter(body[field] as string),
        };
        const { sut } = verifierFor(entry, body);
        // TopicArn would fail the allowlist first; the signature must catch it on its own.
        const open = new SnsSignatureVerifier({
          certUrlPattern: DEFAULT_SNS_CERT_URL_PATTERN,
          topicAllowlist: [],
          fetchCertificate: async () => certificateOf(entry),
          now: () => new Date(body.Timestamp as string),
        });
        const error = await (field === 'TopicArn' ? open : sut)
          .verify(tampered)
          .catch((e: unknown) => e);
        expect(error, field).toBeInstanceOf(SnsVerificationError);
        expect((error as SnsVerificationError).code, field).toBe(
          field === 'Type' ? 'unknown-type' : 'bad-signature',
        );
      }
    },
  );

  it.each(cases)(
    '%s is rejected as expired on the real clock',
    async (_file, entry) => {
      const body = load(entry);
      const sut = new SnsSignatureVerifier({
        certUrlPattern: DEFAULT_SNS_CERT_URL_PATTERN,
        topicAllowlist: [],
        fetchCertificate: async () => certificateOf(entry),
      });
      await expect(sut.verify(body)).rejects.toMatchObject({
        code: 'cert-expired',
      });
    },
  );

  it('rejects a real message whose Subject was dropped', async () => {
    const entry = manifest.fixtures.find(
      (e) => e.type === 'Notification' && e.hasSubject,
    )!;
    const { Subject: _subject, ...body } = load(entry);
    const { sut } = verifierFor(entry, body);
    await expect(sut.verify(body)).rejects.toMatchObject({
      code: 'bad-signature',
    });
  });

  it('rejects a real message verified against another AWS certificate', async () => {
    const entry = manifest.fixtures.find((e) => e.cert.includes('7506a1e3'))!;
    const other = manifest.fixtures.find((e) => e.cert.includes('7ff53184'))!;
    const body = load(entry);
    const sut = new SnsSignatureVerifier({
      certUrlPattern: DEFAULT_SNS_CERT_URL_PATTERN,
      topicAllowlist: [],
      fetchCertificate: async () => certificateOf(other),
      // inside the other certificate's validity, so only the key can fail
      now: () => new Date('2022-01-01T00:00:00Z'),
    });
    await expect(sut.verify(body)).rejects.toMatchObject({
      code: 'bad-signature',
    });
  });
});
