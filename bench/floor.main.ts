// The floor: the bare endpoint plus only the durable part of ingesting a new alert, done
// as cheaply as this schema allows: raw better-sqlite3 prepared statements inserting the
// same three rows the service writes (incident, timeline event, outbox delivery) with the
// same indexes, one commit per group of requests, 202 after that commit. No auth,
// validation, logging, TypeORM or delivery. What the service can never beat on SQLite.
// FLOOR_CHECKS=1 adds the alert's class-validator check (the DTO the service uses);
// FLOOR_PD_URL also POSTs each trigger to PagerDuty after the commit (outcome not kept).
// FLOOR_FULL=1 (with FLOOR_PD_URL) is the floor of everything a new alert must cost here:
// the API key checked, the alert validated, one request log line, the three rows, the
// trigger POSTed by the service's own PagerDuty client, and its outcome committed, as
// cheaply as each can be done beside Nest's router (the delivery's claim, routing,
// metrics, security headers, the throttler and the repeat cache are left out).
import { createHash, timingSafeEqual } from 'node:crypto';
import { Agent, request } from 'node:http';
import {
  BadRequestException,
  Body,
  Controller,
  HttpCode,
  Module,
  Post,
} from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import {
  FastifyAdapter,
  type NestFastifyApplication,
} from '@nestjs/platform-fastify';
import { DataSource } from 'typeorm';
import type { Database } from 'better-sqlite3';
import { dataSourceOptions } from '../src/database/data-source.options.js';
import { uuidv7 } from '../src/database/uuid7.js';
import { AlertDto } from '../src/alerting/dto/alert.dto.js';
import { collectDtoErrors } from '../src/ops/validation.js';
import { validateAlerts } from '../src/alerting/alert-validation.js';
import type { AlertInput } from '../src/alerting/alert.types.js';
import { PagerDutyClient } from '../src/pagerduty/pagerduty.client.js';
import { pino } from 'pino';

const FULL = process.env.FLOOR_FULL === '1';
const CHECKS = process.env.FLOOR_CHECKS === '1';

const dataSource = new DataSource(
  dataSourceOptions(`sqlite:${process.env.FLOOR_DATABASE}`),
);
await dataSource.initialize();
await dataSource.runMigrations();
const db = (dataSource.driver as unknown as { databaseConnection: Database })
  .databaseConnection;

const insertIncident = db.prepare(
  `INSERT INTO incidents (id, dedup_key, open_key, status, severity, alarm_name, metric_name,
     threshold, current_value, environment, description, recommendations, links,
     custom_details, alert_timestamp, occurrences, notifier_context, ingest_source, created_at,
     last_seen_at)
   VALUES (?, ?, ?, 'triggered', ?, ?, ?, ?, ?, 'production', ?, '[]', '[]', '{}', ?, 1, ?, 'http', ?, ?)`,
);
const insertEvent = db.prepare(
  `INSERT INTO incident_events (id, incident_id, at, type, detail) VALUES (?, ?, ?, 'triggered', '{"source":"http"}')`,
);
const insertDelivery = db.prepare(
  `INSERT INTO deliveries (notifier, dedup_key, incident_id, action, payload, state, attempts,
     next_attempt_at, created_at)
   VALUES ('pagerduty', ?, ?, 'trigger', ?, 'pending', 0, ?, ?)`,
);
const ROUTING_KEY = '0123456789abcdef0123456789abcdef';

interface Alert {
  severity: string;
  alarmName: string;
  metricName: string;
  threshold: number;
  currentValue: number;
  description: string;
}

interface Queued {
  alert: Alert;
  done: () => void;
  deliveryId?: number;
}
let queue: Queued[] = [];
function commit() {
  const group = queue;
  queue = [];
  db.exec('BEGIN');
  for (const item of group) {
    const a = item.alert;
    const now = new Date().toISOString();
    const id = uuidv7();
    const key = `${a.alarmName}-${a.metricName}`;
    insertIncident.run(
      id,
      key,
      key,
      a.severity,
      a.alarmName,
      a.metricName,
      a.threshold,
      a.currentValue,
      a.description,
      now,
      JSON.stringify({ pagerduty: { routingKey: ROUTING_KEY } }),
      now,
      now,
    );
    insertEvent.run(uuidv7(), id, now);
    const delivery = insertDelivery.run(
      key,
      id,
      JSON.stringify({
        incident: { id, dedupKey: key, ...a },
        context: { pagerduty: { routingKey: ROUTING_KEY } },
      }),
      now,
      now,
    );
    item.deliveryId = Number(delivery.lastInsertRowid);
  }
  db.exec('COMMIT');
  for (const item of group) item.done();
  if (FULL) for (const item of group) void deliverRecorded(item);
  else if (PD_URL) for (const item of group) deliver(item.alert);
}

