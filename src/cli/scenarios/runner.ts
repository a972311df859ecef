import { createHmac, randomUUID } from 'node:crypto';
import { parseDuration } from '../../config/duration.js';
import type { ServiceResponse } from '../service-client.js';
import type { DeadDelivery, Driver } from './drivers.js';
import {
  describeEvent,
  describeMatcher,
  diffLines,
  eventMismatches,
  BODY_FIELDS,
  matchText,
  show,
  showText,
  subsetMismatches,
  type Mismatch,
} from './matchers.js';
import { IN_PROCESS_ONLY } from './scenario-file.js';
import type {
  Answer,
  EventMatcher,
  ExpectBody,
  ExpectationResult,
  FileReport,
  ObservedEvent,
  Scenario,
  Step,
  StepLog,
  TextMatcher,
} from './scenario.types.js';

const DEFAULT_WITHIN_MS = 30_000;
const BATCH = 100;
/** against a target, how often the outbox is read while waiting */
const POLL_MS = 250;

/** A step that could not run (a refused request, an unknown silence): the file stops there. */
class StepError extends Error {}

/** Steps that make a file unrunnable against a running service, with where they are. */
export function clockSteps(scenario: Scenario): string[] {
  return scenario.steps
    .filter((s) => IN_PROCESS_ONLY.has(s.kind))
    .map((s) => `${s.path}.${s.kind}`);
}

export function notRunnableReport(
  scenario: Scenario,
  target: string,
  why: string,
): FileReport {
  return {
    file: scenario.file,
    name: scenario.name,
    target,
    status: 'not-runnable',
    startedAt: new Date().toISOString(),
    durationMs: 0,
    scenarioMs: 0,
    expectations: [],
    steps: [],
    error: why,
  };
}

const sleep = (ms: number) =>
  new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Runs one file's steps in order against `driver`; every expectation ends up in the report. */
export async function runScenario(
  scenario: Scenario,
  driver: Driver,
  progress: (line: string) => void = () => {},
): Promise<FileReport> {
  const run = new ScenarioRun(scenario, driver, progress);
  return run.run();
}

class ScenarioRun {
  private readonly startedWall = Date.now();
  private readonly startedClock: number;
  private readonly expectations: ExpectationResult[] = [];
  private readonly steps: StepLog[] = [];
  /** per notifier, events an expectation already accounted for */
  private readonly consumed = new Map<string, Set<string>>();
  private readonly silences = new Map<string, string>();
  /** scenario clock after the last step that sent something or let time pass: `within` counts from it */
  private lastSentMs = 0;

  constructor(
    private readonly scenario: Scenario,
    private readonly driver: Driver,
    private readonly progress: (line: string) => void,
  ) {
    this.startedClock = driver.now();
  }

  private elapsed(): number {
    return this.driver.now() - this.startedClock;
  }

  async run(): Promise<FileReport> {
    let error: string | undefined;
    for (const step of this.scenario.steps) {
      try {
        await this.step(step);
      } catch (e) {
        error = `${step.path} (${step.kind}): ${(e as Error).message}`;
        // the expectations it never reached are failures, not silence
        for (const rest of this.scenario.steps.filter(
          (s) => s.index >= step.index && isExpectation(s),
        ))
          if (!this.expectations.some((x) => x.id.startsWith(rest.path)))
            this.record(rest.path, this.title(rest), {
              passed: false,
              message: `not evaluated: the file stopped at ${error}`,
            });
        break;
      }
    }
    const passed =
      !error && this.expectations.every((e) => e.passed || e.skipped);
    return {
      file: this.scenario.file,
      name: this.scenario.name,
      target: this.driver.label,
      status: passed ? 'passed' : 'failed',
      startedAt: new Date(this.startedWall).toISOString(),
      durationMs: Date.now() - this.startedWall,
      scenarioMs: this.elapsed(),
      expectations: this.expectations,
      steps: this.steps,
      ...(error ? { error } : {}),
    };
  }

