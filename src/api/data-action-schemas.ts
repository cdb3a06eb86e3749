// The data actions' contracts (Genesys Cloud custom Data Action): the JSON schema of `inputs` a flow
// sends and of the `outputs` it gets back. The routes validate requests with these very objects
// and GET /data-actions/:name/schema serves them, so what an admin pastes into the flow platform is
// what the API enforces.
import { CRM_LIMITS, CRM_OUTCOMES } from '../conversation';
import { LIMITS } from '../conversation';
import { setAttributesBody } from './schemas';

const conversationId = { type: 'string', pattern: LIMITS.conversationIdPattern.source, description: 'The conversation (as in the routing webhooks)' } as const;

const workflowExecuteInput = {
  type: 'object',
  required: ['conversationId', 'configurationId', 'workflowId', 'payload'],
  additionalProperties: false,
  properties: {
    conversationId,
    configurationId: { type: 'string', minLength: 1, maxLength: 128, description: 'The CRM integration (registry entry)' },
    workflowId: { type: 'string', minLength: 1, maxLength: 128, description: 'A workflow enabled for that integration' },
    payload: {
      anyOf: [{ type: 'object' }, { type: 'string' }],
      description: 'The workflow payload: a JSON object, or text holding one; a timeoutMilliSec inside it is read as the timeout',
    },
    timeoutMilliSec: {
      anyOf: [{ type: 'integer' }, { type: 'string' }],
      description: `The whole budget in ms, retries included (${CRM_LIMITS.timeoutMsMin}-${CRM_LIMITS.timeoutMsMax}; reduced to the integration's maximum)`,
    },
    cacheKey: { type: 'string', minLength: 1, maxLength: CRM_LIMITS.cacheKeyMaxChars, description: 'Reuse a Success of this key in this conversation without calling the CRM' },
  },
} as const;

const workflowExecuteOutput = {
  type: 'object',
  required: ['outcome', 'resultSetJson', 'cached'],
  additionalProperties: false,
  properties: {
    outcome: { type: 'string', enum: ['Success'] },
    resultSet: { description: "The CRM's JSON answer" },
    resultSetJson: { type: 'string', description: "The CRM's answer as JSON text, for flows that take flat outputs" },
    cached: { type: 'boolean', description: 'Answered from the conversation cache (cacheKey): no CRM call was made' },
  },
} as const;

const participantDataSetInput = {
  type: 'object',
  required: ['conversationId', 'attributes'],
  additionalProperties: false,
  properties: {
    conversationId,
    attributes: setAttributesBody.properties.attributes,
    secured: { type: 'boolean', description: 'Set Secured Data: encrypted with the customer key before it enters Temporal' },
  },
} as const;

const participantDataSetOutput = {
  type: 'object',
  required: ['conversationId', 'queued', 'secured'],
  additionalProperties: false,
  properties: {
    conversationId: { type: 'string' },
    queued: { type: 'array', items: { type: 'string' } },
    secured: { type: 'boolean' },
  },
} as const;

const participantDataGetInput = {
  type: 'object',
  required: ['conversationId', 'name'],
  additionalProperties: false,
  properties: {
    conversationId,
    name: { type: 'string', minLength: 1, maxLength: LIMITS.attributeNameMaxChars * 4 },
    secured: { type: 'boolean', description: "Get Secured Data: a secured value comes back in plaintext (flow or agent-script token); without it a flow learns only that the value exists" },
  },
} as const;

const participantDataGetOutput = {
  type: 'object',
  required: ['found', 'name', 'secured'],
  additionalProperties: false,
  properties: {
    found: { type: 'boolean' },
    name: { type: 'string' },
    value: { type: 'string', description: 'Absent when not found, and for a secured value unless the read is a secured one (secured: true) or the caller holds the agent-script scope' },
    secured: { type: 'boolean' },
    source: { type: 'string', enum: ['pending', 'stored'] },
  },
} as const;

/** Every non-2xx answer of a data action. `code` is the outcome branch (workflow-execute) or the error kind. */
export const dataActionErrorBody = {
  type: 'object',
  required: ['errors'],
  additionalProperties: false,
  properties: {
    errors: {
      type: 'array',
      minItems: 1,
      items: {
        type: 'object',
        required: ['message'],
        additionalProperties: false,
        properties: {
          message: { type: 'string' },
          code: { type: 'string' },
          errorArgs: { type: 'object' },
          errorId: { type: 'string' },
        },
      },
    },
  },
} as const;

function requestBody<T extends object>(inputs: T) {
  return {
    type: 'object',
    required: ['inputs'],
    additionalProperties: false,
    properties: {
      inputs,
      context: { type: 'object', description: 'Call metadata from the flow platform; not used' },
      settings: { type: 'object', description: 'Settings from the flow platform; not used' },
    },
  } as const;
}

export const DATA_ACTIONS = {
  'workflow-execute': {
    summary: `CRM Workflow Execute: exactly one outcome (${CRM_OUTCOMES.join(', ')}); Success answers 200, the others 400/502/504 with errors[0].code = the outcome`,
    input: workflowExecuteInput,
    output: workflowExecuteOutput,
    body: requestBody(workflowExecuteInput),
  },
  'participant-data/set': {
    summary: 'Set participant data (or secured data) on the conversation, starting it if it does not exist yet',
    input: participantDataSetInput,
    output: participantDataSetOutput,
    body: requestBody(participantDataSetInput),
  },
  'participant-data/get': {
    summary: 'Get one participant data value (with secured: true, Get Secured Data: a secured value in plaintext): the queued one, else the stored one; found:false otherwise',
    input: participantDataGetInput,
    output: participantDataGetOutput,
    body: requestBody(participantDataGetInput),
  },
} as const;

export type DataActionName = keyof typeof DATA_ACTIONS;
export const DATA_ACTION_NAMES = Object.keys(DATA_ACTIONS) as DataActionName[];
