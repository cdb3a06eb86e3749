// The rule a process is admitted by (the registration itself runs across real processes in
// test/api/multi-replica.test.ts), the fingerprints, and TRUST_PROXY's parsing.
import fs from 'node:fs';
import path from 'node:path';
import { admit, differingGroups, settingsFingerprints } from '../../src/config/settings-agreement';
import { CrmRegistry, crmRegistryFromFile } from '../../src/crm/registry';
import { loadPlatformConfig } from '../../src/platform/config';
import { ConfigError } from '../../src/platform/env';
import { localKeyConfig } from '../../rigs/keys';
import { loadOrCreateLocalKeys, rotateLocalKey } from '../../src/security/keys';
import { tempDir } from '../../rigs/temp';

const dir = tempDir('settings-agreement');
const process = (generation: number, groups: Record<string, string>) => ({ processId: `p-${generation}`, role: 'api', generation, groups });

test('same fingerprints join at any generation; differing ones only from a higher generation, naming the groups', () => {
  const old = process(1, { 'crm-integrations': 'a', 'payload-codec-key': 'k' });
  expect(() => admit(process(0, { 'crm-integrations': 'a', 'payload-codec-key': 'k' }), [old])).not.toThrow();
  expect(() => admit(process(2, { 'crm-integrations': 'b', 'payload-codec-key': 'k' }), [old])).not.toThrow();
  expect(() => admit(process(1, { 'crm-integrations': 'b', 'payload-codec-key': 'k' }), [old])).toThrow(ConfigError);
  expect(() => admit(process(0, { 'crm-integrations': 'b', 'payload-codec-key': 'x' }), [old])).toThrow(/CRM integrations registry.*payload codec key.*above 1/);
  // A group one of them does not use is not compared (the worker has no secured-data key).
  expect(differingGroups({ 'secured-data-key': 's', 'payload-codec-key': 'k' }, { 'payload-codec-key': 'k' })).toEqual([]);
});

test('fingerprints: the CRM credential and the key material never enter them; another key file or endpoint changes them', () => {
  const registry = (baseUrl: string, secret: string) => {
    const file = path.join(dir, `crm-${Math.random().toString(36).slice(2)}.json`);
    fs.writeFileSync(file, JSON.stringify({ configurations: { c1: { baseUrl, auth: { header: 'X-Api-Key', secretEnv: 'S' }, workflows: ['w'], defaultTimeoutMs: 1000, maxTimeoutMs: 2000 } } }));
    return crmRegistryFromFile(file, { S: secret }, dir);
  };
  for (const name of ['keys-a.json', 'keys-b.json']) loadOrCreateLocalKeys(path.join(dir, name));
  const keys = localKeyConfig(path.join(dir, 'keys-a.json'));
  const base = settingsFingerprints({ crm: registry('https://crm.example.com', 'one'), keys, role: 'api' });
  // The credential is not a setting to agree on by fingerprint (it is per process and secret).
  expect(settingsFingerprints({ crm: registry('https://crm.example.com', 'two'), keys, role: 'api' })).toEqual(base);
  expect(settingsFingerprints({ crm: registry('https://other.example.com', 'one'), keys, role: 'api' })['crm-integrations']).not.toBe(base['crm-integrations']);
  const otherKeys = settingsFingerprints({ crm: registry('https://crm.example.com', 'one'), keys: localKeyConfig(path.join(dir, 'keys-b.json')), role: 'api' });
  expect(otherKeys['payload-codec-key']).not.toBe(base['payload-codec-key']);
  expect(otherKeys['secured-data-key']).not.toBe(base['secured-data-key']);
  expect(settingsFingerprints({ crm: CrmRegistry.empty(), keys, role: 'worker' })['secured-data-key']).toBeUndefined();
  // A rotation adds a key in front; the file is still the same one, so running processes keep agreeing.
  rotateLocalKey(path.join(dir, 'keys-a.json'));
  expect(settingsFingerprints({ crm: registry('https://crm.example.com', 'one'), keys, role: 'api' })).toEqual(base);
});

test('TRUST_PROXY: addresses, CIDR ranges and proxy-addr names; anything else refused by name', () => {
  expect(loadPlatformConfig({}).trustProxy).toBeUndefined();
  expect(loadPlatformConfig({ TRUST_PROXY: '10.0.0.0/8, 127.0.0.1,::1,loopback' }).trustProxy).toEqual(['10.0.0.0/8', '127.0.0.1', '::1', 'loopback']);
  for (const bad of ['true', '2', '10.0.0.0/33', 'nginx']) expect(() => loadPlatformConfig({ TRUST_PROXY: bad })).toThrow(/TRUST_PROXY/);
});

test("TEMPORAL_DEV_METRICS_PORT: the embedded dev server's metrics port, none when unset; anything but a port refused by name", () => {
  expect(loadPlatformConfig({}).devServerMetricsPort).toBeUndefined();
  expect(loadPlatformConfig({ TEMPORAL_DEV_METRICS_PORT: ' ' }).devServerMetricsPort).toBeUndefined();
  expect(loadPlatformConfig({ TEMPORAL_DEV_METRICS_PORT: '9091' }).devServerMetricsPort).toBe(9091);
  for (const bad of ['0', '70000', 'yes', '-1']) expect(() => loadPlatformConfig({ TEMPORAL_DEV_METRICS_PORT: bad })).toThrow(/TEMPORAL_DEV_METRICS_PORT/);
});
