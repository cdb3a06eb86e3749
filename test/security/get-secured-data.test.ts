// Genesys Architect's Get Secured Data over real HTTP (signed webhooks, scoped bearer tokens, a real
// dev server and worker): a first flow secures a value it looked up, the interaction is transferred,
// and a second flow — another token — recalls it through the explicit secured read, from the running
// conversation before its hand-over batch reaches the store and from the store after. A plain Get
// Participant Data by a flow never returns the value; operators are refused the secured read.
import crypto from 'node:crypto';
import { type ApiStack, startApiStack } from '../../rigs/api-stack';
import { testCredentials } from '../../rigs/credentials';
import { captureLogs } from '../../rigs/logs';
import { uniqueId } from '../../rigs/temp';
import { waitFor } from '../../rigs/wait';
import { generateToken } from '../../src/security/secrets';
import { webhookEvents } from '../support/conversation';

const credentials = testCredentials();
// Two flows of one contact center, each with its own token: the one that looks the customer up and
// the one the interaction is transferred to.
const firstFlow = credentials.tokens.flow;
const secondFlow = generateToken('flow');
credentials.settings.tokens.push({ name: 'second flow', scopes: ['flow'], token: secondFlow });

const { logger, lines: apiLog } = captureLogs('trace');
const event = webhookEvents(uniqueId('gsd-evt'), 'task-1');
let stack: ApiStack;

beforeAll(async () => {
  stack = await startApiStack({
    name: 'get-secured-data',
    credentials,
    logger,
    requestTimeoutMs: 10_000,
    // The lowest threshold, so a few dozen webhooks make the conversation hand over (continue as new).
    conversation: { continueAsNewAfterEvents: 100, closedGracePeriodMs: 1_000 },
  });
}, 180_000);

afterAll(() => stack?.stop());

interface Answer {
  status: number;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- each route answers its own shape; the test reads the fields it expects
  body: any;
}

/** A request with this bearer token, or with no credential at all. */
async function as(token: string | undefined, method: string, path: string, body?: unknown): Promise<Answer> {
  const res =
    token === undefined
      ? await fetch(`${stack.baseUrl}${path}`, { method, body: body === undefined ? undefined : JSON.stringify(body), headers: body === undefined ? {} : { 'content-type': 'application/json' } })
      : await stack.fetch(path, { method, body, headers: { authorization: `Bearer ${token}` } });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined };
}

const webhook = async (body: unknown): Promise<void> => expect((await stack.call('POST', '/webhooks/routing-events', body)).status).toBe(202);
const setSecured = (token: string, conversationId: string, attributes: Record<string, string>) =>
  as(token, 'POST', '/data-actions/participant-data/set', { inputs: { conversationId, attributes, secured: true } });
const getSecured = (token: string | undefined, conversationId: string, name: string) =>
  as(token, 'POST', '/data-actions/participant-data/get', { inputs: { conversationId, name, secured: true } });
const getPlain = (token: string | undefined, conversationId: string, name: string) =>
  as(token, 'POST', '/data-actions/participant-data/get', { inputs: { conversationId, name } });
const runCount = async (conversationId: string): Promise<number> => (await stack.call('GET', `/conversations/${conversationId}`)).body.runCount;

