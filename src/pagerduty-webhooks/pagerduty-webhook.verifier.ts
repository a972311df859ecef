import { createHmac, timingSafeEqual } from 'node:crypto';

/** `v1=` then the 64 hex digits of an HMAC-SHA256. */
const V1_SIGNATURE = /^v1=([0-9a-f]{64})$/i;

/**
 * Checks `X-PagerDuty-Signature` against the raw body. The header holds one `v1=<hex>`
 * per subscription secret PagerDuty signs with (several during a rotation), and we may
 * hold several secrets too: any pair that matches authenticates the delivery.
 */
export class PagerDutyWebhookVerifier {
  private readonly secrets: string[];

  constructor(secrets: readonly string[]) {
    this.secrets = [...secrets];
  }

  get configured(): boolean {
    return this.secrets.length > 0;
  }

  verify(rawBody: Buffer, header: string | string[] | undefined): boolean {
    const offered = signaturesOf(header);
    if (offered.length === 0) return false;
    let matched = false;
    // Every secret against every signature, without an early exit: the time taken does
    // not say which secret (or which position) came close.
    for (const secret of this.secrets) {
      const expected = createHmac('sha256', secret).update(rawBody).digest();
      for (const signature of offered)
        matched = timingSafeEqual(expected, signature) || matched;
    }
    return matched;
  }
}

function signaturesOf(header: string | string[] | undefined): Buffer[] {
  const values = Array.isArray(header) ? header : header ? [header] : [];
  const out: Buffer[] = [];
  for (const part of values.flatMap((v) => v.split(','))) {
    const match = V1_SIGNATURE.exec(part.trim());
    if (match) out.push(Buffer.from(match[1], 'hex'));
  }
  return out;
}
