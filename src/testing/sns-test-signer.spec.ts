import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { SnsSignatureVerifier } from '../sns/sns-signature.verifier.js';
import { SnsTestSigner } from './sns-test-signer.js';

const TOPIC = 'arn:aws:sns:eu-central-1:123456789012:alarms';

describe(SnsTestSigner.name, () => {
  let signer: SnsTestSigner;

  beforeAll(async () => {
    // No executable can be found: the key and certificate must come from node:crypto alone.
    vi.stubEnv('PATH', '');
    signer = await SnsTestSigner.start();
  });
  afterAll(async () => {
    vi.unstubAllEnvs();
    await signer?.stop();
  });

  it('starts without any binary on PATH, and its signatures pass the real verifier (v1 and v2)', async () => {
    const verifier = new SnsSignatureVerifier({
      certUrlPattern: signer.certUrlPattern,
      topicAllowlist: [TOPIC],
    });
    for (const signatureVersion of ['1', '2'] as const) {
      const body = signer.notification({
        topicArn: TOPIC,
        message: { AlarmName: 'A', NewStateValue: 'ALARM' },
        signatureVersion,
      });
      await expect(
        verifier.verify(JSON.stringify(body)),
      ).resolves.toMatchObject({
        Type: 'Notification',
        TopicArn: TOPIC,
      });
    }
    expect(signer.certRequests).toBe(1);
    expect(signer.certificatePem).toMatch(/^-----BEGIN CERTIFICATE-----\n/);
  });
});
