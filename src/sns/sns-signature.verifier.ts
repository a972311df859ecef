import { X509Certificate, createVerify } from 'node:crypto';

export const DEFAULT_SNS_CERT_URL_PATTERN =
  /^https:\/\/sns\.[a-z0-9-]+\.amazonaws\.com(\.cn)?\//;

export type SnsVerificationErrorCode =
  | 'malformed'
  | 'unsigned'
  | 'unknown-type'
  | 'missing-field'
  | 'unsupported-signature-version'
  | 'topic-not-allowed'
  | 'bad-cert-url'
  | 'cert-fetch-failed'
  | 'cert-invalid'
  | 'cert-expired'
  | 'cert-not-yet-valid'
  | 'bad-signature'
  | 'bad-subscribe-url'
  | 'subscribe-failed';

export class SnsVerificationError extends Error {
  constructor(
    readonly code: SnsVerificationErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'SnsVerificationError';
  }
}

export type SnsSignatureVersion = '1' | '2';

interface SnsSignedEnvelope {
  MessageId: string;
  TopicArn: string;
  Message: string;
  Timestamp: string;
  SignatureVersion: SnsSignatureVersion;
  Signature: string;
  /** normalized from the Lambda spelling `SigningCertUrl` */
  SigningCertURL: string;
}

export interface SnsMessageAttribute {
  Type: string;
  Value: string;
}

export interface SnsNotification extends SnsSignedEnvelope {
  Type: 'Notification';
  Subject?: string;
  /** normalized from the Lambda spelling `UnsubscribeUrl` */
  UnsubscribeURL?: string;
  MessageAttributes?: Record<string, SnsMessageAttribute>;
}

export interface SnsSubscriptionConfirmation extends SnsSignedEnvelope {
  Type: 'SubscriptionConfirmation' | 'UnsubscribeConfirmation';
  SubscribeURL: string;
  Token: string;
}

export type SnsMessage = SnsNotification | SnsSubscriptionConfirmation;
export type SnsMessageType = SnsMessage['Type'];

const NOTIFICATION_SIGNED_FIELDS = [
  'Message',
  'MessageId',
  'Subject',
  'Timestamp',
  'TopicArn',
  'Type',
] as const;
const CONFIRMATION_SIGNED_FIELDS = [
  'Message',
  'MessageId',
  'SubscribeURL',
  'Timestamp',
  'Token',
  'TopicArn',
  'Type',
] as const;

const ENVELOPE_REQUIRED = [
  'MessageId',
  'TopicArn',
  'Message',
  'Timestamp',
  'SigningCertURL',
] as const;

/** Fields AWS signs for this message type, in signing order (Subject only when present). */
export function signedFieldsOf(type: SnsMessageType): readonly string[] {
  return type === 'Notification'
    ? NOTIFICATION_SIGNED_FIELDS
    : CONFIRMATION_SIGNED_FIELDS;
}

/** The AWS "string to sign": `Key\nvalue\n` for each signed field present, in order. */
export function buildStringToSign(message: Record<string, unknown>): string {
  const type = message.Type as SnsMessageType;
  let out = '';
  for (const key of signedFieldsOf(type)) {
    const value = message[key];
    if (typeof value !== 'string') continue;
    out += `${key}\n${value}\n`;
  }
  return out;
}

/**
 * Why `url` is refused, or null when allowed. `certificate` adds the rules for a
 * SigningCertURL: the path (not the query) ends in `.pem`, and no query or fragment.
 */
export function urlRejectionReason(
  url: unknown,
  pattern: RegExp,
  options: { certificate?: boolean } = {},
): string | null {
  if (typeof url !== 'string' || url.length === 0) return 'not a string';
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return 'not a URL';
  }
  const allowsHttp = /^\^http(s\?)?:/.test(pattern.source);
  if (
    parsed.protocol !== 'https:' &&
    !(allowsHttp && parsed.protocol === 'http:')
  ) {
    return `protocol ${parsed.protocol} not allowed`;
  }
  // `https://sns.x.amazonaws.com@evil/` reads like AWS but connects to `evil`.
  if (parsed.username !== '' || parsed.password !== '') {
    return 'userinfo not allowed';
  }
  // The WHATWG-normalized href is what gets fetched, so that is what must match
  // (backslashes, case and percent tricks are resolved the same way for both).
  if (!testPattern(pattern, parsed.href)) {
    return `does not match ${pattern.source}`;
  }
  if (options.certificate) {
    if (!parsed.pathname.endsWith('.pem')) return 'path does not end in .pem';
    if (parsed.search !== '' || parsed.hash !== '') {
      return 'query or fragment not allowed';
    }
  }
  return null;
}

