// The worker's registry: export outcomes and the worker's own KMS calls are exported, next to the
// flush outcomes (the end-to-end scrape of a real worker is test/operator/dashboard-metrics.test.ts).
import { WorkerMetrics } from '../../src/platform/metrics';
import { KmsCallCounter } from '../../src/security/kms';

test('parley_export_total counts export attempts by outcome, and parley_kms_calls the worker’s KMS calls and failures', async () => {
  const kmsCalls = new KmsCallCounter();
  const metrics = new WorkerMetrics(undefined, { kmsCalls });
  // Declared before any export: a dashboard sees the family from the first scrape.
  expect(await metrics.registry.metrics()).toMatch(/^# TYPE parley_export_total counter$/m);

  metrics.exported('written');
  metrics.exported('written');
  metrics.exported('already_written');
  metrics.exported('failed');
  kmsCalls.record('GenerateDataKeyCommand', false);
  kmsCalls.record('DecryptCommand', true);

  const text = await metrics.registry.metrics();
  expect(text).toMatch(/^parley_export_total\{outcome="written"\} 2$/m);
  expect(text).toMatch(/^parley_export_total\{outcome="already_written"\} 1$/m);
  expect(text).toMatch(/^parley_export_total\{outcome="failed"\} 1$/m);
  expect(text).not.toMatch(/^parley_export_total\{outcome="conflict"\}/m);
  expect(text).toMatch(/^parley_kms_calls\{operation="generateDataKey"\} 1$/m);
  expect(text).toMatch(/^parley_kms_calls\{operation="decrypt"\} 1$/m);
  expect(text).toMatch(/^parley_kms_calls\{operation="failed"\} 1$/m);
});

test('a worker without KMS counting exports no parley_kms_calls', async () => {
  expect(await new WorkerMetrics().registry.metrics()).not.toContain('parley_kms_calls');
});
