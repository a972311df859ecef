import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Clock } from '../../src/ops/clock.js';
import type { FakePagerDuty } from '../fakes/pagerduty.fake.js';

/** A clock the test moves: pageAfter and silence ends pass without sleeping. */
export class TestClock implements Clock {
  constructor(private at = Date.parse('2026-11-30T06:00:00.000Z')) {}
  now(): Date {
    return new Date(this.at);
  }
  advance(ms: number): void {
    this.at += ms;
  }
}

export function routingFile(text: string, name = 'routing.yaml'): string {
  const file = join(mkdtempSync(join(tmpdir(), 'routing-')), name);
  writeFileSync(file, text);
  return file;
}

/** `action key` of every event PagerDuty accepted, in order. */
export const eventsOf = (pd: FakePagerDuty, dedupKey?: string) =>
  pd.received
    .filter((e) => !dedupKey || e.dedupKey === dedupKey)
    .map((e) => `${e.body.event_action} ${e.body.routing_key}`);

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
