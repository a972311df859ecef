import fc from 'fast-check';
import {
  compileMatchers,
  MatcherIndex,
  type Matcher,
  type RoutableAlert,
} from './matcher.js';

const base: RoutableAlert = {
  severity: 'CRITICAL',
  alarmName: 'a',
  metricName: null,
  dedupKey: 'a',
  environment: 'production',
  source: null,
  component: 'api',
  group: 'g',
  class: null,
  via: 'http',
  customDetails: {},
};

const compile = (raw: unknown): Matcher => {
  const problems: string[] = [];
  const m = compileMatchers(raw, 'm', problems);
  expect(problems).toEqual([]);
  return m!;
};

describe('compileMatchers', () => {
  it('matches strings exactly, severity in any case, lists, whole-value regexes and string custom details', () => {
    const m = compile({
      severity: 'critical',
      environment: ['staging', 'production'],
      alarmName: { regex: 'db-.*' },
      'customDetails.team': 'payments',
    });
    const alert = {
      ...base,
      alarmName: 'db-1',
      customDetails: { team: 'payments' },
    };
    expect(m(alert)).toBe(true);
    expect(m({ ...alert, alarmName: 'x-db-1' })).toBe(false);
    expect(m({ ...alert, environment: 'dev' })).toBe(false);
    expect(m({ ...alert, customDetails: { team: 1 } })).toBe(false);
    expect(m({ ...alert, severity: 'WARNING' })).toBe(false);
    // a missing field never matches, not even an all-accepting regex
    expect(compile({ class: { regex: '.*' } })(base)).toBe(false);
  });
});

describe('MatcherIndex', () => {
  const values = ['a', 'b', 'c', 'd'];
  const field = fc.constantFrom(
    'environment',
    'component',
    'customDetails.team',
    'alarmName',
  );
  const value = fc.oneof(
    fc.constantFrom(...values),
    fc.uniqueArray(fc.constantFrom(...values), { minLength: 1, maxLength: 3 }),
    fc.constantFrom(...values).map((v) => ({ regex: `${v}.?` })),
  );
  const rule = fc.dictionary(field, value, { minKeys: 1, maxKeys: 3 });
  const alert = fc.record({
    environment: fc.constantFrom(...values),
    component: fc.constantFrom(...values),
    alarmName: fc.constantFrom(...values, 'ab'),
    team: fc.option(fc.constantFrom(...values)),
  });

  it('gives, in order, exactly the matchers a linear walk would test true', () => {
    fc.assert(
      fc.property(
        fc.array(rule, { maxLength: 30 }),
        fc.array(alert, { minLength: 1, maxLength: 10 }),
        (rules, alerts) => {
          const matchers = rules.map(compile);
          const index = new MatcherIndex(matchers);
          for (const a of alerts) {
            const routable: RoutableAlert = {
              ...base,
              environment: a.environment,
              component: a.component,
              alarmName: a.alarmName,
              customDetails: a.team === null ? {} : { team: a.team },
            };
            const linear = matchers.flatMap((m, i) => (m(routable) ? [i] : []));
            const indexed = index
              .candidates(routable)
              .filter((i) => matchers[i](routable));
            expect(indexed).toEqual(linear);
          }
        },
      ),
    );
  });

  it('walks one bucket of 200 rules split by team', () => {
    const matchers = Array.from({ length: 200 }, (_, i) =>
      compile({ environment: 'production', 'customDetails.team': `team-${i}` }),
    );
    const index = new MatcherIndex(matchers);
    expect(
      index.candidates({ ...base, customDetails: { team: 'team-7' } }),
    ).toEqual([7]);
    expect(index.candidates(base)).toEqual([]);
  });
});