  private title(step: Step): string {
    if (step.body.name) return step.body.name;
    switch (step.kind) {
      case 'expect':
        return this.describeExpect(step.body.expect as ExpectBody);
      case 'none': {
        const none = this.noneBody(step);
        return `${none.notifier} gets nothing${none.dedupKey ? ` for ${showText(none.dedupKey)}` : ''} for ${show(step.body.none?.for ?? step.body.none)}`;
      }
      case 'incident':
        return `incident ${step.body.incident.dedupKey} is ${JSON.stringify(withoutKey(step.body.incident))}`;
      default:
        return `${step.kind} answers ${JSON.stringify(step.body.answer)}`;
    }
  }

  private record(
    id: string,
    description: string,
    result: Omit<ExpectationResult, 'id' | 'description' | 'atMs'>,
  ): void {
    this.expectations.push({
      id,
      description,
      atMs: this.elapsed(),
      ...result,
    });
    const mark = result.skipped ? '–' : result.passed ? '✓' : '✗';
    this.progress(`  ${mark} ${id} ${description}`);
  }

  private log(step: Step, res?: ServiceResponse, detail?: string): void {
    this.steps.push({
      path: step.path,
      name: step.body.name ?? step.kind,
      atMs: this.elapsed(),
      ...(res ? { status: res.status } : {}),
      ...(detail
        ? { detail }
        : res && res.status >= 300
          ? { detail: JSON.stringify(res.body)?.slice(0, 500) }
          : {}),
    });
  }

  private async step(step: Step): Promise<unknown> {
    const b = step.body;
    switch (step.kind) {
      case 'alert':
        return this.sendAlerts(step);
      case 'template': {
        const { name, ...input } = b.template as { name: string };
        return this.send(step, 'POST', `/v1/alerts/templates/${name}`, input);
      }
      case 'cloudwatch':
        return this.cloudwatch(step);
      case 'eventbridge':
        return this.send(
          step,
          'POST',
          '/v1/cloudwatch/events',
          eventBridgeEvent(b.eventbridge, this.driver.now()),
        );
      case 'alertmanager':
        return this.send(
          step,
          'POST',
          '/v1/alertmanager',
          alertmanagerWebhook(b.alertmanager, this.driver.now()),
        );
      case 'pagerduty':
        return this.pagerDutyWebhook(step);
      case 'advance': {
        const ms = parseDuration(b.advance)!;
        await this.driver.advance(ms);
        this.lastSentMs = this.elapsed();
        this.log(step, undefined, `clock +${ms} ms`);
        return;
      }
      case 'silence':
        return this.silence(step);
      case 'expireSilence': {
        const id = this.silences.get(b.expireSilence);
        if (!id)
          throw new StepError(
            `no silence named "${b.expireSilence}" was created before this step`,
          );
        const res = await this.driver.client.request(
          'DELETE',
          `/v1/silences/${encodeURIComponent(id)}`,
        );
        this.log(step, res);
        if (res.status < 200 || res.status > 299)
          throw new StepError(
            `DELETE /v1/silences/${id}: HTTP ${res.status} ${show(res.body)}`,
          );
        this.lastSentMs = this.elapsed();
        await this.driver.settle();
        return;
      }
      case 'fakePagerDuty':
        return this.scriptPagerDuty(step);
      case 'expect':
        return this.expect(step);
      case 'none':
        return this.none(step);
      case 'incident':
        return this.incident(step);
    }
  }

  // ---- sending ------------------------------------------------------------------------

  private async send(
    step: Step,
    method: string,
    path: string,
    body: unknown,
    headers?: Record<string, string>,
    answerLabel = step.path,
  ): Promise<ServiceResponse> {
    const res = await this.driver.client.request(method, path, body, headers);
    this.log(step, res);
    this.lastSentMs = this.elapsed();
    this.checkAnswer(step, res, `${method} ${path}`, answerLabel);
    await this.driver.settle();
    return res;
  }

