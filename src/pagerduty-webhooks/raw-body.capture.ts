import { Injectable, type OnModuleInit } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { PassThrough, type Readable } from 'node:stream';

/** `@RouteConfig({ [RAW_BODY]: true })` keeps that route's body bytes as they arrived. */
export const RAW_BODY = 'alertingRawBody';

const rawBodies = new WeakMap<FastifyRequest, Buffer>();
const hooked = new WeakSet<object>();

/** The bytes of a `RAW_BODY` route's request, before any parser touched them. */
export function rawBodyOf(request: FastifyRequest): Buffer | undefined {
  return rawBodies.get(request);
}

/**
 * Signatures are over the exact bytes sent, which no re-serialization of the parsed JSON
 * reproduces. Fastify cannot scope a parser to a route registered by Nest, so one
 * preParsing hook tees the body of the routes that ask for it; the others pass straight
 * through. Registered at module init: Fastify attaches hooks to routes when it gets ready.
 */
@Injectable()
export class RawBodyCapture implements OnModuleInit {
  constructor(private readonly adapterHost: HttpAdapterHost) {}

  onModuleInit(): void {
    const instance = this.adapterHost.httpAdapter?.getInstance?.() as
      FastifyInstance | undefined;
    if (typeof instance?.addHook !== 'function' || hooked.has(instance)) return;
    hooked.add(instance);
    instance.addHook('preParsing', (request, _reply, payload, done) => {
      if (
        (request.routeOptions.config as unknown as Record<string, unknown>)?.[
          RAW_BODY
        ] !== true
      )
        return done(null, payload);
      capture(request, payload, done);
    });
  }
}

function capture(
  request: FastifyRequest,
  payload: Readable,
  done: (error: Error | null, payload?: Readable) => void,
): void {
  const limit = request.routeOptions.bodyLimit ?? 1024 * 1024;
  const chunks: Buffer[] = [];
  let size = 0;
  let finished = false;
  const finish = (error: Error | null, stream?: Readable) => {
    if (finished) return;
    finished = true;
    done(error, stream);
  };
  const tooLarge = () => {
    // Drained, not destroyed: the client still gets its 413.
    payload.removeAllListeners('data');
    payload.resume();
    finish(
      Object.assign(new Error('Request body is too large'), {
        statusCode: 413,
        code: 'FST_ERR_CTP_BODY_TOO_LARGE',
      }),
    );
  };
  if (Number(request.headers['content-length']) > limit) return tooLarge();
  payload.on('data', (chunk: Buffer) => {
    size += chunk.length;
    if (size > limit) return tooLarge();
    chunks.push(chunk);
  });
  payload.on('error', (error) => finish(error));
  payload.on('end', () => {
    const raw = Buffer.concat(chunks, size);
    rawBodies.set(request, raw);
    const replay = Object.assign(new PassThrough(), {
      receivedEncodedLength: raw.length,
    });
    replay.end(raw);
    finish(null, replay);
  });
}
