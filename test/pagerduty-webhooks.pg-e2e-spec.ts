import { randomUUID } from 'node:crypto';
import { FakePagerDuty } from './fakes/pagerduty.fake.js';
import {
  signature,
  webhook,
  WEBHOOK_PATH,
  WEBHOOK_SECRET,
} from './support/pagerduty-webhooks.js';
import {
  createTestApp,
  pagerDutyEnv,
  type TestApp,
} from './support/test-app.js';
import {
  createTestDatabase,
  type TestDatabase,
} from './support/test-database.js';
import { IncidentEvent } from '../src/alerting/incident-event.entity.js';
import { Incident } from '../src/alerting/incident.entity.js';
import { Delivery } from '../src/notifier/delivery.entity.js';
import { PagerDutyWebhookEventRecord } from '../src/pagerduty-webhooks/pagerduty-webhook-event.entity.js';

const ROUNDS = 8;

// PostgreSQL only (collected by the PostgreSQL lane alone): two instances share one database.
describe('PagerDuty webhooks reaching two instances on one PostgreSQL database (e2e)', () => {
  const pd = new FakePagerDuty();
  let db: TestDatabase;
  let a: TestApp;
  let b: TestApp;

  beforeAll(async () => {
    await pd.start();
    db = await createTestDatabase();
    const env = {
      ...pagerDutyEnv(pd),
      NOTIFIERS: 'pagerduty,log',
      PAGERDUTY_WEBHOOK_SECRETS: WEBHOOK_SECRET,
    };
    a = await createTestApp({ db, env });
    b = await createTestApp({ db, env });
  });
  afterAll(async () => {
    await b?.close();
    await a?.close();
    await pd.stop();
    await db?.drop();
  });

  const deliver = (t: TestApp, body: string) =>
    t
      .http()
      .post(WEBHOOK_PATH)
      .set('Content-Type', 'application/json')
      .set('X-PagerDuty-Signature', signature(body))
      .send(body)
      .expect(202);

  async function firing(): Promise<{ key: string; incidentId: string }> {
    const key = `pd-two-instances-${randomUUID()}`;
    const res = await a.api
      .post('/v1/alerts')
      .send({ severity: 'critical', alarmName: 'RouterErrors', dedupKey: key })
      .expect(202);
    return { key, incidentId: res.body.results[0].incidentId };
  }

  it.each([
    ['incident.acknowledged', 'acknowledged', 'acknowledge'],
    ['incident.resolved', 'resolved', 'resolve'],
  ] as const)(
    'the same %s reaching both at once is applied once',
    async (type, status, action) => {
      const incidents = await Promise.all(
        Array.from({ length: ROUNDS }, () => firing()),
      );
      const outcomes: string[] = [];
      await Promise.all(
        incidents.map(async ({ key }) => {
          const { body } = webhook(type, {
            key,
            at: new Date(Date.now() + 1000),
          });
          const answers = await Promise.all([
            deliver(a, body),
            deliver(b, body),
          ]);
          outcomes.push(
            answers
              .map((r: { body: { outcome: string } }) => r.body.outcome)
              .sort((x, y) => x.localeCompare(y))
              .join('+'),
          );
        }),
      );
      // the loser sees the event id (acknowledge) or no open incident any more (resolve)
      expect(outcomes).toHaveLength(ROUNDS);
      for (const o of outcomes)
        expect(o).toMatch(/^applied\+(duplicate|ignored)$/);

      const ids = incidents.map((i) => i.incidentId);
      for (const incidentId of ids) {
        const incident = await a.dataSource
          .getRepository(Incident)
          .findOneByOrFail({ id: incidentId });
        expect(incident.status).toBe(status);
        const timeline = await a.dataSource
          .getRepository(IncidentEvent)
          .findBy({ incidentId });
        expect(timeline.filter((e) => e.type === status)).toHaveLength(1);
        expect(
          await a.dataSource
            .getRepository(PagerDutyWebhookEventRecord)
            .countBy({ incidentId }),
        ).toBe(1);
        const rows = await a.dataSource
          .getRepository(Delivery)
          .findBy({ incidentId, action });
        expect(rows.map((d) => d.notifier)).toEqual(['log']);
      }
      // and a redelivery afterwards, to either instance, is still a no-op
      const { body } = webhook(type, {
        key: incidents[0].key,
        id: (
          await a.dataSource
            .getRepository(PagerDutyWebhookEventRecord)
            .findOneByOrFail({ incidentId: ids[0] })
        ).eventId,
        at: new Date(Date.now() + 1000),
      });
      const again = await deliver(b, body);
      expect(again.body.outcome).not.toBe('applied');
    },
  );
});
