import { createHmac } from 'node:crypto';
import { PagerDutyWebhookVerifier } from './pagerduty-webhook.verifier.js';

const sign = (secret: string, body: Buffer | string) =>
  `v1=${createHmac('sha256', secret).update(body).digest('hex')}`;

describe(PagerDutyWebhookVerifier.name, () => {
  const secret = 'pd-secret-0123456789abcdef';
  const other = 'pd-secret-rotated-fedcba9876';
  const body = Buffer.from('{"event":{"id":"e1"}}\n');
  const sut = new PagerDutyWebhookVerifier([secret]);

  it('accepts the HMAC-SHA256 of the exact bytes with a configured secret', () => {
    expect(sut.verify(body, sign(secret, body))).toBe(true);
  });

  it('refuses a missing header, another secret, a tampered body, a bare hex', () => {
    expect(sut.verify(body, undefined)).toBe(false);
    expect(sut.verify(body, '')).toBe(false);
    expect(sut.verify(body, sign(other, body))).toBe(false);
    expect(
      sut.verify(Buffer.from('{"event":{"id":"e2"}}\n'), sign(secret, body)),
    ).toBe(false);
    expect(sut.verify(body, sign(secret, body).slice(3))).toBe(false);
    expect(sut.verify(body, 'v1=zz')).toBe(false);
  });

  it('refuses a signature of the re-serialized JSON: the raw bytes are what is signed', () => {
    const reserialized = JSON.stringify(JSON.parse(body.toString()));
    expect(sut.verify(body, sign(secret, reserialized))).toBe(false);
  });

  it('accepts any of several signatures (PagerDuty rotating its secret)', () => {
    const header = `${sign(other, body)}, ${sign(secret, body)}`;
    expect(sut.verify(body, header)).toBe(true);
    expect(sut.verify(body, [sign(other, body), sign(secret, body)])).toBe(
      true,
    );
  });

  it('accepts any of several secrets (us rotating ours)', () => {
    const both = new PagerDutyWebhookVerifier([other, secret]);
    expect(both.verify(body, sign(secret, body))).toBe(true);
    expect(both.verify(body, sign(other, body))).toBe(true);
  });

  it('is not configured without secrets, and then accepts nothing', () => {
    const none = new PagerDutyWebhookVerifier([]);
    expect(none.configured).toBe(false);
    expect(none.verify(body, sign(secret, body))).toBe(false);
  });
});
