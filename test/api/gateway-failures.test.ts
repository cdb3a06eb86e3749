// The one reading of a failed Temporal or key-service call as an HTTP answer, case by case: what
// each kind of call (read, signal, update) may promise about whether the request was applied.
import { Writable } from 'node:stream';
import { ServiceError, WorkflowExecutionAlreadyStartedError, WorkflowUpdateFailedError, WorkflowUpdateRPCTimeoutOrCancelledError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import pino from 'pino';
import { failureAnswer, type TemporalCall } from '../../src/api/gateway';
import { HttpError } from '../../src/api/temporal-errors';
import { ErrorType } from '../../src/conversation/messages';
import { KeyConfigurationError, KeyServiceUnavailableError } from '../../src/security/errors';

const lines: string[] = [];
const ctx = { logger: pino({ level: 'info' }, new Writable({ write: (chunk, _enc, done) => (lines.push(String(chunk)), done()) })), requestTimeoutMs: 1500 };

const grpc = (code: number, details: string) => new ServiceError('Failed to call the server', { cause: Object.assign(new Error(`${code} ${details}`), { code, details, metadata: {} }) });
const rejected = (type: string, message: string) => new WorkflowUpdateFailedError('Workflow Update failed', ApplicationFailure.nonRetryable(message, type));
const kms = (operation: 'encrypt' | 'decrypt') => new Error('codec failed', { cause: new KeyServiceUnavailableError('KMS did not answer', { operation }) });

const read: TemporalCall = { kind: 'read', what: 'a query' };
const signal: TemporalCall = { kind: 'signal', what: 'a signal', notConfirmed: () => new HttpError(503, 'signal not confirmed') };
const update: TemporalCall = {
  kind: 'update',
  what: 'an update',
  conversationId: 'c-1',
  notConfirmed: () => new HttpError(503, 'update not confirmed'),
  changingState: 'update refused while changing state',
};
const withUnreadable: TemporalCall = { ...update, answerUnreadable: () => new HttpError(503, 'answer unreadable') };

const answer = (err: unknown, call: TemporalCall) => {
  const http = failureAnswer(err, call, ctx);
  return { status: http.statusCode, message: http.message, ...(http.headers ? { headers: http.headers } : {}), ...(http.errorId ? { errorId: true } : {}) };
};

test('a validator refusal: 409 when the conversation is closed, 503 with Retry-After while the store is behind, else 400', () => {
  expect(answer(rejected(ErrorType.ConversationClosed, 'the conversation is closed'), update)).toEqual({ status: 409, message: 'the conversation is closed' });
  expect(answer(rejected(ErrorType.InvalidAttributes, 'too many'), update)).toEqual({ status: 400, message: 'too many' });
  expect(answer(rejected(ErrorType.InvalidMessage, 'no text'), update)).toEqual({ status: 400, message: 'no text' });
  // Any write refused for the store's backlog, whichever route carried it (the data action's answered 500 before).
  expect(answer(rejected(ErrorType.StoreBacklog, 'nothing was applied; retry later'), update)).toEqual({
    status: 503,
    message: 'the write was not applied: nothing was applied; retry later',
    headers: { 'retry-after': '30' },
  });
});

test('an update-with-start of a closed conversation is 409', () => {
  expect(answer(new WorkflowExecutionAlreadyStartedError('already started', 'conversation-c-1', 'conversationWorkflow'), update)).toEqual({ status: 409, message: 'conversation c-1 is closed' });
});

test('Temporal out of reach: nothing changed for a read; a signal or an update may have been applied', () => {
  const unreachable = grpc(14, 'connection refused');
  expect(answer(unreachable, read)).toEqual({ status: 503, message: expect.stringMatching(/unreachable.*nothing was changed/) });
  // The client's retries can end on "connection refused" after an earlier attempt was recorded.
  expect(answer(unreachable, signal)).toEqual({ status: 503, message: 'signal not confirmed' });
  expect(answer(unreachable, update)).toEqual({ status: 503, message: 'update not confirmed' });
});

test('an answer too late: 504 for a read, not confirmed for a write', () => {
  const late = grpc(4, 'Deadline exceeded after 1.5s,remote_addr=127.0.0.1:7233');
  expect(answer(late, read)).toEqual({ status: 504, message: expect.stringMatching(/no answer within 1500 ms.*nothing was changed/) });
  expect(answer(late, signal)).toEqual({ status: 503, message: 'signal not confirmed' });
  expect(answer(late, update)).toEqual({ status: 503, message: 'update not confirmed' });
  expect(answer(new WorkflowUpdateRPCTimeoutOrCancelledError('timed out'), update)).toEqual({ status: 503, message: 'update not confirmed' });
});

test('refused while the conversation was changing state: an update says so', () => {
  expect(answer(grpc(9, 'workflow task failed'), update)).toEqual({ status: 503, message: 'update refused while changing state' });
});

test('the key service out of reach: nothing changed, unless an applied update could not be decrypted', () => {
  for (const call of [read, signal, update]) {
    expect(answer(kms('encrypt'), call)).toEqual({ status: 503, message: expect.stringMatching(/key service \(KMS\) is unreachable.*nothing was changed/) });
  }
  expect(answer(kms('decrypt'), read)).toEqual({ status: 503, message: expect.stringMatching(/KMS.*nothing was changed/) });
  expect(answer(kms('decrypt'), update)).toEqual({ status: 503, message: 'update not confirmed' });
  expect(answer(kms('decrypt'), withUnreadable)).toEqual({ status: 503, message: 'answer unreadable' });
});

test('anything else is 500 with an id that finds the cause in the log', () => {
  for (const err of [grpc(3, 'invalid argument'), new Error('something else'), new KeyConfigurationError('key disabled')]) {
    const http = failureAnswer(err, update, ctx);
    expect([http.statusCode, http.message]).toEqual([500, 'internal error']);
    expect(lines.find((line) => line.includes(http.errorId ?? 'no id'))).toMatch(/temporal refused the request/);
  }
});
