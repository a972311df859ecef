import {
  capErrors,
  MAX_ERROR_MESSAGES,
  MAX_NESTING_DEPTH,
  shapeErrors,
} from './validation.js';

function nested(depth: number): unknown {
  let v: unknown = {};
  for (let i = 1; i < depth; i++) v = { d: v };
  return v;
}

describe(shapeErrors.name, () => {
  it('counts an array before reading any of its items', () => {
    const links = new Proxy(new Array(50_000).fill({}), {
      get(target, key, receiver) {
        if (typeof key === 'string' && /^\d+$/.test(key))
          throw new Error('an item was read');
        return Reflect.get(target, key, receiver) as unknown;
      },
    });
    expect(shapeErrors({ links }, '[3]', { arrays: { links: 20 } })).toEqual([
      '[3].links must contain no more than 20 elements, got 50000',
    ]);
  });

  it(`allows ${MAX_NESTING_DEPTH} levels and refuses one more, without recursing further`, () => {
    expect(shapeErrors({ c: nested(MAX_NESTING_DEPTH) }, '')).toEqual([]);
    expect(shapeErrors({ c: nested(MAX_NESTING_DEPTH + 1) }, '')).toEqual([
      `c${'.d'.repeat(MAX_NESTING_DEPTH)} is nested deeper than 20 levels`,
    ]);
    expect(shapeErrors({ c: nested(100_000) }, '')).toHaveLength(1);
  });

  it.each([
    ['a\u0000b', false],
    ['\ud800', false],
    ['x\udfff', false],
    ['\udfff\ud800', false],
    ['😀', true],
    ['\ufffd', true],
    ['\u200b', true],
  ])('judges %j well-formed: %s', (value, ok) => {
    expect(shapeErrors({ s: value, nested: { [value]: 1 } }, '')).toHaveLength(
      ok ? 0 : 2,
    );
  });
});

describe(capErrors.name, () => {
  it(`keeps the first ${MAX_ERROR_MESSAGES} and counts the rest`, () => {
    const errors = Array.from({ length: 45 }, (_, i) => `e${i}`);
    const sut = capErrors(errors);
    expect(sut).toHaveLength(MAX_ERROR_MESSAGES + 1);
    expect(sut[0]).toBe('e0');
    expect(sut.at(-1)).toBe('… and 25 more');
    expect(capErrors(['a'])).toEqual(['a']);
  });
});
