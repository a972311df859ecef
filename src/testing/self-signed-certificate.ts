/**
 * TEST MATERIAL ONLY. A throwaway RSA key and a self-signed X.509 certificate for it, made
 * in process with node:crypto (no `openssl` binary at run time), for test doubles that
 * sign what they send (the SNS test signer). Nothing here is fit to protect anything.
 *
 * node:crypto generates keys and parses certificates but does not issue them, so the
 * certificate is encoded here: an X.509 v3 `TBSCertificate` in DER (RFC 5280 §4.1)
 * signed with sha256WithRSAEncryption, no extensions.
 */
import { createSign, generateKeyPairSync, randomBytes } from 'node:crypto';

export interface TestKeyMaterial {
  /** PKCS#8 PEM */
  keyPem: string;
  /** the self-signed certificate, PEM */
  certPem: string;
}

export interface SelfSignedOptions {
  commonName?: string;
  /** default: one day ago, so clocks a little behind still accept it */
  notBefore?: Date;
  /** default: ten years after notBefore */
  notAfter?: Date;
  /** default 2048 */
  modulusLength?: number;
  /** default: 16 random bytes */
  serialNumber?: Buffer;
}

function tlv(tag: number, ...contents: Buffer[]): Buffer {
  const body = Buffer.concat(contents);
  if (body.length < 0x80)
    return Buffer.concat([Buffer.from([tag, body.length]), body]);
  const length: number[] = [];
  for (let n = body.length; n > 0; n = Math.floor(n / 256))
    length.unshift(n % 256);
  return Buffer.concat([
    Buffer.from([tag, 0x80 | length.length, ...length]),
    body,
  ]);
}

const sequence = (...contents: Buffer[]) => tlv(0x30, ...contents);
const set = (...contents: Buffer[]) => tlv(0x31, ...contents);
const NULL = Buffer.from([0x05, 0x00]);

function objectId(dotted: string): Buffer {
  const [first, second, ...rest] = dotted.split('.').map(Number);
  const bytes = [40 * first + second];
  for (const arc of rest) {
    const encoded = [arc & 0x7f];
    for (let v = arc >>> 7; v > 0; v >>>= 7) encoded.unshift((v & 0x7f) | 0x80);
    bytes.push(...encoded);
  }
  return tlv(0x06, Buffer.from(bytes));
}

/**
 * A positive INTEGER in DER's one minimal form: no leading zero bytes, then one zero byte
 * when the high bit is set. OpenSSL refuses any other padding ("illegal padding").
 */
function positiveInteger(value: Buffer): Buffer {
  let start = 0;
  while (start < value.length - 1 && value[start] === 0) start += 1;
  const digits = value.subarray(start);
  return tlv(
    0x02,
    digits[0] & 0x80 ? Buffer.concat([Buffer.from([0]), digits]) : digits,
  );
}

/** UTCTime through 2049, GeneralizedTime after (RFC 5280 §4.1.2.5). */
function time(date: Date): Buffer {
  const iso = date.toISOString().replace(/[-:T]/g, '').slice(0, 14);
  return date.getUTCFullYear() < 2050
    ? tlv(0x17, Buffer.from(`${iso.slice(2)}Z`, 'ascii'))
    : tlv(0x18, Buffer.from(`${iso}Z`, 'ascii'));
}

const SHA256_WITH_RSA = sequence(objectId('1.2.840.113549.1.1.11'), NULL);
const COMMON_NAME = '2.5.4.3';

export function createSelfSignedCertificate(
  options: SelfSignedOptions = {},
): TestKeyMaterial {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', {
    modulusLength: options.modulusLength ?? 2048,
  });
  const notBefore =
    options.notBefore ?? new Date(Date.now() - 24 * 60 * 60 * 1000);
  const notAfter =
    options.notAfter ??
    new Date(notBefore.getTime() + 10 * 365 * 24 * 60 * 60 * 1000);
  const name = sequence(
    set(
      sequence(
        objectId(COMMON_NAME),
        tlv(0x0c, Buffer.from(options.commonName ?? 'sns.test', 'utf8')),
      ),
    ),
  );
  const serial = options.serialNumber ?? randomBytes(16);
  const tbs = sequence(
    tlv(0xa0, positiveInteger(Buffer.from([2]))), // v3
    positiveInteger(serial),
    SHA256_WITH_RSA,
    name,
    sequence(time(notBefore), time(notAfter)),
    name,
    publicKey.export({ type: 'spki', format: 'der' }),
  );
  const signature = createSign('sha256').update(tbs).sign(privateKey);
  const der = sequence(
    tbs,
    SHA256_WITH_RSA,
    tlv(0x03, Buffer.from([0]), signature),
  );
  const base64 = der
    .toString('base64')
    .match(/.{1,64}/g)!
    .join('\n');
  return {
    keyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }) as string,
    certPem: `-----BEGIN CERTIFICATE-----\n${base64}\n-----END CERTIFICATE-----\n`,
  };
}
