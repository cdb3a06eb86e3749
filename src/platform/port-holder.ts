// Who holds a TCP port, so that "address in use" never comes without the port, the process holding
// it and the variable that moves ours elsewhere. Linux only (/proc); elsewhere the holder is unknown.
import fs from 'node:fs';
import net from 'node:net';

export interface PortHolder {
  pid: number;
  /** Its command line, as /proc shows it (arguments joined by spaces). */
  command: string;
}

/** A port Parley binds, with the variable that sets it. */
export interface NamedPort {
  port: number;
  variable: string;
  /** Who binds it: "the API", "the Temporal dev server". */
  owner: string;
  host: string;
}

export class PortInUseError extends Error {
  constructor(
    readonly port: NamedPort,
    readonly holder: PortHolder | undefined,
  ) {
    super(portInUseMessage(port, holder));
    this.name = 'PortInUseError';
  }
}

export function portInUseMessage(port: NamedPort, holder: PortHolder | undefined): string {
  const by = holder ? `process ${holder.pid} (${holder.command})` : `a process this user cannot see (\`ss -ltnp 'sport = :${port.port}'\` as root names it)`;
  return `port ${port.port} (${port.variable}, ${port.owner}) is already in use by ${by}: stop that process, or set ${port.variable} to a free port`;
}

/** The command line of a running process, or undefined if it is gone, a zombie, or not ours to read. */
export function commandLineOf(pid: number): string[] | undefined {
  try {
    const raw = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    // A zombie (exited, not yet reaped) has an empty command line: it holds nothing any more.
    if (!raw) return undefined;
    return raw.replace(/\0$/, '').split('\0');
  } catch {
    return undefined;
  }
}

/** The inodes of the sockets listening on `port` (IPv4 or IPv6, any address); undefined without /proc. */
function listeningInodes(port: number): Set<string> | undefined {
  const inodes = new Set<string>();
  let readable = false;
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text: string;
    try {
      text = fs.readFileSync(table, 'utf8');
      readable = true;
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const fields = line.trim().split(/\s+/);
      // local_address is ADDR:PORT in hex; state 0A is LISTEN; the inode is the tenth field.
      if (fields.length < 10 || fields[3] !== '0A') continue;
      if (parseInt(fields[1].split(':')[1], 16) === port) inodes.add(fields[9]);
    }
  }
  return readable ? inodes : undefined;
}

/** Whether process `pid` holds one of `inodes` among its open files (false if they cannot be read). */
function holdsSocket(pid: string, inodes: Set<string>): boolean {
  let fds: string[];
  try {
    fds = fs.readdirSync(`/proc/${pid}/fd`);
  } catch {
    return false; // Another user's process, or gone meanwhile.
  }
  for (const fd of fds) {
    let target: string;
    try {
      target = fs.readlinkSync(`/proc/${pid}/fd/${fd}`);
    } catch {
      continue;
    }
    const socket = /^socket:\[(\d+)\]$/.exec(target);
    if (socket && inodes.has(socket[1])) return true;
  }
  return false;
}

/** The process listening on `port` (IPv4 or IPv6, any address), if this user may see it. */
export function portHolder(port: number): PortHolder | undefined {
  const inodes = listeningInodes(port);
  if (!inodes || inodes.size === 0) return undefined;
  let pids: string[];
  try {
    pids = fs.readdirSync('/proc').filter((entry) => /^\d+$/.test(entry));
  } catch {
    return undefined;
  }
  const pid = pids.find((candidate) => holdsSocket(candidate, inodes));
  return pid === undefined ? undefined : { pid: Number(pid), command: (commandLineOf(Number(pid)) ?? ['?']).join(' ') };
}

/**
 * Whether process `pid` is what listens on `port`: false when something listens there and it is not
 * that process (another user's included); undefined where /proc cannot tell (not Linux, or no
 * listener to be seen).
 */
export function listensOn(pid: number, port: number): boolean | undefined {
  const inodes = listeningInodes(port);
  if (!inodes || inodes.size === 0) return undefined;
  return holdsSocket(String(pid), inodes);
}

/** Resolves if `port` can be bound on `host` now (it is released at once); otherwise the reason. */
export function canListen(host: string, port: number): Promise<NodeJS.ErrnoException | undefined> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', (err: NodeJS.ErrnoException) => resolve(err));
    server.listen({ host, port, exclusive: true }, () => server.close(() => resolve(undefined)));
  });
}

/** Throws PortInUseError for the first port some process already holds. */
export async function ensurePortsFree(ports: NamedPort[]): Promise<void> {
  for (const port of ports) {
    const err = await canListen(port.host, port.port);
    if (err?.code === 'EADDRINUSE') throw new PortInUseError(port, portHolder(port.port));
  }
}
