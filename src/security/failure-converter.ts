// Loaded by path into the workflow bundle as well as the worker and clients: keep it free of Node
// APIs. Failure messages and stack traces travel as an encoded payload, so the payload codec
// encrypts them like any other payload instead of leaving them readable in history.
import { DefaultFailureConverter } from '@temporalio/common';

export const failureConverter = new DefaultFailureConverter({ encodeCommonAttributes: true });
