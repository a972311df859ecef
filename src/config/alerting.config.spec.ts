import {
  ConfigValidationError,
  loadAlertingConfig,
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
});
