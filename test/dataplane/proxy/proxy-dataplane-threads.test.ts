// The tests of proxy-dataplane.test.ts again, with two relay threads (setting threads 2): the core's
// thread accepts and schedules, the relay threads connect and relay (when the native relay is
// built; without it the setting has no effect and this is the same as proxy-dataplane.test.ts).
process.env.TSLVS_TEST_PROXY_RELAY = 'threads';
await import('./proxy-dataplane.test.js');
