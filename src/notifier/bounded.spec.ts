import { PassThrough } from 'node:stream';
import {
  clampDelay,
  Deadline,
  cutText,
  EXCERPT_BYTES,
  excerptJson,
  MAX_TIMER_MS,
  readBounded,
  secretMasker,
} from './bounded.js';

const KEY = '0123456789abcdef0123456789abcdef';

describe(clampDelay.name, () => {
  it.each([
    [1_500, 1_500],
    [1e20, 60_000],
    [Infinity, 0],
    [Number.NaN, 0],
    [-5, 0],
    ['10', 0],
    [undefined, 0],
  ])('makes %s a usable delay (%i)', (ms, expected) => {
    expect(clampDelay(ms, 60_000)).toBe(expected);
  });

  it('never exceeds what setTimeout can wait', () => {
    expect(clampDelay(1e20)).toBe(MAX_TIMER_MS);
    expect(clampDelay(1e20, 1e20)).toBe(MAX_TIMER_MS);
  });
});

describe(secretMasker.name, () => {
  it('masks every secret to its last four characters, ignoring short ones', () => {
    const sut = secretMasker([KEY, 'api-key-0123456789', 'abc', null, '']);
    expect(sut(`key ${KEY} and ${KEY}, api-key-0123456789, abc`)).toBe(
      'key ****cdef and ****cdef, ****6789, abc',
    );
  });
});

describe(excerptJson.name, () => {
  const mask = secretMasker([KEY]);

  it('keeps a small answer as it is, masked', () => {
    expect(JSON.parse(excerptJson({ routing_key: KEY, ok: 1 }, mask)!)).toEqual(
      { routing_key: '****cdef', ok: 1 },
    );
    expect(excerptJson(null, mask)).toBeNull();
  });

  it('keeps a bounded, masked excerpt of a huge answer', () => {
    const huge = { routing_key: KEY, padding: '"x'.repeat(2_500_000) };
    const stored = excerptJson(huge, mask)!;
    expect(Buffer.byteLength(stored)).toBeLessThanOrEqual(EXCERPT_BYTES);
    expect(stored).not.toContain(KEY);
    expect(JSON.parse(stored)).toMatchObject({
      truncated: true,
      excerpt: expect.stringContaining('****cdef'),
    });
  });

  it('never throws on what JSON cannot hold', () => {
    const circular: Record<string, unknown> = {};
    circular.self = circular;
    expect(JSON.parse(excerptJson(circular, mask)!)).toBe('[object Object]');
    expect(JSON.parse(excerptJson(10n, mask)!)).toBe('10');
  });
});

describe(cutText.name, () => {
  it('cuts on a character boundary', () => {
    const cut = cutText('é'.repeat(2_000), 101);
    expect(Buffer.byteLength(cut)).toBeLessThanOrEqual(101);
    expect(cut).toMatch(/^é+…$/);
  });
});

describe(readBounded.name, () => {
  it('stops at the limit and destroys the stream', async () => {
    const stream = new PassThrough();
    const read = readBounded(stream, 10);
    stream.write('0123456789abcdef');
    await expect(read).resolves.toEqual({
      text: '0123456789',
      bytes: 10,
      complete: false,
      cut: 'limit',
    });
    expect(stream.destroyed).toBe(true);
  });

  it('keeps what arrived before the connection broke or the deadline', async () => {
    const broken = new PassThrough();
    const read = readBounded(broken, 100);
    broken.write('{"status":');
    broken.destroy(new Error('ECONNRESET'));
    await expect(read).resolves.toMatchObject({
      text: '{"status":',
      cut: 'broken',
    });

    const slow = new PassThrough();
    const abort = new AbortController();
    const late = readBounded(slow, 100, abort.signal);
    slow.write('ok');
    await new Promise((r) => setImmediate(r));
    abort.abort();
    await expect(late).resolves.toMatchObject({ text: 'ok', cut: 'deadline' });
  });

  it('stops reading when a Deadline passes, then runs what the deadline was given', async () => {
    const slow = new PassThrough();
    const order: string[] = [];
    const deadline = new Deadline(50, () => order.push('expired'));
    const read = readBounded(slow, 100, deadline).then((body) => {
      order.push('read');
      return body;
    });
    slow.write('ok');

    await expect(read).resolves.toMatchObject({
      text: 'ok',
      complete: false,
      cut: 'deadline',
    });
    expect(slow.destroyed).toBe(true);
    expect(deadline.hasPassed).toBe(true);
    expect(order).toEqual(['expired', 'read']);
  });

  it('reads to the end under a Deadline that is cleared, and never fires it', async () => {
    const stream = new PassThrough();
    let fired = false;
    const deadline = new Deadline(30, () => (fired = true));
    const read = readBounded(stream, 100, deadline);
    stream.end('done');

    await expect(read).resolves.toMatchObject({ text: 'done', complete: true });
    deadline.clear();
    await new Promise((r) => setTimeout(r, 60));
    expect(fired).toBe(false);
    expect(deadline.hasPassed).toBe(false);
  });

  it('cuts at once a read that starts after its Deadline passed', async () => {
    const deadline = new Deadline(0);
    await new Promise((r) => setTimeout(r, 5));
    const stream = new PassThrough();
    stream.write('late');

    await expect(readBounded(stream, 100, deadline)).resolves.toMatchObject({
      text: '',
      cut: 'deadline',
    });
  });
});