  /** With `answer`, an expectation; without, anything but a 2xx stops the file. */
  private checkAnswer(
    step: Step,
    res: ServiceResponse,
    what: string,
    label: string,
  ): void {
    const answer = step.body.answer as Answer | undefined;
    if (!answer) {
      if (res.status < 200 || res.status > 299)
        throw new StepError(`${what}: HTTP ${res.status} ${show(res.body)}`);
      return;
    }
    const mismatches: Mismatch[] = [];
    if (answer.status !== undefined && res.status !== answer.status)
      mismatches.push({
        field: 'status',
        expected: answer.status,
        got: res.status,
      });
    if (answer.status === undefined && (res.status < 200 || res.status > 299))
      mismatches.push({ field: 'status', expected: '2xx', got: res.status });
    if (answer.actions !== undefined) {
      const got: unknown[] = Array.isArray(res.body?.results)
        ? res.body.results.map((r: { action: string }) => r.action)
        : [];
      const want =
        typeof answer.actions === 'string'
          ? got.length
            ? got.map(() => answer.actions)
            : [answer.actions]
          : answer.actions;
      if (JSON.stringify(want) !== JSON.stringify(got))
        mismatches.push({ field: 'actions', expected: want, got });
    }
    if (answer.outcome !== undefined && res.body?.outcome !== answer.outcome)
      mismatches.push({
        field: 'outcome',
        expected: answer.outcome,
        got: res.body?.outcome,
      });
    const ok = mismatches.length === 0;
    const label2 = this.expectations.some((e) => e.id === `${label}.answer`)
      ? `${label}.answer#${this.expectations.length}`
      : `${label}.answer`;
    this.record(
      label2,
      step.body.name ?? `${what} answers ${JSON.stringify(answer)}`,
      {
        passed: ok,
        message: ok
          ? `HTTP ${res.status}${res.body?.results ? ` [${res.body.results.map((r: { action: string }) => r.action).join(', ')}]` : ''}`
          : `${what} answered HTTP ${res.status} ${show(res.body)}`,
        expected: answer,
        got: { status: res.status, body: res.body },
        ...(ok ? {} : { diff: diffLines(mismatches) }),
      },
    );
  }

  private async sendAlerts(step: Step): Promise<void> {
    const b = step.body;
    let alerts: unknown[];
    if (b.repeat !== undefined) {
      if (Array.isArray(b.alert))
        throw new StepError('repeat copies one alert, not a list');
      const width = String(b.repeat).length;
      alerts = Array.from({ length: b.repeat as number }, (_, i) =>
        fillIndex(b.alert, String(i + 1).padStart(Math.max(4, width), '0')),
      );
    } else alerts = Array.isArray(b.alert) ? b.alert : [b.alert];
    if (alerts.length <= BATCH || b.repeat === undefined) {
      await this.send(
        step,
        'POST',
        '/v1/alerts',
        Array.isArray(b.alert) || b.repeat !== undefined ? alerts : b.alert,
      );
      return;
    }
    // one answer for the whole step: the batches' results joined
    const results: unknown[] = [];
    const answer = b.answer as Answer | undefined;
    let status = 202;
    for (let i = 0; i < alerts.length; i += BATCH) {
      const res = await this.driver.client.request(
        'POST',
        '/v1/alerts',
        alerts.slice(i, i + BATCH),
      );
      this.log(
        step,
        res,
        `alerts ${i + 1}-${Math.min(i + BATCH, alerts.length)}`,
      );
      if (res.status !== 202) status = res.status;
      results.push(...(res.body?.results ?? []));
      if (!answer && (res.status < 200 || res.status > 299))
        throw new StepError(
          `POST /v1/alerts: HTTP ${res.status} ${show(res.body)}`,
        );
    }
    this.lastSentMs = this.elapsed();
    this.checkAnswer(
      step,
      { status, body: { results } },
      'POST /v1/alerts',
      step.path,
    );
    await this.driver.settle();
  }

  private async cloudwatch(step: Step): Promise<void> {
    const signer = this.driver.signer;
    if (!signer)
      throw new StepError(
        'cloudwatch steps need the SNS test signer (against a target: --sns-signer, and SNS_CERT_URL_PATTERN trusting it)',
      );
    const a = step.body.cloudwatch as AlarmInput;
    const topicArn = a.topicArn ?? this.driver.snsTopicArn;
    const body = signer.notification({
      topicArn,
      subject: `${a.state}: "${a.alarmName}" in ${a.region ?? 'eu-central-1'}`,
      message: cloudWatchAlarm(a, this.driver.now()),
      signatureVersion: '2',
    });
    await this.send(
      step,
      'POST',
      '/v1/sns',
      JSON.stringify(body),
      signer.headersFor(body),
    );
  }

