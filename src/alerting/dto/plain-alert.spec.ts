import fc from 'fast-check';
import { collectDtoErrors } from '../../ops/validation.js';
import { ALERT_SHAPE, AlertDto } from './alert.dto.js';
import { plainAlert } from './plain-alert.js';

/** Strings around every limit, with surrogate pairs, lone surrogates and odd case. */
const str = fc.oneof(
  fc.string({ maxLength: 3 }),
  fc.constantFrom(
    '',
    'a',
    'critical',
    'Error',
    'warning',
    'INFO',
    'nope',
    'firing',
    'resolved',
  ),
  fc.integer({ min: 0, max: 8200 }).map((n) => 'x'.repeat(n)),
  fc
    .constantFrom(63, 64, 65, 254, 255, 256, 1023, 1024, 1025, 8191, 8192, 8193)
    .map((n) => 'y'.repeat(n)),
  fc.constantFrom(127, 128, 129, 510, 511, 512).map((n) => '😀'.repeat(n)),
  fc.constant('\ud800'),
);
const value = fc.oneof(
  str,
  fc.double(),
  fc.integer(),
  fc.constantFrom(null, true, false, Infinity, NaN),
  fc.array(str, { maxLength: 22 }),
  fc.dictionary(fc.string({ maxLength: 5 }), fc.oneof(str, fc.integer())),
  fc.constant({ big: 'z'.repeat(70_000) }),
  fc.constant([{ href: 'https://x.example' }]),
);
const keys = fc.constantFrom(
  'severity',
  'alarmName',
  'metricName',
  'threshold',
  'currentValue',
  'environment',
  'description',
  'recommendations',
  'status',
  'dedupKey',
  'source',
  'component',
  'group',
  'class',
  'customDetails',
  'timestamp',
  'links',
  'resolveTimeout',
  'constructor',
  'toString',
  'extra',
);
/** A value for the key that is often valid, often just past a limit, sometimes anything. */
const near = (valid: fc.Arbitrary<unknown>) =>
  fc.oneof({ weight: 30, arbitrary: valid }, { weight: 1, arbitrary: value });
const len = (min: number, max: number) =>
  fc.oneof(
    {
      weight: 12,
      arbitrary: fc.string({ minLength: min, maxLength: Math.min(max, 8) }),
    },
    fc
      .constantFrom(max - 1, max, max + 1)
      .map((n) => 'v'.repeat(Math.max(0, n))),
    fc
      .constantFrom(Math.floor(max / 2), Math.floor(max / 2) + 1)
      .map((n) => '😀'.repeat(n)),
  );
const body = fc
  .record(
    {
      severity: near(
        fc.constantFrom(
          'critical',
          'CRITICAL',
          'Error',
          'warning',
          'info',
          'x',
        ),
      ),
      alarmName: near(len(1, 255)),
      metricName: near(len(0, 255)),
      threshold: near(fc.double({ noNaN: true })),
      currentValue: near(fc.integer()),
      environment: near(len(1, 64)),
      description: near(len(0, 8192)),
      recommendations: near(fc.array(len(0, 1024), { maxLength: 21 })),
      status: near(fc.constantFrom('firing', 'resolved', 'FIRING')),
      dedupKey: near(len(1, 255)),
      source: near(len(0, 255)),
      component: near(len(0, 255)),
      group: near(len(0, 255)),
      class: near(len(0, 255)),
      customDetails: near(
        fc.oneof(
          fc.dictionary(
            fc.string({ maxLength: 5 }),
            fc.oneof(str, fc.integer()),
          ),
          // around the 64 KiB serialized limit: {"k":"…"} is 8 bytes plus the text
          fc
            .constantFrom(65_527, 65_528, 65_529)
            .map((n) => ({ k: 'z'.repeat(n) })),
        ),
      ),
    },
    { requiredKeys: [] },
  )
  .chain((base) =>
    fc
      .dictionary(keys, value, { maxKeys: 1 })
      .chain((odd) => fc.constantFrom(base, { ...base, ...odd })),
  );

describe('plainAlert (the fast path of alert validation)', () => {
  it('accepts only what class-validator accepts, and makes the same AlertDto of it', () => {
    let fast = 0;
    fc.assert(
      fc.property(body, (b) => {
        const quick = plainAlert(b);
        if (!quick) return;
        fast++;
        const full = collectDtoErrors(AlertDto, b, '', ALERT_SHAPE);
        expect(full.errors).toEqual([]);
        expect(quick).toBeInstanceOf(AlertDto);
        expect({ ...quick }).toEqual({ ...full.value });
      }),
      { numRuns: 3000, seed: 16 },
    );
    // the property is only worth something if the fast path is taken often
    expect(fast).toBeGreaterThan(100);
  });

  it('takes the usual alert and leaves everything unusual to the full check', () => {
    const usual = {
      severity: 'critical',
      alarmName: 'a',
      metricName: 'M',
      threshold: 95,
      currentValue: 85,
      description: 'd',
      customDetails: { team: 'x' },
    };
    expect(plainAlert(usual)).toMatchObject({ ...usual, severity: 'CRITICAL' });
    expect(
      plainAlert({ ...usual, timestamp: '2026-01-01T00:00:00Z' }),
    ).toBeUndefined();
    expect(plainAlert({ ...usual, constructor: 'x' })).toBeUndefined();
    expect(plainAlert({ ...usual, severity: 'fatal' })).toBeUndefined();
    expect(plainAlert({ ...usual, alarmName: '' })).toBeUndefined();
    expect(plainAlert({ ...usual, metricName: null })).toBeUndefined();
    expect(plainAlert({ ...usual, threshold: Infinity })).toBeUndefined();
    expect(plainAlert({ severity: 'info' })).toBeUndefined();
  });
});
