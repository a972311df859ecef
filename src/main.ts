import { NestFactory } from '@nestjs/core';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { AppModule } from './app.module.js';
import { configureApp, createAdapter } from './app.setup.js';
import { ConfigValidationError, loadAlertingConfig } from './config/alerting.config.js';

async function bootstrap() {
  let config;
  try {
    config = loadAlertingConfig(process.env);
  } catch (error) {
    if (error instanceof ConfigValidationError) {
      process.stderr.write(`${error.message}\n`);
      process.exit(1);
    }
    throw error;
  }
  const app = await NestFactory.create<NestFastifyApplication>(AppModule.forRoot(process.env), createAdapter());
  configureApp(app);
  await app.listen(config.port, config.host);
}
await bootstrap();
