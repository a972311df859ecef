import { describe, expect, it } from 'vitest';
import { TokenBucket } from './token-bucket.js';

function clock(start = 1_000_000) {
  let now = start;
  return {
    now: () => now,
    advance: (ms: number) => {
      now += ms;
    },
    set: (ms: number) => {
      now = ms;
    },
  };
}

describe(TokenBucket.name, () => {
  it('starts full and grants a burst of its capacity', () => {
    const time = clock();
    const sut = new TokenBucket({ ratePerMinute: 120, now: time.now });

    for (let i = 0; i < 120; i++) {
      expect(sut.tryTake().granted).toBe(true);
    }
    expect(sut.tryTake()).toEqual({ granted: false, retryAfterMs: 500 });
  });

  it('refills at the steady rate', () => {
    const time = clock();
    const sut = new TokenBucket({
      ratePerMinute: 60,
      capacity: 1,
      now: time.now,
    });

    expect(sut.tryTake().granted).toBe(true);
    time.advance(999);
    expect(sut.tryTake()).toEqual({ granted: false, retryAfterMs: 1 });
    time.advance(1);
    expect(sut.tryTake().granted).toBe(true);
  });

  it('says how long until the next token, accounting for partial refill', () => {
    const time = clock();
    const sut = new TokenBucket({
      ratePerMinute: 6,
      capacity: 1,
      now: time.now,
    });

    sut.tryTake();
    expect(sut.tryTake().retryAfterMs).toBe(10_000);
    time.advance(4_000);
    expect(sut.tryTake().retryAfterMs).toBe(6_000);
  });

  it('does not spend a token on a refused take', () => {
    const time = clock();
    const sut = new TokenBucket({
      ratePerMinute: 60,
      capacity: 1,
      now: time.now,
    });

    sut.tryTake();
    for (let i = 0; i < 5; i++) sut.tryTake();
    time.advance(1_000);
    expect(sut.tryTake().granted).toBe(true);
  });

  it('never holds more than its capacity after a long idle', () => {
    const time = clock();
    const sut = new TokenBucket({
      ratePerMinute: 60,
      capacity: 3,
      now: time.now,
    });

    time.advance(3_600_000);
    expect(sut.available).toBe(3);
    for (let i = 0; i < 3; i++) expect(sut.tryTake().granted).toBe(true);
    expect(sut.tryTake().granted).toBe(false);
  });

  it('survives a clock stepping backwards', () => {
    const time = clock(10_000);
    const sut = new TokenBucket({
      ratePerMinute: 60,
      capacity: 1,
      now: time.now,
    });

    sut.tryTake();
    time.set(5_000);
    expect(sut.tryTake().granted).toBe(false);
    time.set(6_000);
    expect(sut.tryTake().granted).toBe(true);
  });

  it('rejects a rate that is not positive', () => {
    expect(() => new TokenBucket({ ratePerMinute: 0 })).toThrow(RangeError);
    expect(() => new TokenBucket({ ratePerMinute: Number.NaN })).toThrow(
      RangeError,
    );
  });
});