  private async pagerDutyWebhook(step: Step): Promise<void> {
    const secret = this.driver.webhookSecret;
    if (!secret)
      throw new StepError(
        "pagerduty steps sign with a secret of the target's PAGERDUTY_WEBHOOK_SECRETS: pass --webhook-secret",
      );
    const p = step.body.pagerduty as {
      event: string;
      dedupKey: string;
      agent?: string;
      id?: string;
      incidentId?: string;
    };
    // one PagerDuty incident per key, the same for every event about it
    const incidentId =
      p.incidentId ??
      `Q${createHmac('sha256', 'incident').update(p.dedupKey).digest('hex').slice(0, 12).toUpperCase()}`;
    const payload = JSON.stringify({
      event: {
        id: p.id ?? randomUUID(),
        event_type: p.event,
        resource_type: 'incident',
        occurred_at: new Date(this.driver.now()).toISOString(),
        agent: {
          id: 'PSCENARIO',
          type: 'user_reference',
          summary: p.agent ?? 'alerting test',
        },
        data: {
          id: incidentId,
          type: 'incident',
          number: 1,
          status: p.event.replace(/^incident\./, ''),
          html_url: `https://example.pagerduty.com/incidents/${incidentId}`,
          incident_key: p.dedupKey,
          title: p.dedupKey,
        },
      },
    });
    const signature = createHmac('sha256', secret)
      .update(payload)
      .digest('hex');
    await this.send(step, 'POST', '/v1/pagerduty/webhooks', payload, {
      'content-type': 'application/json',
      'x-pagerduty-signature': `v1=${signature}`,
    });
  }

  private async silence(step: Step): Promise<void> {
    const { as, duration, ...rest } = step.body.silence as {
      as?: string;
      duration?: string | number;
    } & Record<string, unknown>;
    const body = {
      comment: `alerting test ${this.scenario.name}`,
      createdBy: 'alerting test',
      ...rest,
      // the service reads `duration` in its own terms; send what was written
      ...(duration !== undefined ? { duration } : {}),
    };
    const res = await this.send(step, 'POST', '/v1/silences', body);
    const id = res.body?.id;
    if (as && id !== undefined) this.silences.set(as, String(id));
  }

  private async scriptPagerDuty(step: Step): Promise<void> {
    const pd = this.driver.pagerDuty;
    if (!pd)
      throw new StepError('only the built-in fake PagerDuty can be scripted');
    const what = step.body.fakePagerDuty;
    if (what === 'down') await pd.goDown();
    else if (what === 'up') {
      await pd.comeBack();
      // `within` of what was held back counts from here
      this.lastSentMs = this.elapsed();
    } else pd.failNext(what.failNext, what.status);
    this.log(step, undefined, `fake PagerDuty: ${JSON.stringify(what)}`);
  }

  // ---- expectations ------------------------------------------------------------------

  private consumedOf(notifier: string): Set<string> {
    let set = this.consumed.get(notifier);
    if (!set) this.consumed.set(notifier, (set = new Set()));
    return set;
  }

  private describeExpect(e: ExpectBody): string {
    const notifier = e.notifier ?? 'pagerduty';
    const within = `within ${show(e.within ?? '30s')}`;
    if (e.events)
      return `${notifier} gets [${e.events.map(describeMatcher).join(', ')}] in that order ${within}`;
    const count = e.count ?? 1;
    return `${notifier} gets ${count === 1 ? '' : `${count}× `}${describeMatcher(e)} ${within}${e.attempts ? ` after ${e.attempts} attempt(s)` : ''}`;
  }

