import { readFileSync } from 'node:fs';

export const golden = JSON.parse(
  readFileSync(
    new URL(
      '../fixtures/pagerduty/golden-high-failure-rate.json',
      import.meta.url,
    ),
    'utf8',
  ),
) as {
  settings: Record<string, string>;
  request: { path: string; body: unknown };
  event: any;
};
