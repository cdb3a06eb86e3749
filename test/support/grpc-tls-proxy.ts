// A stand-in for a cluster that demands what Temporal Cloud demands: TLS with a certificate the
// client must verify, a client certificate (mTLS) and an API key as a bearer token. It terminates
// TLS and forwards each gRPC call, untouched, to a plain-text dev server.
import fs from 'node:fs';
import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import type { TestPki } from './certificates';

export interface GrpcTlsProxy {
  address: string;
  /** Calls refused for a missing or wrong API key. */
  refused: number;
  /** Calls forwarded to the dev server. */
  forwarded: number;
  /** Why TLS handshakes failed, as the server saw it (a missing client certificate shows only here for sure). */
  handshakeErrors: string[];
  close(): Promise<void>;
}

const { HTTP2_HEADER_STATUS, NGHTTP2_FLAG_END_STREAM } = http2.constants;
const HOP_BY_HOP = new Set([':method', ':path', ':scheme', ':authority', 'connection']);

export async function startGrpcTlsProxy(opts: { pki: TestPki; upstream: string; apiKey: string }): Promise<GrpcTlsProxy> {
  const upstream = http2.connect(`http://${opts.upstream}`);
  upstream.on('error', () => undefined);
  const server = http2.createSecureServer({
    key: fs.readFileSync(opts.pki.serverKey),
    cert: fs.readFileSync(opts.pki.serverCert),
    ca: fs.readFileSync(opts.pki.caCert),
    requestCert: true,
    rejectUnauthorized: true,
  });
  const proxy: GrpcTlsProxy = { address: '', refused: 0, forwarded: 0, handshakeErrors: [], close: async () => undefined };
  server.on('tlsClientError', (err: NodeJS.ErrnoException) => proxy.handshakeErrors.push(`${err.code ?? ''} ${err.message}`));

  server.on('stream', (stream, headers) => {
    stream.on('error', () => undefined);
    const authorization = String(headers.authorization ?? '');
    if (authorization !== `Bearer ${opts.apiKey}`) {
      proxy.refused++;
      // A trailers-only gRPC answer: UNAUTHENTICATED.
      stream.respond({ [HTTP2_HEADER_STATUS]: 200, 'content-type': 'application/grpc', 'grpc-status': '16', 'grpc-message': 'missing or wrong API key' }, { endStream: true });
      return;
    }
    proxy.forwarded++;
    const forwarded: http2.OutgoingHttpHeaders = { ':method': headers[':method'], ':path': headers[':path'] };
    for (const [name, value] of Object.entries(headers)) if (!HOP_BY_HOP.has(name) && value !== undefined) forwarded[name] = value;
    const call = upstream.request(forwarded);
    call.on('error', () => stream.close(http2.constants.NGHTTP2_INTERNAL_ERROR));
    stream.pipe(call);
    let trailers: http2.IncomingHttpHeaders | undefined;
    call.on('response', (responseHeaders, flags) => {
      if (stream.closed) return;
      if (flags & NGHTTP2_FLAG_END_STREAM) {
        stream.respond(withoutPseudo(responseHeaders, true), { endStream: true });
        return;
      }
      stream.respond(withoutPseudo(responseHeaders, true), { waitForTrailers: true });
      call.pipe(stream);
    });
    call.on('trailers', (t) => (trailers = t));
    stream.on('wantTrailers', () => stream.sendTrailers(withoutPseudo(trailers ?? {}, false)));
    stream.on('close', () => call.close());
  });

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  proxy.address = `localhost:${(server.address() as AddressInfo).port}`;
  proxy.close = async () => {
    upstream.close();
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      // Long polls would otherwise hold close() open.
      for (const session of sessions) session.destroy();
    });
  };
  const sessions = new Set<http2.ServerHttp2Session>();
  server.on('session', (session) => {
    sessions.add(session);
    session.on('close', () => sessions.delete(session));
  });
  return proxy;
}

function withoutPseudo(headers: http2.IncomingHttpHeaders, keepStatus: boolean): http2.OutgoingHttpHeaders {
  const out: http2.OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(headers)) {
    if (name === HTTP2_HEADER_STATUS ? keepStatus : !name.startsWith(':')) out[name] = value;
  }
  return out;
}
