import { describeHostExample } from './support/host-example.js';

// examples/host on Fastify from the packed tarball, on PostgreSQL (see test/support/host-example.ts).
describeHostExample('fastify');
