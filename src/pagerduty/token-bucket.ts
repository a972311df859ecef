export interface TokenBucketOptions {
  /** tokens added per minute; also the default capacity */
  ratePerMinute: number;
  /**
   * Burst size. Defaults to one minute's worth, so a quiet service can flush an
   * incident storm at once and is then held to the steady rate.
   */
  capacity?: number;
  /** milliseconds; injected so tests control time */
  now?: () => number;
}

// Refill is fractional; without slack, 0.999 + 0.001 can fall just short of a whole token.
const EPSILON = 1e-9;

export type TokenTake =
  { granted: true; retryAfterMs: 0 } | { granted: false; retryAfterMs: number };

export class TokenBucket {
  readonly ratePerMinute: number;
  readonly capacity: number;
  private readonly now: () => number;
  private tokens: number;
  private refilledAt: number;

  constructor(opts: TokenBucketOptions) {
    if (!Number.isFinite(opts.ratePerMinute) || opts.ratePerMinute <= 0) {
      throw new RangeError('ratePerMinute must be a positive number');
    }
    const capacity = opts.capacity ?? opts.ratePerMinute;
    if (!Number.isFinite(capacity) || capacity < 1) {
      throw new RangeError('capacity must be at least 1');
    }
    this.ratePerMinute = opts.ratePerMinute;
    this.capacity = capacity;
    this.now = opts.now ?? Date.now;
    this.tokens = capacity;
    this.refilledAt = this.now();
  }

  tryTake(): TokenTake {
    this.refill();
    if (this.tokens >= 1 - EPSILON) {
      this.tokens = Math.max(0, this.tokens - 1);
      return { granted: true, retryAfterMs: 0 };
    }
    const msPerToken = 60_000 / this.ratePerMinute;
    return {
      granted: false,
      retryAfterMs: Math.max(
        1,
        Math.ceil((1 - this.tokens) * msPerToken - EPSILON),
      ),
    };
  }

  get available(): number {
    this.refill();
    return Math.floor(this.tokens + EPSILON);
  }

  private refill(): void {
    const now = this.now();
    // A clock stepping backwards must not drain tokens nor mint extra ones later.
    const elapsed = Math.max(0, now - this.refilledAt);
    this.refilledAt = now;
    this.tokens = Math.min(
      this.capacity,
      this.tokens + (elapsed * this.ratePerMinute) / 60_000,
    );
  }
}