/** True when `url` is an absolute https (or http, when the pattern says so) URL matching `pattern`, without userinfo. */
export function isUrlAllowed(
  url: unknown,
  pattern: RegExp,
  options: { certificate?: boolean } = {},
): boolean {
  return urlRejectionReason(url, pattern, options) === null;
}

function testPattern(pattern: RegExp, value: string): boolean {
  // A /g or /y pattern keeps lastIndex between calls and would fail every other test.
  if (pattern.global || pattern.sticky) {
    return new RegExp(pattern.source, pattern.flags.replace(/[gy]/g, '')).test(
      value,
    );
  }
  return pattern.test(value);
}

export interface SnsSignatureVerifierOptions {
  certUrlPattern: RegExp;
  /** accepted TopicArns; empty accepts any */
  topicAllowlist: string[];
  /** returns the PEM at `url`; default: GET, 5 s, 64 KiB, no redirects */
  fetchCertificate?: (url: string) => Promise<string>;
  now?: () => Date;
  certCacheTtlMs?: number;
}

interface CachedCertificate {
  promise: Promise<X509Certificate>;
  expiresAt: number;
}

const DEFAULT_CERT_CACHE_TTL_MS = 60 * 60 * 1000;
const MAX_CACHED_CERTIFICATES = 64;
const CERT_FETCH_TIMEOUT_MS = 5_000;
const CERT_MAX_BYTES = 64 * 1024;
const KNOWN_TYPES: readonly string[] = [
  'Notification',
  'SubscriptionConfirmation',
  'UnsubscribeConfirmation',
];

export class SnsSignatureVerifier {
  private readonly certUrlPattern: RegExp;
  private readonly topicAllowlist: ReadonlySet<string>;
  private readonly fetchCertificate: (url: string) => Promise<string>;
  private readonly now: () => Date;
  private readonly certCacheTtlMs: number;
  private readonly certificates = new Map<string, CachedCertificate>();

  constructor(options: SnsSignatureVerifierOptions) {
    this.certUrlPattern = options.certUrlPattern;
    this.topicAllowlist = new Set(options.topicAllowlist);
    this.fetchCertificate = options.fetchCertificate ?? defaultFetchCertificate;
    this.now = options.now ?? (() => new Date());
    this.certCacheTtlMs = options.certCacheTtlMs ?? DEFAULT_CERT_CACHE_TTL_MS;
  }

  /** Parses and authenticates an SNS HTTP(S) delivery (JSON text or parsed object). */
  async verify(body: unknown): Promise<SnsMessage> {
    const message = this.parse(body);

    // Before anything that costs a request: an unknown topic must not make us fetch.
    if (
      this.topicAllowlist.size > 0 &&
      !this.topicAllowlist.has(message.TopicArn)
    ) {
      throw new SnsVerificationError(
        'topic-not-allowed',
        `topic ${clip(message.TopicArn)} is not in the allowlist`,
      );
    }

    const reason = urlRejectionReason(
      message.SigningCertURL,
      this.certUrlPattern,
      {
        certificate: true,
      },
    );
    if (reason !== null) {
      throw new SnsVerificationError(
        'bad-cert-url',
        `SigningCertURL ${clip(message.SigningCertURL)} refused: ${reason}`,
      );
    }

    const certificate = await this.certificateFor(
      new URL(message.SigningCertURL).href,
    );
    this.checkValidity(certificate);

    const algorithm =
      message.SignatureVersion === '1' ? 'RSA-SHA1' : 'RSA-SHA256';
    const verifier = createVerify(algorithm);
    verifier.update(
      buildStringToSign(message as unknown as Record<string, unknown>),
      'utf8',
    );
    let valid: boolean;
    try {
      valid = verifier.verify(
        certificate.publicKey,
        message.Signature,
        'base64',
      );
    } catch (error) {
      throw new SnsVerificationError(
        'bad-signature',
        'signature could not be checked',
        {
          cause: error,
        },
      );
    }
    if (!valid) {
      throw new SnsVerificationError(
        'bad-signature',
        `signature does not match the ${message.Type} (SignatureVersion ${message.SignatureVersion})`,
      );
    }
    return message;
  }

