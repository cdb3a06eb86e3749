// The operator files in deploy/ (the Grafana dashboard, the Prometheus alert rules and scrape
// configuration) against what Parley really exports: a real worker process and the HTTP API carry
// one conversation through to its export, then every metric name a panel or an alert uses must be
// on one of the three /metrics pages (the API's, the worker's, the worker's Temporal SDK endpoint).
// promtool, when installed, checks the rule file, runs its unit tests, and checks the scrape config.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { workflowIdFor } from '../../src/conversation/messages';
import { projectRoot } from '../../src/platform/config';
import { type ApiStack, startApiStack } from '../../rigs/api-stack';
import { testCredentials } from '../../rigs/credentials';
import { freePort } from '../../rigs/ports';
import { uniqueId } from '../../rigs/temp';
import { waitFor } from '../../rigs/wait';
import { ensureWorkerBuilt } from '../../rigs/worker-process';
import { alertRules, exportedMetrics, isExported, metricNamesIn, type ExportedMetrics } from '../support/promql';

const DEPLOY = path.join(projectRoot(), 'deploy');
const DASHBOARD_FILE = path.join(DEPLOY, 'grafana', 'parley-dashboard.json');
const ALERTS_FILE = path.join(DEPLOY, 'prometheus', 'parley-alerts.yml');
const ALERTS_TEST_FILE = path.join(DEPLOY, 'prometheus', 'parley-alerts.test.yml');
const SCRAPE_FILE = path.join(DEPLOY, 'prometheus', 'prometheus.yml');
const OPERATIONS_DOC = path.join(projectRoot(), 'docs', 'operations.md');
/** Series Prometheus makes itself for every target, exported by no endpoint. */
const SYNTHETIC = new Set(['up']);

interface Target {
  refId: string;
  expr: string;
  datasource?: { type?: string; uid?: string };
}
interface Panel {
  id: number;
  type: string;
  title: string;
  datasource?: { type?: string; uid?: string };
  targets?: Target[];
  panels?: Panel[];
}
interface Dashboard {
  schemaVersion: number;
  title: string;
  uid: string;
  __inputs?: Array<{ name: string; type: string; pluginId: string }>;
  templating?: { list: Array<{ name: string; type: string; query?: string }> };
  panels: Panel[];
}

const dashboard = JSON.parse(fs.readFileSync(DASHBOARD_FILE, 'utf8')) as Dashboard;
const alertsYaml = fs.readFileSync(ALERTS_FILE, 'utf8');
const rules = alertRules(alertsYaml);
/** Rows may nest their panels when collapsed; every panel counts. */
const allPanels: Panel[] = dashboard.panels.flatMap((p) => [p, ...(p.panels ?? [])]);
const queryPanels = allPanels.filter((p) => p.type !== 'row');

/** Every metric name the dashboard and the rules use, with where each is used. */
function referencedMetrics(): Map<string, string[]> {
  const uses = new Map<string, string[]>();
  const note = (name: string, where: string): void => void uses.set(name, [...(uses.get(name) ?? []), where]);
  for (const panel of queryPanels) for (const target of panel.targets ?? []) for (const name of metricNamesIn(target.expr)) note(name, `panel "${panel.title}" (${target.refId})`);
  for (const rule of rules) for (const name of metricNamesIn(rule.expr)) note(name, `alert ${rule.alert}`);
  return uses;
}

function findPromtool(): string | undefined {
  const candidates = [process.env.PROMTOOL_PATH, ...(process.env.PATH ?? '').split(path.delimiter).map((dir) => dir && path.join(dir, 'promtool')), path.join(projectRoot(), '.tools', 'bin', 'promtool')];
  return candidates.find((file): file is string => !!file && fs.existsSync(file));
}