test('Get Secured Data: a second flow recalls the value the first flow secured, before and after the hand-over', async () => {
  const id = uniqueId('gsd');
  const account = `ACCOUNT-${crypto.randomBytes(6).toString('hex')}`;

  // The first flow runs before the routing platform's first webhook: its Set Secured Data starts the conversation.
  expect(await setSecured(firstFlow, id, { accountId: account, Foo: 'Hello' })).toEqual({ status: 200, body: { outputs: { conversationId: id, queued: ['accountId', 'Foo'], secured: true } } });
  await webhook(event(id, 'CREATED', 0, { queue: 'billing' }));
  // The interaction is transferred to another flow.
  await webhook(event(id, 'TRANSFERRED', 1, { destination: 'billing-flow' }));

  // Before the hand-over: the value is queued in the running conversation, decrypted by the API.
  expect(await getSecured(secondFlow, id, 'accountId')).toEqual({ status: 200, body: { outputs: { found: true, name: 'accountId', value: account, secured: true, source: 'pending' } } });
  expect(await as(secondFlow, 'GET', `/conversations/${id}/attributes/accountId?secured=true`)).toEqual({ status: 200, body: { name: 'accountId', value: account, source: 'pending', secured: true } });

  // Read-your-writes, last write wins: the queued value is read before anything the store holds.
  expect((await getSecured(secondFlow, id, 'Foo')).body.outputs).toMatchObject({ value: 'Hello', source: 'pending' });
  expect((await setSecured(secondFlow, id, { Foo: 'Goodbye' })).status).toBe(200);
  expect((await getSecured(secondFlow, id, 'Foo')).body.outputs).toMatchObject({ value: 'Goodbye', source: 'pending' });

  // The hand-over: the conversation continues as new after writing its queued batch to the store.
  for (let i = 0; (await runCount(id)) === 1; i++) {
    if (i > 120) throw new Error('the conversation never continued as new');
    await webhook(event(id, 'QUEUED', 2, { estimatedWaitTime: 300 - i }));
  }
  await waitFor('the hand-over batch in the store', async () => (await stack.store.listAttributes(id)).length === 2);
  const stored = await stack.store.getAttribute(id, 'accountId');
  expect(stored).toMatchObject({ secured: true });
  expect(stored?.value).not.toContain(account);

  // After the hand-over: from the store, decrypted by the API; the conversation still runs.
  expect(await getSecured(secondFlow, id, 'accountId')).toEqual({ status: 200, body: { outputs: { found: true, name: 'accountId', value: account, secured: true, source: 'stored' } } });
  expect(await as(secondFlow, 'GET', `/conversations/${id}/attributes/Foo?secured=true`)).toEqual({ status: 200, body: { name: 'Foo', value: 'Goodbye', source: 'stored', secured: true } });
  // A write after the hand-over is queued in the new run and read before the stored one.
  expect((await setSecured(firstFlow, id, { Foo: 'Hello again' })).status).toBe(200);
  expect((await getSecured(secondFlow, id, 'Foo')).body.outputs).toMatchObject({ value: 'Hello again', source: 'pending' });

  // After the conversation ends, from the store (also past Temporal's retention).
  await webhook(event(id, 'CLOSED', 3));
  await waitFor('the final batch in the store', async () => (await stack.store.getAttribute(id, 'Foo'))?.batchSeq !== stored?.batchSeq);
  expect((await getSecured(firstFlow, id, 'Foo')).body.outputs).toEqual({ found: true, name: 'Foo', value: 'Hello again', secured: true, source: 'stored' });
  expect((await getSecured(secondFlow, id, 'accountId')).body.outputs).toEqual({ found: true, name: 'accountId', value: account, secured: true, source: 'stored' });

  // The audit trail names the reader and the attribute, never the value.
  const audit = apiLog.filter((line) => line.includes('secured value read') && line.includes(id));
  expect(audit.some((line) => line.includes('"caller":"second flow"') && line.includes('"attribute":"accountId"'))).toBe(true);
  expect(apiLog.join('\n')).not.toContain(account);
}, 180_000);

