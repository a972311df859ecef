import {
  ConfigValidationError,
  loadAlertingConfig,
  resolveAlertingConfig,
} from './alerting.config.js';

describe(loadAlertingConfig.name, () => {
  const problemsOf = (env: Record<string, string>) => {
    try {
      loadAlertingConfig(env);
      return [];
    } catch (error) {
      return (error as ConfigValidationError).problems;
    }
  };

  it('refuses a RECONCILE_INTERVAL a timer cannot hold: Node would run it every millisecond', () => {
    expect(problemsOf({ RECONCILE_INTERVAL: '30d' })).toEqual([
      'RECONCILE_INTERVAL: must be at most 24d',
    ]);
    expect(problemsOf({ RECONCILE_INTERVAL: '24d' })).toEqual([]);
  });

  it('takes DELIVERY_CONCURRENCY as the deliveries in flight, 32 when unset', () => {
    expect(loadAlertingConfig({}).delivery.concurrency).toBe(32);
    expect(
      loadAlertingConfig({ DELIVERY_CONCURRENCY: '64' }).delivery.concurrency,
    ).toBe(64);
  });

  it('refuses a DELIVERY_CONCURRENCY that is not a whole number from 1 to 1024', () => {
    for (const value of ['0', '-3', '2.5', 'many', '1025'])
      expect(problemsOf({ DELIVERY_CONCURRENCY: value })).toEqual([
        expect.stringMatching(/^DELIVERY_CONCURRENCY: /),
      ]);
    expect(problemsOf({ DELIVERY_CONCURRENCY: '1' })).toEqual([]);
    expect(problemsOf({ DELIVERY_CONCURRENCY: '1024' })).toEqual([]);
  });
});

describe(resolveAlertingConfig.name, () => {
  it('takes delivery.concurrency as a module option, named as such when refused', () => {
    expect(
      resolveAlertingConfig({ delivery: { concurrency: 4 } }).delivery
        .concurrency,
    ).toBe(4);
    expect(() =>
      resolveAlertingConfig({ delivery: { concurrency: 0 } }),
    ).toThrow(/delivery\.concurrency: .*must not be less than 1/);
  });
});
