// OpenTelemetry tracing for one Parley process, exported over OTLP/HTTP. Loaded only when
// tracing-switch.ts says tracing is on, so an untraced process pays nothing: no SDK, no
// interceptors, no exporter. Every OTEL_* variable keeps its standard meaning: the exporter reads
// the endpoint, headers and timeout, the batch processor OTEL_BSP_*, the sampler OTEL_TRACES_SAMPLER,
// the resource OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES.
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { Resource, envDetectorSync } from '@opentelemetry/resources';
import { BatchSpanProcessor, type SpanProcessor } from '@opentelemetry/sdk-trace-base';
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
// The package's index also loads its worker plugin (and with it @temporalio/worker), which the API
// process has no use for: each side takes its own entry point.
import { OpenTelemetryWorkflowClientInterceptor } from '@temporalio/interceptors-opentelemetry/lib/client';
import { OpenTelemetryActivityInboundInterceptor, OpenTelemetryActivityOutboundInterceptor, makeWorkflowExporter } from '@temporalio/interceptors-opentelemetry/lib/worker';
import type { WorkflowClientInterceptor } from '@temporalio/client';
import type { InjectedSinks, WorkerInterceptors } from '@temporalio/worker';
import type { WorkflowInfo } from '@temporalio/workflow';
import type { OpenTelemetrySinks } from '@temporalio/interceptors-opentelemetry/lib/workflow';
import { ScrubbingSpanProcessor } from './span-scrubber';

/** The interceptors and sink a traced worker adds; its workflow bundle must carry the workflow interceptors too. */
export interface WorkerTracing {
  activityInterceptors: NonNullable<WorkerInterceptors['activity']>;
  /** For the activities' own Temporal client (startExport starts the export workflow): the export joins the conversation's trace. */
  clientInterceptors: WorkflowClientInterceptor[];
  /** Workflow spans leave the sandbox through this sink, to the process's span processor. */
  sinks: InjectedSinks<OpenTelemetrySinks>;
}

export interface Tracing {
  /** Carries the caller's span context in the headers of every start, signal, update and query. */
  clientInterceptors(): WorkflowClientInterceptor[];
  worker(): WorkerTracing;
  /** Exports every span still buffered, then stops; called on SIGTERM/SIGINT before the process exits. */
  shutdown(): Promise<void>;
}

/**
 * Starts the SDK and registers it globally (tracer provider, AsyncLocalStorage context manager,
 * W3C trace-context propagator), so the request spans, the store spans and Temporal's interceptors
 * all find the active span the same way. The SDK reads its OTEL_* variables from process.env itself.
 */
export function startTracing(defaultServiceName: string): Tracing {
  // OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES win over the process's own name.
  const resource = new Resource({ 'service.name': defaultServiceName }).merge(envDetectorSync.detect({}));
  // One processor for the process's own spans and the workflow spans the sink hands over.
  const processor: SpanProcessor = new ScrubbingSpanProcessor(new BatchSpanProcessor(new OTLPTraceExporter()));
  const provider = new NodeTracerProvider({ resource, spanProcessors: [processor] });
  provider.register();
  return {
    clientInterceptors: () => [new OpenTelemetryWorkflowClientInterceptor()],
    worker: () => ({
      activityInterceptors: [(ctx) => ({ inbound: new OpenTelemetryActivityInboundInterceptor(ctx), outbound: new OpenTelemetryActivityOutboundInterceptor(ctx) })],
      clientInterceptors: [new OpenTelemetryWorkflowClientInterceptor()],
      sinks: { exporter: withIdsOnly(makeWorkflowExporter(processor, resource)) },
    }),
    shutdown: () => provider.shutdown(),
  };
}

/** What of a workflow's info may label its spans: ids, names and counts. */
const WORKFLOW_INFO_ON_SPANS = ['workflowId', 'runId', 'workflowType', 'namespace', 'taskQueue', 'attempt', 'historyLength'] as const;

/**
 * The SDK's exporter copies the whole WorkflowInfo onto every workflow span: its memo and last
 * result decoded, its last failure's message, its search attributes (queue, agent). Only the ids,
 * names and counts above go through.
 */
function withIdsOnly(sink: InjectedSinks<OpenTelemetrySinks>['exporter']): InjectedSinks<OpenTelemetrySinks>['exporter'] {
  const exportSpans = sink.export;
  return {
    export: {
      ...exportSpans,
      fn: (info, spans) => {
        const ids = Object.fromEntries(WORKFLOW_INFO_ON_SPANS.map((key) => [key, info[key]]));
        // The SDK's exporter only spreads these fields onto span attributes; it reads no other.
        return exportSpans.fn(ids as unknown as WorkflowInfo, spans);
      },
    },
  };
}