function promtool(bin: string, args: string[]): string {
  try {
    return execFileSync(bin, args, { cwd: path.dirname(ALERTS_FILE), encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (err) {
    const out = err as { stdout?: string; stderr?: string };
    throw new Error(`promtool ${args.join(' ')} failed:\n${out.stdout ?? ''}${out.stderr ?? String(err)}`);
  }
}

describe('the loose PromQL reader', () => {
  test('finds series names, not functions, labels, keywords, ranges or Grafana variables', () => {
    expect(metricNamesIn('histogram_quantile(0.99, sum by (route, le) (rate(x_seconds_bucket{route=~"/a|/b",status="5.."}[$__rate_interval]))) > 1')).toEqual(['x_seconds_bucket']);
    expect(metricNamesIn('(sum(a{t="w"}) or vector(0)) == 0 and on(job) b offset 5m unless c[5m:1m]')).toEqual(['a', 'b', 'c']);
    expect(metricNamesIn('sum(increase(f{o="failed"}[15m])) > sum without (instance) (increase(f{o=~"applied"}[15m]))')).toEqual(['f']);
  });

  test('counts a histogram series as exported when its family is, and nothing else', () => {
    const page = exportedMetrics('# TYPE h histogram\n# TYPE c counter\nc 1\n# TYPE g gauge\n');
    expect(['h_bucket', 'h_count', 'c', 'c_total', 'g'].filter((name) => !isExported(name, [page]))).toEqual([]);
    expect(['g_bucket', 'h_total', 'missing'].filter((name) => isExported(name, [page]))).toEqual([]);
  });
});

describe('the Grafana dashboard', () => {
  test('is a schema-39 dashboard whose every query panel reads the ${DS_PROMETHEUS} data source', () => {
    expect(dashboard).toMatchObject({ schemaVersion: 39, title: 'Parley', uid: expect.any(String) });
    expect(dashboard.__inputs).toEqual([expect.objectContaining({ name: 'DS_PROMETHEUS', type: 'datasource', pluginId: 'prometheus' })]);
    expect(dashboard.templating?.list).toContainEqual(expect.objectContaining({ name: 'DS_PROMETHEUS', type: 'datasource', query: 'prometheus' }));
    const ids = allPanels.map((p) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
    const broken = queryPanels.flatMap((panel) => {
      const problems: string[] = [];
      if (panel.datasource?.uid !== '${DS_PROMETHEUS}') problems.push('panel datasource is not ${DS_PROMETHEUS}');
      if (!panel.targets?.length) problems.push('no targets');
      const refIds = (panel.targets ?? []).map((t) => t.refId);
      if (new Set(refIds).size !== refIds.length) problems.push('duplicate refId');
      for (const target of panel.targets ?? []) {
        if (!target.expr?.trim()) problems.push(`${target.refId}: no expr`);
        if (target.datasource && target.datasource.uid !== '${DS_PROMETHEUS}') problems.push(`${target.refId}: datasource is not \${DS_PROMETHEUS}`);
        if (metricNamesIn(target.expr ?? '').length === 0) problems.push(`${target.refId}: uses no metric`);
      }
      return problems.map((problem) => `"${panel.title}": ${problem}`);
    });
    expect(broken).toEqual([]);
  });

  test('has a panel for each thing an operator watches', () => {
    const used = (name: string) => queryPanels.filter((p) => (p.targets ?? []).some((t) => metricNamesIn(t.expr).includes(name))).map((p) => p.title);
    for (const name of [
      'parley_http_requests_total',
      'parley_http_request_duration_seconds_bucket',
      'parley_flush_total',
      'parley_open_conversations',
      'parley_kms_calls',
      'parley_worker_slots',
      'temporal_worker_task_slots_used',
      'temporal_workflow_task_schedule_to_start_latency_bucket',
      'temporal_activity_schedule_to_start_latency_bucket',
      'parley_export_total',
    ]) {
      expect({ name, panels: used(name).length > 0 }).toEqual({ name, panels: true });
    }
    expect(queryPanels.some((p) => (p.targets ?? []).some((t) => /route=~"\/webhooks\/\.\*"/.test(t.expr) && /status/.test(t.expr)))).toBe(true);
  });
});

describe('the Prometheus alert rules', () => {
  test('each alert waits (for:), has a severity, and tells the operator what to do with a link into operations.md', () => {
    const doc = fs.readFileSync(OPERATIONS_DOC, 'utf8');
    expect(rules.length).toBeGreaterThanOrEqual(10);
    const problems = rules.flatMap((rule) => {
      const missing: string[] = [];
      if (!/^\s+for:\s*\d+[smh]\s*$/m.test(rule.text)) missing.push('for:');
      if (!/^\s+severity:\s*(critical|warning)\s*$/m.test(rule.text)) missing.push('severity label');
      if (!/^\s+summary:/m.test(rule.text)) missing.push('summary');
      if (!/^\s+description:/m.test(rule.text)) missing.push('description');
      const anchor = `docs/operations.md#${rule.alert.toLowerCase()}`;
      if (!rule.text.includes(anchor)) missing.push(`link ${anchor}`);
      // The anchor exists: a heading named after the alert.
      if (!new RegExp(`^#+ ${rule.alert}$`, 'm').test(doc)) missing.push(`a "${rule.alert}" heading in docs/operations.md`);
      if (!rule.expr) missing.push('expr');
      return missing.map((what) => `${rule.alert}: ${what}`);
    });
    expect(problems).toEqual([]);
    const names = rules.map((r) => r.alert);
    expect(new Set(names).size).toBe(names.length);
  });

  test('promtool checks the rules, runs their unit tests, and checks the scrape configuration', () => {
    const bin = findPromtool();
    if (!bin) {
      console.warn(
        'SKIPPED promtool checks: no promtool found (PROMTOOL_PATH, PATH, .tools/bin/promtool). Install it from Debian: `apt-get install prometheus` (or extract promtool from the .deb); .ci/run installs it.',
      );
      return;
    }
    expect(promtool(bin, ['check', 'rules', ALERTS_FILE])).toMatch(new RegExp(`SUCCESS: ${rules.length} rules found`));
    expect(promtool(bin, ['test', 'rules', ALERTS_TEST_FILE])).toMatch(/SUCCESS/);
    // --syntax-only: the token file the example names exists only on a real Prometheus host.
    expect(promtool(bin, ['check', 'config', '--syntax-only', SCRAPE_FILE])).toMatch(/SUCCESS/);
  });
});

describe('against a running worker and API', () => {
  const credentials = testCredentials();
  let stack: ApiStack;
  let ports: { health: number; sdk: number };

  beforeAll(async () => {
    ensureWorkerBuilt();
    stack = await startApiStack({ name: 'dashboard', credentials, conversation: { closedGracePeriodMs: 0 }, worker: false });
    ports = { health: await freePort(), sdk: await freePort() };
    // The export through its own workflow (EXPORT_INLINE_WRITE_MS=0, as when a destination is slow):
    // a voice conversation's end otherwise runs no regular activity, and the SDK exports its activity
    // schedule-to-start histogram only once one has run.
    await stack.spawnWorker('dashboard-worker', { WORKER_HEALTH_PORT: String(ports.health), TEMPORAL_METRICS_PORT: String(ports.sdk), EXPORT_INLINE_WRITE_MS: '0' });
  }, 120_000);

  afterAll(() => stack?.stop());

  test('every metric a dashboard panel or an alert rule uses is exported by the API, the worker or its Temporal SDK endpoint', async () => {
    // One conversation to its export, so the counters and histograms have samples.
    const id = uniqueId('dashboard');
    const event = (eventType: string, second: number) => ({ eventId: uniqueId('evt'), eventType, conversationId: id, taskId: 'task-1', channel: 'chat', occurredAt: new Date(Date.UTC(2026, 10, 27, 11, 0, second)).toISOString() });
    const post = (url: string, body: unknown) => stack.fetch(url, { method: 'POST', body });
    expect((await post('/webhooks/routing-events', event('CREATED', 0))).status).toBe(202);
    expect((await post(`/conversations/${id}/attributes`, { attributes: { Tier: 'gold' } })).status).toBe(200);
    expect((await post('/webhooks/routing-events', event('CLOSED', 1))).status).toBe(202);
    await stack.client.workflow.getHandle(workflowIdFor(id)).result();

    let worker = '';
    await waitFor('the flush and the export in the worker metrics', async () => {
      worker = await (await fetch(`http://127.0.0.1:${ports.health}/metrics`)).text();
      return /^parley_flush_total\{outcome="applied"\} 1$/m.test(worker) && /^parley_export_total\{outcome="written"\} 1$/m.test(worker);
    }, { timeoutMs: 60_000 });
    const api = await stack.fetch('/metrics');
    expect(api.status).toBe(200);
    const sdk = await fetch(`http://127.0.0.1:${ports.sdk}/metrics`);
    expect(sdk.status).toBe(200);
    const pages: Record<string, ExportedMetrics> = { api: exportedMetrics(await api.text()), worker: exportedMetrics(worker), 'worker SDK': exportedMetrics(await sdk.text()) };

    const referenced = referencedMetrics();
    expect(referenced.size).toBeGreaterThan(10);
    const missing = [...referenced].filter(([name]) => !SYNTHETIC.has(name) && !isExported(name, Object.values(pages))).map(([name, where]) => `${name} (used by ${where.join(', ')})`);
    expect(missing).toEqual([]);
  });
});