  /**
   * Waits for what the notifier gets: in process by moving the clock a reconcile interval
   * at a time (so `pageAfter` and silence expiry come due), against a target by polling.
   * Only events no earlier expectation accounted for count, so "trigger, then resolve"
   * reads as two expectations.
   */
  private async expect(step: Step): Promise<void> {
    const e = step.body.expect as ExpectBody;
    const notifier = e.notifier ?? 'pagerduty';
    const withinMs = parseDuration(e.within ?? DEFAULT_WITHIN_MS)!;
    const title = step.body.name ?? this.describeExpect(e);
    const matchers: EventMatcher[] = e.events ?? [
      Object.fromEntries(
        Object.entries(e).filter(
          ([k]) =>
            !['notifier', 'within', 'count', 'events', 'attempts'].includes(k),
        ),
      ),
    ];
    // a target's outbox shows action and key, not the event as sent
    const unseen = this.driver.inProcess
      ? []
      : [
          ...new Set(
            matchers.flatMap((m) =>
              BODY_FIELDS.filter((f) => m[f] !== undefined),
            ),
          ),
        ];
    if (unseen.length > 0)
      for (const m of matchers) for (const f of BODY_FIELDS) delete m[f];
    const note = unseen.length
      ? ` (${unseen.join(', ')} not checked: not visible against a target)`
      : '';
    const deadline = this.lastSentMs + withinMs;
    const consumed = this.consumedOf(notifier);
    let fresh: ObservedEvent[] = [];
    let found: ObservedEvent[] | null = null;
    let dead: DeadDelivery[] = [];
    for (;;) {
      await this.driver.settle();
      // per-key order: nothing behind a dead delivery can arrive, so waiting is pointless
      dead = (await this.driver.dead(notifier)).filter((d) =>
        matchers.some(
          (m) =>
            (m.action === undefined || m.action === d.action) &&
            (m.dedupKey === undefined || matchText(m.dedupKey, d.dedupKey)),
        ),
      );
      if (dead.length > 0) break;
      fresh = (await this.driver.events(notifier)).filter(
        (ev) => !consumed.has(eventId(ev)),
      );
      found = e.events
        ? inOrder(matchers, fresh, this.driver.routingKeys)
        : exactly(matchers[0], e.count ?? 1, fresh, this.driver.routingKeys);
      const now = this.elapsed();
      if (found || now >= deadline) break;
      if (this.driver.inProcess)
        await this.driver.advance(Math.min(deadline - now, this.driver.tickMs));
      else await sleep(Math.min(POLL_MS, deadline - now));
    }
    // in process the clock never passes the deadline, so whatever was seen came in time
    const late = this.driver.inProcess
      ? []
      : (found?.filter((ev) => ev.atMs - this.lastSentMs > withinMs) ?? []);
    const attemptsOk =
      !found ||
      e.attempts === undefined ||
      found.at(-1)?.attempts === e.attempts;
    if (found && late.length === 0 && attemptsOk) {
      for (const ev of found) consumed.add(eventId(ev));
      this.record(step.path, title, {
        passed: true,
        message: `${found.map(describeEvent).join(', ')}${e.attempts ? ` (${found.at(-1)?.attempts} attempts)` : ''}${note}`,
        got: found.map(summarize),
      });
      return;
    }
    const diff: string[] = [];
    let message: string;
    if (dead.length > 0) {
      message = `dead delivery: ${dead.map((d) => `${d.action} ${d.dedupKey} after ${d.attempts} attempt(s): ${d.lastError ?? 'refused'}`).join('; ')}`;
      diff.push(
        ...dead.map(
          (d) =>
            `+ ${d.action} ${d.dedupKey}: dead (${d.lastError ?? 'refused'})`,
        ),
      );
    } else if (found && late.length > 0) {
      message = `arrived late: ${late.map(describeEvent).join(', ')} (limit ${withinMs} ms after +${this.lastSentMs} ms)`;
    } else if (found) {
      message = `expected ${e.attempts} attempt(s), the fake PagerDuty saw ${found.at(-1)?.attempts}`;
    } else {
      const matching = fresh.filter(
        (ev) =>
          e.events ||
          eventMismatches(matchers[0], ev, this.driver.routingKeys).length ===
            0,
      );
      message =
        (e.events
          ? `expected [${matchers.map(describeMatcher).join(', ')}] in that order within ${withinMs} ms; ${notifier} got [${fresh.map((ev) => `${ev.action} ${ev.dedupKey}`).join(', ')}]`
          : `expected ${e.count ?? 1} matching event(s) within ${withinMs} ms, ${notifier} got ${matching.length}` +
            (fresh.length > matching.length
              ? ` (and ${fresh.length - matching.length} other(s))`
              : '')) + note;
      diff.push(...this.closestDiff(matchers, fresh, e.events !== undefined));
    }
    this.record(step.path, title, {
      passed: false,
      message,
      expected: e.events ?? { ...matchers[0], count: e.count ?? 1 },
      got: fresh.map(summarize),
      diff,
    });
  }

