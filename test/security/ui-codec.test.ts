// The Temporal UI decoding Parley's history in a real browser: the dev server's UI points at a real
// codec server (the plugin on an in-process API) whose codec is the one the worker and client use.
// An operator who signed in sees a plain attribute decoded; a browser that did not sign in sees the
// payloads still encoded; the plaintext of a secured value shows up in neither, only its ciphertext.
import fs from 'node:fs';
import path from 'node:path';
import Fastify, { type FastifyInstance } from 'fastify';
import { Client, Connection } from '@temporalio/client';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { type DevServer, startDevServer } from '../../src/platform/dev-server';
import { TokenAuthenticator } from '../../src/security/auth';
import { codecServer, operatorAccess } from '../../src/security/codec-server';
import { createKeyServices, type KeyServices } from '../../src/security/key-services';
import { generateToken } from '../../src/security/secrets';
import { setAttributesUpdate, workflowIdFor } from '../../src/conversation/messages';
import { SqliteParticipantDataStore } from '../../src/store';
import { requireBinary } from '../../scripts/temporal-binaries';
import { type InProcessWorker, startInProcessWorker } from '../../rigs/in-process-worker';
import { localKeyConfig } from '../../rigs/keys';
import { silentLogger } from '../../rigs/logs';
import { freePort } from '../../rigs/ports';
import { tempDir, uniqueId } from '../../rigs/temp';
import { routingEvent, sendEvent } from '../support/conversation';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const NAMESPACE = 'default';

jest.setTimeout(240_000);

function requireChromium(): string {
  if (!fs.existsSync(CHROMIUM)) {
    throw new Error(
      `This test drives Debian's Chromium (${CHROMIUM}) and it is missing: install it with \`sudo apt-get install -y chromium\` ` +
        '(or set CHROMIUM_PATH to a Chromium binary). playwright-core never downloads a browser.',
    );
  }
  return CHROMIUM;
}

