// The tests of reliability.test.ts again, relaying TCP through Node's TCP handles (uv.ts): the
// engine the proxy uses when the native relay is not built or nativeRelay is 0.
process.env.TSLVS_TEST_PROXY_RELAY = 'uv';
await import('./reliability.test.js');