test('Get Participant Data by a flow never returns a secured value: it learns only that the value exists', async () => {
  const id = uniqueId('gpd');
  const secret = `PIN-${crypto.randomBytes(6).toString('hex')}`;
  await webhook(event(id, 'CREATED', 0));
  expect((await setSecured(firstFlow, id, { pin: secret })).status).toBe(200);
  expect((await as(firstFlow, 'POST', `/conversations/${id}/attributes`, { attributes: { lang: 'fr' } })).status).toBe(200);

  const plainReads = async (source: 'pending' | 'stored') => {
    for (const token of [firstFlow, secondFlow]) {
      expect(await getPlain(token, id, 'pin')).toEqual({ status: 200, body: { outputs: { found: true, name: 'pin', secured: true, source } } });
      expect(await as(token, 'POST', '/data-actions/participant-data/get', { inputs: { conversationId: id, name: 'pin', secured: false } })).toEqual({ status: 200, body: { outputs: { found: true, name: 'pin', secured: true, source } } });
      expect(await as(token, 'GET', `/conversations/${id}/attributes/pin`)).toEqual({ status: 200, body: { name: 'pin', source, secured: true } });
      expect(await as(token, 'GET', `/conversations/${id}/attributes/pin?secured=false`)).toEqual({ status: 200, body: { name: 'pin', source, secured: true } });
    }
    // Agent scripts keep their read: the value, in the agent's script.
    expect(await as(credentials.tokens['agent-script'], 'GET', `/conversations/${id}/attributes/pin`)).toEqual({ status: 200, body: { name: 'pin', value: secret, source, secured: true } });
    expect((await getPlain(credentials.tokens['agent-script'], id, 'pin')).body.outputs).toEqual({ found: true, name: 'pin', value: secret, secured: true, source });
    // The secured read of a plain value answers it as what it is; of no value, as not found.
    expect((await getSecured(firstFlow, id, 'lang')).body.outputs).toEqual({ found: true, name: 'lang', value: 'fr', secured: false, source });
    expect(await as(firstFlow, 'GET', `/conversations/${id}/attributes/lang?secured=true`)).toEqual({ status: 200, body: { name: 'lang', value: 'fr', source } });
    expect((await getSecured(firstFlow, id, 'nothing')).body.outputs).toEqual({ found: false, name: 'nothing', secured: false });
    expect((await as(firstFlow, 'GET', `/conversations/${id}/attributes/nothing?secured=true`)).status).toBe(404);
  };
  await plainReads('pending');
  await webhook(event(id, 'CLOSED', 1));
  await waitFor('the final batch in the store', async () => (await stack.store.listAttributes(id)).length === 2);
  await plainReads('stored');
}, 120_000);

test('Get Secured Data is refused to operators (403) and to callers without a valid token (401); bad input is 400; none changes anything', async () => {
  const id = uniqueId('gsd-refused');
  const secret = `CARD-${crypto.randomBytes(6).toString('hex')}`;
  await webhook(event(id, 'CREATED', 0));
  expect((await setSecured(firstFlow, id, { card: secret })).status).toBe(200);
  const before = await stack.call('GET', `/conversations/${id}`);

  const refusals: Answer[] = [];
  const operator = credentials.tokens.operator;
  const stranger = testCredentials().tokens.flow;
  for (const [token, status] of [[operator, 403], [undefined, 401], [stranger, 401]] as const) {
    const viaAction = await getSecured(token, id, 'card');
    expect([viaAction.status, viaAction.body.errors?.[0]?.code]).toEqual([status, status === 403 ? 'forbidden' : 'unauthorized']);
    const viaRoute = await as(token, 'GET', `/conversations/${id}/attributes/card?secured=true`);
    expect([viaRoute.status, viaRoute.body.error]).toEqual([status, status === 403 ? 'forbidden' : 'unauthorized']);
    refusals.push(viaAction, viaRoute);
  }
  // The flag is a boolean on the data action and `true` or `false` on the route: anything else is refused, not read as false.
  const badAction = await as(firstFlow, 'POST', '/data-actions/participant-data/get', { inputs: { conversationId: id, name: 'card', secured: 'yes' } });
  expect([badAction.status, badAction.body.errors?.[0]?.message]).toEqual([400, expect.stringMatching(/secured/)]);
  const badRoute = await as(firstFlow, 'GET', `/conversations/${id}/attributes/card?secured=yes`);
  expect([badRoute.status, badRoute.body.message]).toEqual([400, expect.stringMatching(/secured/)]);
  refusals.push(badAction, badRoute);

  for (const answer of refusals) expect(JSON.stringify(answer.body)).not.toContain(secret);
  expect((await stack.call('GET', `/conversations/${id}`)).body).toEqual(before.body);
  expect(apiLog.join('\n')).not.toContain(secret);
}, 60_000);
