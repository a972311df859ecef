import { InProcessDistributedLock, lockKey } from './distributed-lock.js';

describe(InProcessDistributedLock.name, () => {
  it('lets one holder in at a time, per name, and frees the lock after a failure', async () => {
    const sut = new InProcessDistributedLock();
    let release!: () => void;
    const first = sut.tryWithLock(
      'a',
      () => new Promise<string>((r) => (release = () => r('done'))),
    );
    await expect(sut.tryWithLock('a', async () => 'second')).resolves.toEqual({
      acquired: false,
    });
    await expect(sut.tryWithLock('b', async () => 'other')).resolves.toEqual({
      acquired: true,
      value: 'other',
    });
    release();
    await expect(first).resolves.toEqual({ acquired: true, value: 'done' });
    await expect(
      sut.tryWithLock('a', () => Promise.reject(new Error('boom'))),
    ).rejects.toThrow('boom');
    await expect(sut.tryWithLock('a', async () => 1)).resolves.toEqual({
      acquired: true,
      value: 1,
    });
  });
});

describe('lockKey', () => {
  it('is a stable signed 64-bit integer per name', () => {
    expect(lockKey('reconciler')).toBe(lockKey('reconciler'));
    expect(lockKey('reconciler')).not.toBe(lockKey('other'));
    const n = BigInt(lockKey('reconciler'));
    expect(n >= -(2n ** 63n) && n < 2n ** 63n).toBe(true);
  });
});