describe('Temporal UI with the codec server', () => {
  const dir = tempDir('ui-codec');
  const taskQueue = uniqueId('ui-codec');
  const conversationId = uniqueId('conv-ui');
  const plainCanary = `plain-ui-canary-${Math.random().toString(36).slice(2, 10)}`;
  const securedPlaintext = `secured-ui-canary-${Math.random().toString(36).slice(2, 10)}`;
  const operatorToken = generateToken('operator');
  let securedCiphertext: string;
  let runId: string;

  let keys: KeyServices;
  let devServer: DevServer | undefined;
  let api: FastifyInstance | undefined;
  let apiBase: string;
  let uiOrigin: string;
  let connection: Connection | undefined;
  let worker: InProcessWorker | undefined;
  let store: SqliteParticipantDataStore | undefined;
  let browser: Browser | undefined;

  beforeAll(async () => {
    const executablePath = requireChromium();
    keys = createKeyServices(localKeyConfig(path.join(dir, 'keys.json')), { namespace: NAMESPACE });

    const apiPort = await freePort();
    apiBase = `http://127.0.0.1:${apiPort}`;
    const [port, uiPort] = [await freePort(), await freePort()];
    devServer = await startDevServer({
      cliPath: requireBinary('cli'),
      dbFile: path.join(dir, 'temporal.sqlite'),
      port,
      uiPort,
      uiCodecEndpoint: `${apiBase}/codec`,
      logFile: path.join(dir, 'temporal.log'),
    });
    uiOrigin = new URL(devServer.uiUrl!).origin;

    api = Fastify();
    const tokens = new TokenAuthenticator([{ name: 'ops', scopes: ['operator'], token: operatorToken }]);
    await api!.register(codecServer, { codec: keys.codec, ...operatorAccess(tokens), corsOrigins: [uiOrigin], namespace: NAMESPACE });
    await api!.listen({ port: apiPort, host: '127.0.0.1' });

    store = new SqliteParticipantDataStore(path.join(dir, 'participant-data.sqlite'));
    await store.init();
    worker = await startInProcessWorker({
      connection: devServer.address,
      namespace: NAMESPACE,
      taskQueue,
      dataConverter: keys.dataConverter,
      activities: { store, logger: silentLogger },
    });

    connection = await Connection.connect({ address: devServer.address });
    const client = new Client({ connection, namespace: NAMESPACE, dataConverter: keys.dataConverter });
    // As the API does: the routing webhook's signal-with-start, then an attribute write as an update.
    // The secured value is encrypted before it enters Temporal, as the API edge does.
    const handle = await sendEvent(client, taskQueue, routingEvent(conversationId, 'CREATED', 0));
    securedCiphertext = await keys.securedValues.encrypt(conversationId, 'card_last4', securedPlaintext);
    await handle.executeUpdate(setAttributesUpdate, { args: [{ attributes: { customer_tier: plainCanary, card_last4: securedCiphertext } }] });
    runId = (await handle.describe()).runId;

    browser = await chromium.launch({ executablePath, args: CHROMIUM_ARGS });
  });

  afterAll(async () => {
    await browser?.close();
    await worker?.stop().catch(() => undefined);
    await connection?.close();
    await api?.close();
    await store?.close();
    await devServer?.stop();
  });

  /** A browser profile whose UI already has the codec settings an operator makes (see configureCodecInUi). */
  async function operatorContext(): Promise<BrowserContext> {
    const context = await browser!.newContext();
    // The UI's Codec Server settings, stored in its origin's localStorage (JSON values).
    // Written as source text: this project's TypeScript has no DOM types, and the script runs in the page.
    const settings = { endpoint: JSON.stringify(`${apiBase}/codec`), includeCredentials: 'true', overrideRemoteCodecConfiguration: 'true' };
    await context.addInitScript({
      content: `if (location.origin === ${JSON.stringify(uiOrigin)}) { for (const [k, v] of Object.entries(${JSON.stringify(settings)})) localStorage.setItem(k, v); }`,
    });
    return context;
  }

  async function signIn(context: BrowserContext): Promise<void> {
    const page = await context.newPage();
    await page.goto(`${apiBase}/codec/login`);
    await page.fill('#token', operatorToken);
    await page.click('#sign-in');
    await page.waitForSelector('#signed-in');
    await page.close();
  }

  /**
   * The operator's steps in the UI: the Codec Server button in the top bar, "Use my browser setting",
   * the endpoint, "Include cross-origin credentials", Apply. The UI stores them in localStorage.
   */
  async function configureCodecInUi(context: BrowserContext): Promise<Record<string, string | null>> {
    const page = await context.newPage();
    await page.goto(`${devServer!.uiUrl}/namespaces/${NAMESPACE}/workflows`);
    await page.locator('[data-testid^="data-encoder-status"]').first().click();
    await page.locator('label', { has: page.locator('#use-local-endpoint-radio') }).click();
    await page.fill('#data-encoder-endpoint-input', `${apiBase}/codec`);
    await page.locator('[data-testid="data-encoder-include-credentials"]').click();
    await page.getByRole('button', { name: 'Apply' }).click();
    await page.locator('#data-encoder-endpoint-input').waitFor({ state: 'hidden' });
    const stored = await page.evaluate('({ endpoint: localStorage.getItem("endpoint"), includeCredentials: localStorage.getItem("includeCredentials"), overrideRemoteCodecConfiguration: localStorage.getItem("overrideRemoteCodecConfiguration") })');
    await page.close();
    return stored as Record<string, string | null>;
  }

  interface OpenedHistory {
    page: Page;
    /** Every answer the codec server gave this page so far: status, and the body with its payloads' data as text. */
    codecAnswers: () => Promise<{ status: number; text: string }[]>;
  }

  /** The conversation's event history in the UI, with the update's event opened (its arguments are the attributes). */
  async function openUpdateEvent(context: BrowserContext): Promise<OpenedHistory> {
    const page = await context.newPage();
    const answers: Promise<{ status: number; text: string }>[] = [];
    page.on('response', (response) => {
      if (!response.url().startsWith(`${apiBase}/codec/decode`) || response.request().method() !== 'POST') return;
      const status = response.status();
      // Only a decoded answer has anything to search; a body that cannot be read in time counts as empty.
      const body = status === 200 ? Promise.race([response.text(), new Promise<string>((resolve) => setTimeout(() => resolve(''), 5000))]) : Promise.resolve('');
      answers.push(body.then((text) => ({ status, text: `${text}\n${payloadDataText(text)}` }), () => ({ status, text: '' })));
    });
    const codecAnswers = () => Promise.all(answers);
    const workflowId = encodeURIComponent(workflowIdFor(conversationId));
    await page.goto(`${devServer!.uiUrl}/namespaces/${NAMESPACE}/workflows/${workflowId}/${runId}/history`);
    // The UI polls forever: wait for what must be on screen, never for the network to go idle.
    const row = page.locator('tr[data-testid="event-summary-row"]', { hasText: 'Workflow Execution Update Accepted' });
    await row.waitFor({ timeout: 60_000 });
    await row.click();
    await page.getByText('Accepted Request', { exact: true }).first().waitFor({ timeout: 30_000 });
    return { page, codecAnswers };
  }

  async function everythingShown(page: Page): Promise<string> {
    return `${await page.content()}\n${await page.innerText('body')}`;
  }

  test('an operator who signed in sees the plain attribute decoded; the secured value only as its ciphertext', async () => {
    const context = await browser!.newContext();
    try {
      expect(await configureCodecInUi(context)).toEqual({ endpoint: JSON.stringify(`${apiBase}/codec`), includeCredentials: 'true', overrideRemoteCodecConfiguration: 'true' });
      await signIn(context);
      const [cookie] = await context.cookies(`${apiBase}/codec/decode`);
      expect(cookie).toMatchObject({ name: 'parley_operator', path: '/codec', httpOnly: true, sameSite: 'Strict', secure: false });
      expect(cookie.value).not.toContain(operatorToken);

      const { page, codecAnswers: answered } = await openUpdateEvent(context);
      await page.getByText(plainCanary).first().waitFor({ timeout: 30_000 });
      await page.getByText(securedCiphertext).first().waitFor({ timeout: 10_000 });
      const shown = await everythingShown(page);
      expect(shown).toContain(plainCanary);
      expect(shown).not.toContain(securedPlaintext);
      const codecAnswers = await answered();
      // The UI's calls carried the cookie (cross-origin, credentials included) and were decoded.
      expect(codecAnswers.length).toBeGreaterThan(0);
      expect(codecAnswers.map((a) => a.status)).toEqual(codecAnswers.map(() => 200));
      expect(codecAnswers.some((a) => a.text.includes(plainCanary))).toBe(true);
      expect(codecAnswers.some((a) => a.text.includes(securedPlaintext))).toBe(false);
    } finally {
      await context.close();
    }
  });

  test('a browser that did not sign in sees the payloads still encoded, and no plaintext at all', async () => {
    const context = await operatorContext();
    try {
      const { page, codecAnswers: answered } = await openUpdateEvent(context);
      // The payload as stored: encoding "binary/parley-encrypted" (shown in base64) and ciphertext.
      await page.getByText(Buffer.from('binary/parley-encrypted').toString('base64')).first().waitFor({ timeout: 30_000 });
      const shown = await everythingShown(page);
      expect(shown).not.toContain(plainCanary);
      expect(shown).not.toContain(securedCiphertext);
      expect(shown).not.toContain(securedPlaintext);
      // The UI did ask the codec, and was refused.
      const codecAnswers = await answered();
      expect(codecAnswers.length).toBeGreaterThan(0);
      expect(new Set(codecAnswers.map((a) => a.status))).toEqual(new Set([401]));
    } finally {
      await context.close();
    }
  });
});

/** The payloads' data in a codec answer, base64-decoded, so a search sees what the UI would render. */
function payloadDataText(body: string): string {
  try {
    const parsed = JSON.parse(body) as { payloads?: { data?: string }[] };
    return (parsed.payloads ?? []).map((p) => Buffer.from(p.data ?? '', 'base64').toString('utf8')).join('\n');
  } catch {
    return '';
  }
}