// FLOOR_PD_URL: also send each trigger (one keep-alive POST, no outcome recorded).
const PD_URL = process.env.FLOOR_PD_URL;
const agent = new Agent({ keepAlive: true, maxSockets: 32 });
function deliver(a: Alert) {
  const body = JSON.stringify({
    routing_key: ROUTING_KEY,
    event_action: 'trigger',
    dedup_key: `${a.alarmName}-${a.metricName}`,
    payload: { summary: a.description, source: 'floor', severity: 'critical' },
  });
  const req = request(
    PD_URL!,
    {
      method: 'POST',
      agent,
      headers: {
        'content-type': 'application/json',
        'content-length': Buffer.byteLength(body),
      },
    },
    (res) => res.resume(),
  );
  req.on('error', () => undefined);
  req.end(body);
}

// FLOOR_FULL: the service's client, then the outcome committed with the others of its turn
const client = new PagerDutyClient({ eventsUrl: PD_URL ?? '' });
const markDelivered = db.prepare(
  `UPDATE deliveries SET state = 'delivered', attempts = 1, delivered_at = ?, last_response = ?
   WHERE id = ?`,
);
let outcomes: { id: number; response: string }[] = [];
async function deliverRecorded(item: Queued) {
  const a = item.alert;
  try {
    const answer = await client.send({
      routing_key: ROUTING_KEY,
      event_action: 'trigger',
      dedup_key: `${a.alarmName}-${a.metricName}`,
      payload: {
        summary: `[PRODUCTION] ${a.alarmName}: ${a.description}`,
        source: 'floor',
        severity: 'critical',
        timestamp: new Date().toISOString(),
        component: 'floor',
        group: 'production',
        custom_details: { ...a },
      },
      links: [],
      client: 'floor',
    });
    if (outcomes.length === 0) setImmediate(recordOutcomes);
    outcomes.push({
      id: item.deliveryId!,
      response: JSON.stringify(answer.body),
    });
  } catch {
    // the floor keeps no retry: the bench's fake answers 202
  }
}
function recordOutcomes() {
  const batch = outcomes;
  outcomes = [];
  const now = new Date().toISOString();
  db.exec('BEGIN');
  for (const o of batch) markDelivered.run(now, o.response, o.id);
  db.exec('COMMIT');
}

@Controller()
class FloorController {
  @Post('v1/alerts')
  @HttpCode(202)
  async accept(@Body() body: Alert | Alert[]) {
    const list = Array.isArray(body) ? body : [body];
    if (CHECKS) {
      const errors = list.flatMap((a) => collectDtoErrors(AlertDto, a).errors);
      if (errors.length > 0) throw new BadRequestException(errors);
    }
    // the service's own validation: its fast path for the usual alert, the same messages
    if (FULL)
      validateAlerts(
        list.map((alert) => ({
          alert: alert as AlertInput,
          meta: { source: 'http' },
        })),
        new Date(),
      );
    await Promise.all(
      list.map(
        (alert) =>
          new Promise<void>((done) => {
            if (queue.length === 0) setImmediate(commit);
            queue.push({ alert, done });
          }),
      ),
    );
    return {
      results: list.map((a) => ({
        dedupKey: `${a.alarmName}-${a.metricName}`,
        action: 'triggered',
      })),
    };
  }
}

@Module({ controllers: [FloorController] })
class FloorModule {}

const app = await NestFactory.create<NestFastifyApplication>(
  FloorModule,
  new FastifyAdapter(),
  { logger: false },
);
if (FULL) {
  // the API key as the service compares it (digests, timingSafeEqual), and its log line
  const digest = (value: string) =>
    createHash('sha256').update(value, 'utf8').digest();
  const key = digest(process.env.FLOOR_API_KEY ?? '');
  const log = pino({ level: 'info' });
  const fastify = app.getHttpAdapter().getInstance();
  fastify.addHook('onRequest', (req, reply, done) => {
    const presented = req.headers['x-api-key'];
    if (
      typeof presented !== 'string' ||
      !timingSafeEqual(digest(presented), key)
    ) {
      void reply.code(401).send({ message: 'a valid API key is required' });
      return;
    }
    done();
  });
  fastify.addHook('onResponse', (req, reply, done) => {
    log.info(
      {
        req: {
          id: req.id,
          method: req.method,
          url: req.url,
          remoteAddress: req.ip,
        },
        res: { statusCode: reply.statusCode },
        responseTime: Math.round(reply.elapsedTime),
      },
      'request completed',
    );
    done();
  });
}
await app.listen(Number(process.env.PORT), '127.0.0.1');
