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
//
// Nothing of OpenTelemetry is loaded until a traced call comes: the workflow bundle's module cache is
// per workflow, so modules required at the top would be evaluated (and a tracer provider built) for
// every conversation, traced or not — it tripled a cached conversation's memory.
import type * as OtelApiModule from '@opentelemetry/api';
import type * as OtelWorkflowModule from '@temporalio/interceptors-opentelemetry/lib/workflow';
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
  DisposeInput,
  WorkflowInterceptorsFactory,
  WorkflowInternalsInterceptor,
  WorkflowOutboundCallsInterceptor,
} from '@temporalio/workflow';

type OtelWorkflow = typeof OtelWorkflowModule;
type OtelApi = typeof OtelApiModule;

/** The SDK's header name for trace context (TRACE_HEADER of @temporalio/interceptors-opentelemetry), kept here so reading it loads nothing. */
const TRACE_HEADER = '_tracer-data';

/** This workflow's OpenTelemetry, loaded by its first traced call. */
let loaded: { workflow: OtelWorkflow; api: OtelApi } | undefined;
function otel(): { workflow: OtelWorkflow; api: OtelApi } {
  /* eslint-disable @typescript-eslint/no-require-imports -- loaded on the first traced call only (see the top of this file) */
  loaded ??= {
    workflow: require('@temporalio/interceptors-opentelemetry/lib/workflow') as OtelWorkflow,
    api: require('@opentelemetry/api') as OtelApi,
  };
  /* eslint-enable @typescript-eslint/no-require-imports -- only the two loads above */
  return loaded;
}

const carriesTrace = (headers: Record<string, unknown>): boolean => headers[TRACE_HEADER] !== undefined;
/** Inside a traced call (its span is the active one): what it schedules is traced too. No traced call yet: not in one. */
const inTrace = (): boolean => loaded !== undefined && loaded.api.trace.getSpan(loaded.api.context.active()) !== undefined;

class HeaderGatedInbound implements WorkflowInboundCallsInterceptor {
  private tracedInterceptor?: WorkflowInboundCallsInterceptor & Required<Pick<WorkflowInboundCallsInterceptor, 'execute' | 'handleSignal' | 'handleUpdate' | 'validateUpdate' | 'handleQuery'>>;
  private get traced() {
    this.tracedInterceptor ??= new (otel().workflow.OpenTelemetryInboundInterceptor)();
    return this.tracedInterceptor;
  }

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
  private tracedInterceptor?: InstanceType<OtelWorkflow['OpenTelemetryOutboundInterceptor']>;
  private get traced() {
    this.tracedInterceptor ??= new (otel().workflow.OpenTelemetryOutboundInterceptor)();
    return this.tracedInterceptor;
  }

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
    return loaded ? this.traced.getLogAttributes(input, next) : next(input);
  }
}

/** Lets the SDK's context manager go when the workflow is disposed, if a traced call made one. */
class LoadedInternals implements WorkflowInternalsInterceptor {
  dispose(input: DisposeInput, next: Next<WorkflowInternalsInterceptor, 'dispose'>): void {
    if (loaded) void new loaded.workflow.OpenTelemetryInternalsInterceptor().dispose(input, next);
    else next(input);
  }
}

export const interceptors: WorkflowInterceptorsFactory = () => ({
  inbound: [new HeaderGatedInbound()],
  outbound: [new TraceGatedOutbound()],
  internals: [new LoadedInternals()],
});
