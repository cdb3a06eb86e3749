// Tracing is on exactly when the standard OpenTelemetry variables ask for an OTLP export; otherwise
// the processes do not even load the SDK.
import { tracingRequested } from '../../src/platform/tracing-switch';

test.each([
  [{}, false],
  [{ OTEL_EXPORTER_OTLP_ENDPOINT: '' }, false],
  [{ OTEL_EXPORTER_OTLP_ENDPOINT: '  ' }, false],
  [{ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' }, true],
  [{ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://collector:4318/v1/traces' }, true],
  [{ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318', OTEL_SDK_DISABLED: 'true' }, false],
  [{ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318', OTEL_SDK_DISABLED: 'false' }, true],
  // Service name alone configures nothing to export to.
  [{ OTEL_SERVICE_NAME: 'parley' }, false],
])('%j → tracing %s', (env, on) => {
  expect(tracingRequested(env)).toBe(on);
});
