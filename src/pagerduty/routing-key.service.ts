import { Inject, Injectable } from '@nestjs/common';
import { DatabaseService } from '../database/database.service.js';
import { Setting } from './setting.entity.js';
import {
  PAGERDUTY_OPTIONS,
  type PagerDutySettingsDefaults,
} from './pagerduty.options.js';
import { CLOCK, type Clock } from '../ops/clock.js';

const KEYS = {
  routingKey: 'pagerduty.routing_key',
  serviceName: 'pagerduty.service_name',
  escalationPolicyId: 'pagerduty.escalation_policy_id',
} as const;

export type PagerDutySettings = {
  routingKey: string | null;
  serviceName: string;
  escalationPolicyId: string | null;
  routingKeySource: 'environment' | 'api' | 'none';
};

/**
 * The PagerDuty settings in force: a value changed through the API is stored and beats
 * the environment, across restarts. Cached briefly so ingestion does not read it per
 * alert; other instances see a change within {@link CACHE_MS}.
 */
@Injectable()
export class RoutingKeyService {
  private static readonly CACHE_MS = 2_000;
  private cached: { value: PagerDutySettings; at: number } | null = null;

  constructor(
    private readonly db: DatabaseService,
    @Inject(PAGERDUTY_OPTIONS) private readonly pd: PagerDutySettingsDefaults,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  async current(): Promise<string | null> {
    return (await this.settings()).routingKey;
  }

  async settings(): Promise<PagerDutySettings> {
    const now = Date.now();
    if (this.cached && now - this.cached.at < RoutingKeyService.CACHE_MS)
      return this.cached.value;
    const rows = await this.db.read((m) => m.find(Setting));
    const stored = new Map(rows.map((r) => [r.key, r.value]));
    const pd = this.pd;
    const apiKey = stored.get(KEYS.routingKey);
    const value: PagerDutySettings = {
      routingKey: apiKey ?? pd.routingKey ?? null,
      serviceName: stored.get(KEYS.serviceName) ?? pd.serviceName,
      escalationPolicyId:
        stored.get(KEYS.escalationPolicyId) ?? pd.escalationPolicyId ?? null,
      routingKeySource: apiKey ? 'api' : pd.routingKey ? 'environment' : 'none',
    };
    this.cached = { value, at: now };
    return value;
  }

  async update(
    changes: Partial<Record<keyof typeof KEYS, string>>,
  ): Promise<PagerDutySettings> {
    const updatedAt = this.clock.now().toISOString();
    await this.db.tx(async (m) => {
      for (const [field, value] of Object.entries(changes)) {
        if (value === undefined) continue;
        await m.upsert(
          Setting,
          { key: KEYS[field as keyof typeof KEYS], value, updatedAt },
          ['key'],
        );
      }
    });
    this.cached = null;
    return this.settings();
  }
}
