// The workflow half of tracing, bundled with the workflows as a workflow interceptor module (the
// way the Temporal SDK prescribes; src/conversation never imports it). It runs in the workflow
// sandbox, so it imports only the workflow SDK and OpenTelemetry's workflow interceptors.
//
// Why not the SDK's interceptors as they are: they wrap every handler, workflow run and activity in
// extra awaits, which moves the workflow's commands within a workflow task (an update's answer after
// an activity it used to precede). A history recorded with them does not replay without them, nor the
// reverse, so switching tracing on or off would break running conversations (nondeterminism). Here
// each call decides from its own Temporal header, which is in history: a call that carries trace
// context (the API traced it) goes through the SDK's interceptor, one without it straight through,
// with no extra await. A history replays the way it was recorded, whatever the worker's settings.
import { context as otelContext, trace } from '@opentelemetry/api';
import {
  OpenTelemetryInboundInterceptor,
  OpenTelemetryInternalsInterceptor,
  OpenTelemetryOutboundInterceptor,
} from '@temporalio/interceptors-opentelemetry/lib/workflow';
import { TRACE_HEADER } from '@temporalio/interceptors-opentelemetry/lib/instrumentation';
import type {
  ActivityInput,
  ContinueAsNewInput,
  GetLogAttributesInput,
  LocalActivityInput,
  Next,
  QueryInput,
  SignalInput,
  SignalWorkflowInput,
  StartChildWorkflowExecutionInput,
  UpdateInput,
  WorkflowExecuteInput,
  WorkflowInboundCallsInterceptor,
  WorkflowInterceptorsFactory,
  WorkflowOutboundCallsInterceptor,
} from '@temporalio/workflow';

const carriesTrace = (headers: Record<string, unknown>): boolean => headers[TRACE_HEADER] !== undefined;
/** Inside a traced call (its span is the active one): what it schedules is traced too. */
const inTrace = (): boolean => trace.getSpan(otelContext.active()) !== undefined;

class HeaderGatedInbound implements WorkflowInboundCallsInterceptor {
  private readonly traced = new OpenTelemetryInboundInterceptor();

  execute(input: WorkflowExecuteInput, next: Next<WorkflowInboundCallsInterceptor, 'execute'>): Promise<unknown> {
    return carriesTrace(input.headers) ? this.traced.execute(input, next) : next(input);
  }
  handleSignal(input: SignalInput, next: Next<WorkflowInboundCallsInterceptor, 'handleSignal'>): Promise<void> {
    return carriesTrace(input.headers) ? this.traced.handleSignal(input, next) : next(input);
  }
  handleUpdate(input: UpdateInput, next: Next<WorkflowInboundCallsInterceptor, 'handleUpdate'>): Promise<unknown> {
    return carriesTrace(input.headers) ? this.traced.handleUpdate(input, next) : next(input);
  }
  validateUpdate(input: UpdateInput, next: Next<WorkflowInboundCallsInterceptor, 'validateUpdate'>): void {
    return carriesTrace(input.headers) ? this.traced.validateUpdate(input, next) : next(input);
  }
  handleQuery(input: QueryInput, next: Next<WorkflowInboundCallsInterceptor, 'handleQuery'>): Promise<unknown> {
    return carriesTrace(input.headers) ? this.traced.handleQuery(input, next) : next(input);
  }
}

class TraceGatedOutbound implements WorkflowOutboundCallsInterceptor {
  private readonly traced = new OpenTelemetryOutboundInterceptor();

  scheduleActivity(input: ActivityInput, next: Next<WorkflowOutboundCallsInterceptor, 'scheduleActivity'>): Promise<unknown> {
    return inTrace() ? this.traced.scheduleActivity(input, next) : next(input);
  }
  scheduleLocalActivity(input: LocalActivityInput, next: Next<WorkflowOutboundCallsInterceptor, 'scheduleLocalActivity'>): Promise<unknown> {
    return inTrace() ? this.traced.scheduleLocalActivity(input, next) : next(input);
  }
  startChildWorkflowExecution(input: StartChildWorkflowExecutionInput, next: Next<WorkflowOutboundCallsInterceptor, 'startChildWorkflowExecution'>): Promise<[Promise<string>, Promise<unknown>]> {
    return inTrace() ? this.traced.startChildWorkflowExecution(input, next) : next(input);
  }
  continueAsNew(input: ContinueAsNewInput, next: Next<WorkflowOutboundCallsInterceptor, 'continueAsNew'>): Promise<never> {
    return inTrace() ? this.traced.continueAsNew(input, next) : next(input);
  }
  signalWorkflow(input: SignalWorkflowInput, next: Next<WorkflowOutboundCallsInterceptor, 'signalWorkflow'>): Promise<void> {
    return inTrace() ? this.traced.signalWorkflow(input, next) : next(input);
  }
  getLogAttributes(input: GetLogAttributesInput, next: Next<WorkflowOutboundCallsInterceptor, 'getLogAttributes'>): Record<string, unknown> {
    return this.traced.getLogAttributes(input, next);
  }
}

export const interceptors: WorkflowInterceptorsFactory = () => ({
  inbound: [new HeaderGatedInbound()],
  outbound: [new TraceGatedOutbound()],
  internals: [new OpenTelemetryInternalsInterceptor()],
});
