// Whether this process traces, decided from the standard OpenTelemetry variables alone. Kept apart
// from tracing.ts so a process that does not trace never loads the OpenTelemetry SDK at all.

/** True when an OTLP endpoint is configured (all signals or traces only) and the SDK is not disabled. */
export function tracingRequested(env: NodeJS.ProcessEnv): boolean {
  if ((env.OTEL_SDK_DISABLED ?? '').trim().toLowerCase() === 'true') return false;
  return Boolean(env.OTEL_EXPORTER_OTLP_ENDPOINT?.trim() || env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT?.trim());
}
