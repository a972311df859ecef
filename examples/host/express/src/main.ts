import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import {
  installGracefulShutdown,
  useAlertingBodyParsers,
} from 'orchestrator-alerting';
import { AppModule } from './app.module.js';

const app = await NestFactory.create<NestExpressApplication>(AppModule);
// Express reads 100 KB of JSON and no text/plain by default: 1 MiB and SNS's text/plain here.
useAlertingBodyParsers(app);
// SIGTERM: stop accepting, drain deliveries in flight, close the connections, exit 0.
installGracefulShutdown(app);
const port = Number(process.env.PORT ?? 3000);
await app.listen(port, process.env.HOST ?? '127.0.0.1');
console.log(`host-express listening on ${port}`);