  /** For each expected event not found, the nearest observed one, field by field. */
  private closestDiff(
    matchers: EventMatcher[],
    events: ObservedEvent[],
    ordered: boolean,
  ): string[] {
    const lines: string[] = [];
    if (events.length === 0) return ['@@ nothing new reached the notifier @@'];
    let from = 0;
    matchers.forEach((m, i) => {
      const pool = ordered ? events.slice(from) : events;
      const exact = pool.findIndex(
        (ev) => eventMismatches(m, ev, this.driver.routingKeys).length === 0,
      );
      if (exact >= 0) {
        from += exact + 1;
        return;
      }
      const scored = pool
        .map((ev) => ({
          ev,
          miss: eventMismatches(m, ev, this.driver.routingKeys),
        }))
        .sort((a, b) => a.miss.length - b.miss.length);
      const best = scored[0];
      lines.push(
        `@@ ${ordered ? `event ${i + 1}, ` : ''}${describeMatcher(m)}: ${best ? `closest is ${describeEvent(best.ev)}` : 'nothing left to compare'} @@`,
      );
      if (best) lines.push(...diffLines(best.miss));
    });
    return lines;
  }

  private noneBody(step: Step): {
    forMs: number;
    notifier: string;
    dedupKey?: TextMatcher;
  } {
    const none = step.body.none;
    const obj = none && typeof none === 'object' ? none : { for: none };
    return {
      forMs: parseDuration(obj.for)!,
      notifier: obj.notifier ?? 'pagerduty',
      dedupKey: obj.dedupKey,
    };
  }

  private async none(step: Step): Promise<void> {
    const { forMs, notifier, dedupKey } = this.noneBody(step);
    const title = this.title(step);
    const relevant = (ev: ObservedEvent) =>
      dedupKey === undefined || matchText(dedupKey, ev.dedupKey);
    await this.driver.settle();
    const before = new Set((await this.driver.events(notifier)).map(eventId));
    if (this.driver.inProcess) await this.driver.advance(forMs);
    else await sleep(forMs);
    await this.driver.settle();
    const extra = (await this.driver.events(notifier)).filter(
      (ev) => !before.has(eventId(ev)) && relevant(ev),
    );
    this.record(step.path, title, {
      passed: extra.length === 0,
      message:
        extra.length === 0
          ? `nothing for ${forMs} ms`
          : `${extra.length} event(s): ${extra.map(describeEvent).join(', ')}`,
      expected: [],
      got: extra.map(summarize),
      ...(extra.length
        ? {
            diff: extra.map(
              (ev) => `+ ${ev.action} ${ev.dedupKey} at +${ev.atMs} ms`,
            ),
          }
        : {}),
    });
    this.lastSentMs = this.elapsed();
    // what arrived unasked is reported here, not again by a later expectation
    for (const ev of extra) this.consumedOf(notifier).add(eventId(ev));
  }

