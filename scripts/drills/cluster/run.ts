// What every cluster drill does around its fault: conversations sent through nginx as a routing
// platform and its flows would (redelivering on 502/503 and on no answer, traffic.ts), the fault
// injected while they run, then the exact audit: every accepted webhook and write reflected once,
// every conversation completed, every closed one exported once; crashes counted from this drill only.
import path from 'node:path';
import type { ClusterStack } from '../../../rigs/cluster-stack';
import type { CrmPeer } from '../../../rigs/crm-peer';
import type { DrillAudit, DrillContext } from '../drill';
import { ApiClient, Ledger } from '../traffic';
import { driveThrough, scaled } from '../util';
import { auditFolderExports } from './exports';

export const CRM_CONFIGURATION = 'drill-crm';
/** A CRM workflow the peer fails (500) on every call: its outcome is what the crm-outcome-of-last-attempt patch changed. */
export const CRM_FAILING_WORKFLOW = 'failingLookup';

export interface ClusterDrillContext extends DrillContext {
  stack: ClusterStack;
  /** The CRM every process is configured with (CRM_CONFIGURATION). */
  crm: CrmPeer;
}

/** Where the stack's workers export (EXPORT_DIR, shared by every worker as a volume would be). */
export const exportDir = (stack: ClusterStack): string => path.join(stack.opts.workDir, 'exports');

export async function withTraffic(
  ctx: ClusterDrillContext,
  opts: {
    prefix: string;
    conversations: number;
    faults: () => Promise<Record<string, string | number>>;
    /** Instead of the standard conversation (it must still close it with its fourth event). */
    conversation?: (ledger: Ledger, id: string, i: number) => Promise<void>;
  },
): Promise<DrillAudit> {
  const { stack, scale, log } = ctx;
  const crashesBefore = stack.crashes();
  const conversations = scaled(opts.conversations, scale, 10);
  const api = new ApiClient(() => stack.apiUrl, stack.credentials);
  const ledger = new Ledger(api, { retryForMs: 180_000 });
  let faultsDone = false;
  const prefix = `${opts.prefix}-${Date.now().toString(36)}-`;
  const traffic = driveThrough(conversations, Math.min(conversations, 10), () => faultsDone, (i) =>
    opts.conversation ? opts.conversation(ledger, `${prefix}${i}`, i) : ledger.standardConversation(`${prefix}${i}`, { secured: i % 4 === 0 }),
  );
  let facts: Record<string, string | number>;
  try {
    facts = await opts.faults();
  } finally {
    faultsDone = true;
  }
  const started = await traffic;
  log(`traffic done (${started} conversations); auditing`);
  const since = (): string[] => {
    const left = [...crashesBefore];
    return stack.crashes().filter((c) => {
      const i = left.indexOf(c);
      if (i < 0) return true;
      left.splice(i, 1);
      return false;
    });
  };
  const audit = await ledger.audit({ client: stack.client, participantData: stack.participantData, crashes: since }, 180_000, log);
  const exported = await auditFolderExports(exportDir(stack), ledger, 120_000, prefix);
  audit.accepted.exports = exported.accepted;
  audit.reflected.exports = exported.reflected;
  audit.lost += exported.lost;
  audit.doubled += exported.doubled;
  audit.violations = [...(audit.violations ?? []), ...exported.violations];
  audit.facts = { conversations: started, ...facts, 'unexpected exits': since().join(', ') || 'none', ...audit.facts };
  return audit;
}
