import { maskedConfig } from '../cli/check-config.command.js';
import {
  ConfigValidationError,
  loadAlertingConfig,
} from '../config/alerting.config.js';
import { describeConfig } from '../ops/boot-log.js';
import { PagerDutyWebhooksModule } from './pagerduty-webhooks.module.js';

describe('PAGERDUTY_WEBHOOK_SECRETS', () => {
  const secrets = 'first-secret-0123456789ab, second-secret-abcdef012345';

  it('is a comma list, trimmed', () => {
    const sut = loadAlertingConfig({ PAGERDUTY_WEBHOOK_SECRETS: secrets });
    expect(sut.pagerduty.webhookSecrets).toEqual([
      'first-secret-0123456789ab',
      'second-secret-abcdef012345',
    ]);
    expect(loadAlertingConfig({}).pagerduty.webhookSecrets).toEqual([]);
  });

  it('stops the boot naming the variable when an entry does not look like a secret', () => {
    for (const bad of ['true', 'a-secret-long-enough-0001,short', ' , ']) {
      let error: unknown;
      try {
        loadAlertingConfig({ PAGERDUTY_WEBHOOK_SECRETS: bad });
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(ConfigValidationError);
      expect((error as ConfigValidationError).problems).toEqual([
        'PAGERDUTY_WEBHOOK_SECRETS: must be a comma list of secrets, each at least 16 characters without spaces',
      ]);
    }
  });

  it('shows only **** and the last 4 characters in the boot log and check-config', () => {
    const config = loadAlertingConfig({ PAGERDUTY_WEBHOOK_SECRETS: secrets });
    for (const shown of [describeConfig(config), maskedConfig(config)]) {
      const text = JSON.stringify(shown);
      expect(text).not.toContain('0123456789ab');
      expect(text).not.toContain('abcdef012345');
      expect(
        (shown.pagerduty as { webhookSecrets: unknown }).webhookSecrets,
      ).toEqual(['****89ab', '****2345']);
    }
  });
});

describe(PagerDutyWebhooksModule.name, () => {
  it('refuses a secret a host passes that does not look like one', () => {
    expect(() =>
      PagerDutyWebhooksModule.forRoot({ secrets: ['short'] }),
    ).toThrow(ConfigValidationError);
    expect(
      PagerDutyWebhooksModule.forRoot({
        secrets: ['a-long-enough-secret-0001'],
      }).module,
    ).toBe(PagerDutyWebhooksModule);
  });
});