  private async incident(step: Step): Promise<void> {
    const { dedupKey, exists, ...fields } = step.body.incident as {
      dedupKey: string;
      exists?: boolean;
    } & Record<string, unknown>;
    await this.driver.settle();
    const res = await this.driver.client.request(
      'GET',
      `/v1/incidents/${encodeURIComponent(dedupKey)}`,
    );
    this.log(step, res);
    const title = this.title(step);
    if (exists === false || res.status === 404) {
      const ok = (exists === false) === (res.status === 404);
      this.record(step.path, title, {
        passed: ok,
        message: ok
          ? res.status === 404
            ? 'no incident for that key'
            : `HTTP ${res.status}`
          : res.status === 404
            ? `no incident for ${dedupKey}`
            : `an incident exists (${res.body?.status})`,
        ...(ok
          ? {}
          : {
              diff: diffLines([
                {
                  field: 'incident',
                  expected: exists === false ? 'none' : 'one',
                  got: res.status === 404 ? 'none' : res.body?.status,
                },
              ]),
            }),
      });
      return;
    }
    if (res.status !== 200)
      throw new StepError(
        `GET /v1/incidents/${dedupKey}: HTTP ${res.status} ${show(res.body)}`,
      );
    const mismatches = subsetMismatches(fields, res.body, 'incident').map(
      (m) => ({ ...m, field: m.field.replace(/^incident\./, '') }),
    );
    this.record(step.path, title, {
      passed: mismatches.length === 0,
      message:
        mismatches.length === 0
          ? `${res.body.status}, ${res.body.occurrences} occurrence(s)`
          : mismatches
              .map(
                (m) =>
                  `${m.field} is ${show(m.got)}, expected ${show(m.expected)}`,
              )
              .join('; '),
      expected: fields,
      got: Object.fromEntries(Object.keys(fields).map((k) => [k, res.body[k]])),
      ...(mismatches.length ? { diff: diffLines(mismatches) } : {}),
    });
  }
}

const isExpectation = (s: Step) =>
  s.kind === 'expect' ||
  s.kind === 'none' ||
  s.kind === 'incident' ||
  s.body.answer !== undefined;

const eventId = (e: ObservedEvent) => e.id;

function withoutKey(o: Record<string, unknown>) {
  const { dedupKey: _, ...rest } = o;
  return rest;
}

function summarize(e: ObservedEvent) {
  const p = e.body?.payload as Record<string, unknown> | undefined;
  return {
    action: e.action,
    dedupKey: e.dedupKey,
    atMs: e.atMs,
    ...(p ? { severity: p.severity, summary: p.summary } : {}),
  };
}

/** The listed events as a subsequence of what arrived, in that order; null when one is missing. */
function inOrder(
  matchers: EventMatcher[],
  events: ObservedEvent[],
  keys: Record<string, string>,
): ObservedEvent[] | null {
  const out: ObservedEvent[] = [];
  let from = 0;
  for (const m of matchers) {
    const i = events.findIndex(
      (ev, idx) => idx >= from && eventMismatches(m, ev, keys).length === 0,
    );
    if (i < 0) return null;
    out.push(events[i]);
    from = i + 1;
  }
  return out;
}

/** Exactly `count` matching events; more is a failure too (a duplicate page). */
function exactly(
  m: EventMatcher,
  count: number,
  events: ObservedEvent[],
  keys: Record<string, string>,
): ObservedEvent[] | null {
  const matching = events.filter(
    (ev) => eventMismatches(m, ev, keys).length === 0,
  );
  return matching.length === count ? matching : null;
}

function fillIndex(value: unknown, index: string): unknown {
  if (typeof value === 'string')
    return value.replace(/\{\{\s*i\s*\}\}/g, index);
  if (Array.isArray(value)) return value.map((v) => fillIndex(v, index));
  if (value && typeof value === 'object')
    return Object.fromEntries(
      Object.entries(value).map(([k, v]) => [k, fillIndex(v, index)]),
    );
  return value;
}

interface AlarmInput {
  alarmName: string;
  state: 'ALARM' | 'OK' | 'INSUFFICIENT_DATA';
  metricName?: string;
  namespace?: string;
  description?: string;
  reason?: string;
  threshold?: number;
  region?: string;
  account?: string;
  topicArn?: string;
  at?: string;
}

const previousOf = (state: string) => (state === 'ALARM' ? 'OK' : 'ALARM');