  private parse(body: unknown): SnsMessage {
    let value = body;
    if (typeof value === 'string' || Buffer.isBuffer(value)) {
      try {
        value = JSON.parse(value.toString());
      } catch {
        throw new SnsVerificationError('malformed', 'body is not JSON');
      }
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      throw new SnsVerificationError('malformed', 'body is not a JSON object');
    }
    const raw = normalizeKeys(value as Record<string, unknown>);

    // Raw message delivery posts the bare payload: no envelope, no signature.
    if (typeof raw.Signature !== 'string' || raw.Signature === '') {
      throw new SnsVerificationError(
        'unsigned',
        'message carries no Signature (raw message delivery is not accepted)',
      );
    }
    if (typeof raw.Type !== 'string' || !KNOWN_TYPES.includes(raw.Type)) {
      throw new SnsVerificationError(
        'unknown-type',
        `Type ${clip(JSON.stringify(raw.Type))} is not one of ${KNOWN_TYPES.join(', ')}`,
      );
    }
    const required: string[] = [...ENVELOPE_REQUIRED];
    if (raw.Type !== 'Notification') required.push('SubscribeURL', 'Token');
    for (const field of required) {
      if (typeof raw[field] !== 'string' || raw[field] === '') {
        throw new SnsVerificationError(
          'missing-field',
          `field ${field} is missing`,
        );
      }
    }
    for (const field of ['Subject', 'UnsubscribeURL']) {
      if (
        raw[field] !== undefined &&
        raw[field] !== null &&
        typeof raw[field] !== 'string'
      ) {
        throw new SnsVerificationError(
          'malformed',
          `field ${field} is not a string`,
        );
      }
    }
    if (raw.SignatureVersion === undefined || raw.SignatureVersion === null) {
      throw new SnsVerificationError(
        'missing-field',
        'field SignatureVersion is missing',
      );
    }
    if (raw.SignatureVersion !== '1' && raw.SignatureVersion !== '2') {
      throw new SnsVerificationError(
        'unsupported-signature-version',
        `SignatureVersion ${clip(JSON.stringify(raw.SignatureVersion))} is not supported (1 or 2)`,
      );
    }
    // Lambda events carry `"Subject": null` when absent; it is not part of the signature.
    if (raw.Subject === null) delete raw.Subject;
    if (raw.UnsubscribeURL === null) delete raw.UnsubscribeURL;
    return raw as unknown as SnsMessage;
  }

  private certificateFor(url: string): Promise<X509Certificate> {
    const nowMs = this.now().getTime();
    const cached = this.certificates.get(url);
    if (cached && cached.expiresAt > nowMs) return cached.promise;

    const promise = this.loadCertificate(url);
    this.certificates.set(url, {
      promise,
      expiresAt: nowMs + this.certCacheTtlMs,
    });
    // A failure is not cached: the next message may find the endpoint healthy again.
    promise.catch(() => {
      if (this.certificates.get(url)?.promise === promise)
        this.certificates.delete(url);
    });
    if (this.certificates.size > MAX_CACHED_CERTIFICATES) {
      const oldest = this.certificates.keys().next().value;
      if (oldest !== undefined) this.certificates.delete(oldest);
    }
    return promise;
  }

  private async loadCertificate(url: string): Promise<X509Certificate> {
    let pem: string;
    try {
      pem = await this.fetchCertificate(url);
    } catch (error) {
      throw new SnsVerificationError(
        'cert-fetch-failed',
        `certificate ${url} could not be fetched: ${(error as Error).message}`,
        { cause: error },
      );
    }
    try {
      return new X509Certificate(pem);
    } catch (error) {
      throw new SnsVerificationError(
        'cert-invalid',
        `certificate ${url} is not a PEM X.509 certificate`,
        { cause: error },
      );
    }
  }

  private checkValidity(certificate: X509Certificate): void {
    // X509Certificate.validFromDate is Node ≥22.10; the string form parses everywhere.
    const from = new Date(certificate.validFrom);
    const to = new Date(certificate.validTo);
    const now = this.now();
    if (Number.isNaN(from.getTime()) || Number.isNaN(to.getTime())) {
      throw new SnsVerificationError(
        'cert-invalid',
        'certificate validity is unreadable',
      );
    }
    if (now < from) {
      throw new SnsVerificationError(
        'cert-not-yet-valid',
        `certificate is valid from ${from.toISOString()}`,
      );
    }
    if (now > to) {
      throw new SnsVerificationError(
        'cert-expired',
        `certificate expired at ${to.toISOString()}`,
      );
    }
  }
}

