import { Inject, Injectable, Logger, type OnModuleInit } from '@nestjs/common';
import { DiscoveryService } from '@nestjs/core';
import {
  ALERTING_CONFIG,
  type AlertingConfig,
} from '../config/alerting.config.js';
import { NotifierAdapter } from './notifier-adapter.decorator.js';
import type { Notifier } from './notifier.port.js';

/**
 * The enabled notifier adapters: every `@NotifierAdapter()` provider of the app, narrowed
 * to `config.notifiers` when it names some. Filled once every provider exists (module
 * init), so an adapter may live in any module, the host's included.
 */
@Injectable()
export class NotifierRegistry implements OnModuleInit {
  private readonly logger = new Logger('Notifiers');
  private enabled = new Map<string, Notifier>();
  private enabledNames: string[] = [];

  constructor(
    private readonly discovery: DiscoveryService,
    @Inject(ALERTING_CONFIG) private readonly config: AlertingConfig,
  ) {}

  onModuleInit(): void {
    const found = new Map<string, Notifier>();
    const seen = new Set<unknown>();
    for (const wrapper of this.discovery.getProviders()) {
      const instance = wrapper.instance as Notifier | undefined;
      if (!instance || typeof instance !== 'object' || seen.has(instance))
        continue;
      seen.add(instance);
      if (!Reflect.getMetadata(NotifierAdapter.KEY, instance.constructor))
        continue;
      const twin = found.get(instance.name);
      if (twin && twin !== instance)
        throw new Error(
          `notifier names must be unique; repeated: ${instance.name}`,
        );
      found.set(instance.name, instance);
    }
    const wanted = this.config.notifiers;
    if (wanted) {
      const missing = wanted.filter((n) => !found.has(n));
      if (missing.length > 0)
        throw new Error(
          `notifiers names ${missing.join(', ')} but no such adapter is registered (found: ${[...found.keys()].join(', ') || 'none'}); import its module or provide a @NotifierAdapter() class`,
        );
      this.enabled = new Map(wanted.map((n) => [n, found.get(n)!]));
    } else {
      this.enabled = found;
    }
    this.enabledNames = [...this.enabled.keys()];
    this.logger.debug(`notifiers: ${this.names.join(', ') || 'none'}`);
  }

  get names(): string[] {
    return this.enabledNames;
  }

  get byName(): ReadonlyMap<string, Notifier> {
    return this.enabled;
  }

  isEnabled(name: string): boolean {
    return this.enabled.has(name);
  }

  /**
   * What each enabled adapter wants kept with an incident at trigger time (PagerDuty: the
   * routing key then in force), by adapter name; null when none wants anything.
   */
  async context(): Promise<Record<string, Record<string, unknown>> | null> {
    let out: Record<string, Record<string, unknown>> | null = null;
    for (const [name, notifier] of this.enabled) {
      const own = await notifier.context?.();
      if (own) (out ??= {})[name] = own;
    }
    return out;
  }
}