/** The alarm state change CloudWatch publishes to SNS. */
export function cloudWatchAlarm(a: AlarmInput, now: number) {
  const region = a.region ?? 'eu-central-1';
  const account = a.account ?? '123456789012';
  return {
    AlarmName: a.alarmName,
    AlarmDescription: a.description ?? null,
    AWSAccountId: account,
    NewStateValue: a.state,
    NewStateReason: a.reason ?? `Threshold Crossed (alerting test: ${a.state})`,
    StateChangeTime: (a.at ?? new Date(now).toISOString()).replace(
      'Z',
      '+0000',
    ),
    Region: region,
    AlarmArn: `arn:aws:cloudwatch:${region}:${account}:alarm:${a.alarmName}`,
    OldStateValue: previousOf(a.state),
    Trigger: {
      MetricName: a.metricName ?? 'CPUUtilization',
      Namespace: a.namespace ?? 'AWS/EC2',
      StatisticType: 'Statistic',
      Statistic: 'AVERAGE',
      Unit: null,
      Dimensions: [],
      Period: 60,
      EvaluationPeriods: 1,
      ComparisonOperator: 'GreaterThanThreshold',
      Threshold: a.threshold ?? 80,
      TreatMissingData: 'missing',
      EvaluateLowSampleCountPercentile: '',
    },
  };
}

/** The "CloudWatch Alarm State Change" event EventBridge delivers. */
export function eventBridgeEvent(a: AlarmInput, now: number) {
  const region = a.region ?? 'eu-central-1';
  const account = a.account ?? '123456789012';
  const at = a.at ?? new Date(now).toISOString();
  return {
    version: '0',
    id: randomUUID(),
    'detail-type': 'CloudWatch Alarm State Change',
    source: 'aws.cloudwatch',
    account,
    time: at.replace(/\.\d+Z$/, 'Z'),
    region,
    resources: [`arn:aws:cloudwatch:${region}:${account}:alarm:${a.alarmName}`],
    detail: {
      alarmName: a.alarmName,
      configuration: {
        ...(a.description ? { description: a.description } : {}),
        metrics: [
          {
            id: 'm1',
            metricStat: {
              metric: {
                dimensions: {},
                name: a.metricName ?? 'CPUUtilization',
                namespace: a.namespace ?? 'AWS/EC2',
              },
              period: 60,
              stat: 'Average',
            },
            returnData: true,
          },
        ],
      },
      previousState: {
        reason: 'alerting test',
        timestamp: at.replace('Z', '+0000'),
        value: previousOf(a.state),
      },
      state: {
        reason: a.reason ?? `Threshold Crossed (alerting test: ${a.state})`,
        timestamp: at.replace('Z', '+0000'),
        value: a.state,
      },
    },
  };
}

/** An Alertmanager v4 webhook around the alerts the step lists. */
export function alertmanagerWebhook(
  input: {
    status?: string;
    receiver?: string;
    alerts: {
      status?: string;
      labels: Record<string, string>;
      annotations?: Record<string, string>;
    }[];
  } & Record<string, unknown>,
  now: number,
) {
  const status = input.status ?? 'firing';
  const at = new Date(now).toISOString();
  const alerts = input.alerts.map((a) => {
    const alertStatus = a.status ?? status;
    return {
      startsAt: at,
      endsAt: alertStatus === 'resolved' ? at : '0001-01-01T00:00:00Z',
      generatorURL: 'http://prometheus.invalid/graph',
      fingerprint: createHmac('sha256', 'fingerprint')
        .update(JSON.stringify(a.labels))
        .digest('hex')
        .slice(0, 16),
      annotations: {},
      ...a,
      status: alertStatus,
    };
  });
  const common = alerts[0].labels;
  const { alerts: _alerts, status: _status, receiver, ...rest } = input;
  return {
    receiver: receiver ?? 'alerting-test',
    status,
    alerts,
    groupLabels: { alertname: common.alertname },
    commonLabels: common,
    commonAnnotations: alerts[0].annotations,
    externalURL: 'http://alertmanager.invalid',
    version: '4',
    groupKey: `{}:{alertname="${common.alertname}"}`,
    truncatedAlerts: 0,
    ...rest,
  };
}