/** Keeps attacker-chosen values from flooding logs through error messages. */
function clip(value: string | undefined): string {
  const text = value ?? 'undefined';
  return text.length > 200 ? `${text.slice(0, 200)}…` : text;
}

/** Lambda's SNS event spells two keys differently from the HTTP body. */
function normalizeKeys(
  value: Record<string, unknown>,
): Record<string, unknown> {
  const out: Record<string, unknown> = { ...value };
  for (const [lambda, http] of [
    ['SigningCertUrl', 'SigningCertURL'],
    ['UnsubscribeUrl', 'UnsubscribeURL'],
  ] as const) {
    if (lambda in out) {
      if (out[http] === undefined) out[http] = out[lambda];
      delete out[lambda];
    }
  }
  return out;
}

async function defaultFetchCertificate(url: string): Promise<string> {
  const response = await fetch(url, {
    redirect: 'error',
    signal: AbortSignal.timeout(CERT_FETCH_TIMEOUT_MS),
  });
  if (!response.ok) {
    await response.body?.cancel();
    throw new Error(`HTTP ${response.status}`);
  }
  return readBounded(response, CERT_MAX_BYTES);
}

/** Reads a response body, giving up past `maxBytes` instead of buffering an unbounded reply. */
export async function readBounded(
  response: Response,
  maxBytes: number,
): Promise<string> {
  const declared = Number(response.headers.get('content-length'));
  if (Number.isFinite(declared) && declared > maxBytes) {
    await response.body?.cancel();
    throw new Error(`body of ${declared} bytes exceeds ${maxBytes}`);
  }
  if (!response.body) return '';
  const chunks: Uint8Array[] = [];
  let size = 0;
  const reader = response.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > maxBytes) {
      await reader.cancel();
      throw new Error(`body exceeds ${maxBytes} bytes`);
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString('utf8');
}

export interface SnsSubscriptionConfirmerOptions {
  /** the same pattern as SigningCertURL (SNS_CERT_URL_PATTERN) */
  urlPattern: RegExp;
  /** performs the GET; default: 5 s, no redirects, body ≤64 KiB, non-2xx is an error */
  fetch?: (url: string) => Promise<void>;
  timeoutMs?: number;
}

/** Confirms a verified SubscriptionConfirmation by visiting its SubscribeURL once. */
export class SnsSubscriptionConfirmer {
  private readonly urlPattern: RegExp;
  private readonly fetch: (url: string) => Promise<void>;

  constructor(options: SnsSubscriptionConfirmerOptions) {
    this.urlPattern = options.urlPattern;
    const timeoutMs = options.timeoutMs ?? CERT_FETCH_TIMEOUT_MS;
    this.fetch =
      options.fetch ?? ((url) => defaultConfirmFetch(url, timeoutMs));
  }

  async confirm(message: SnsSubscriptionConfirmation): Promise<void> {
    // SubscribeURL is attacker-controlled until proven otherwise: refuse before any request.
    const reason = urlRejectionReason(message.SubscribeURL, this.urlPattern);
    if (reason !== null) {
      throw new SnsVerificationError(
        'bad-subscribe-url',
        `SubscribeURL ${clip(String(message.SubscribeURL))} refused: ${reason}`,
      );
    }
    const url = new URL(message.SubscribeURL).href;
    try {
      await this.fetch(url);
    } catch (error) {
      throw new SnsVerificationError(
        'subscribe-failed',
        `confirming the subscription to ${message.TopicArn} failed: ${(error as Error).message}`,
        { cause: error },
      );
    }
  }
}

async function defaultConfirmFetch(
  url: string,
  timeoutMs: number,
): Promise<void> {
  // No redirects: following one would let the allowed host send us anywhere.
  const response = await fetch(url, {
    redirect: 'manual',
    signal: AbortSignal.timeout(timeoutMs),
  });
  await readBounded(response, CERT_MAX_BYTES);
  if (response.status < 200 || response.status > 299) {
    throw new Error(`HTTP ${response.status}`);
  }
}
