import { describeHostExample } from './support/host-example.js';

// examples/host-express from the packed tarball, on PostgreSQL (see test/support/host-example.ts).
describeHostExample('express');
