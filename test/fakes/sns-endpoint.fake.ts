// The doubles ship in the package's testing entry (src/testing); the e2e suites keep this path.
export * from '../../src/testing/fake-sns-endpoint.js';
