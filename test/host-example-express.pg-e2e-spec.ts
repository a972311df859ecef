import { describeHostExample } from './support/host-example.js';

// examples/host on Express from the packed tarball, on PostgreSQL (see test/support/host-example.ts).
describeHostExample('express');
