// The cluster drills' export audit: every conversation whose CLOSED was accepted exported exactly
// once to the folder the workers share (EXPORT_DIR), holding every accepted write by name (a secured
// one as ciphertext, never its value); no export of a conversation the drill never sent.
import fs from 'node:fs';
import path from 'node:path';
import type { ExportDocument } from '../../../src/export';
import type { Ledger } from '../traffic';
import { sleep } from '../../../rigs/wait';

export interface ExportAudit {
  accepted: number;
  reflected: number;
  lost: number;
  doubled: number;
  violations: string[];
}

/** Export files by conversation id (the key's folder), temp files of an unfinished write left out. */
function exportFiles(dir: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  const walk = (d: string): void => {
    if (!fs.existsSync(d)) return;
    for (const entry of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, entry.name);
      if (entry.isDirectory()) walk(p);
      else if (entry.name.endsWith('.json') && !entry.name.startsWith('.')) {
        const id = path.basename(path.dirname(p));
        out.set(id, [...(out.get(id) ?? []), p]);
      }
    }
  };
  walk(dir);
  return out;
}

export async function auditFolderExports(dir: string, ledger: Ledger, settleMs: number, idPrefix: string): Promise<ExportAudit> {
  const out: ExportAudit = { accepted: 0, reflected: 0, lost: 0, doubled: 0, violations: [] };
  // The standard conversation's fourth event is its CLOSED.
  const closed = [...ledger.conversations.values()].filter((c) => c.events.length === 4 && c.events[3].acceptedAttempt !== undefined);
  // The export runs after the conversation ended (its own workflow): give the last ones time to land.
  const deadline = Date.now() + settleMs;
  const ours = (): Map<string, string[]> => new Map([...exportFiles(dir)].filter(([id]) => id.startsWith(idPrefix)));
  let files = ours();
  while (Date.now() < deadline && closed.some((c) => !files.has(c.id))) {
    await sleep(1_000);
    files = ours();
  }
  for (const c of closed) {
    out.accepted++;
    const objects = files.get(c.id) ?? [];
    files.delete(c.id);
    if (objects.length === 0) {
      out.lost++;
      out.violations.push(`${c.id}: no export`);
      continue;
    }
    out.doubled += objects.length - 1;
    const doc = JSON.parse(fs.readFileSync(objects[0], 'utf8')) as ExportDocument;
    const names = new Map(doc.participantData.map((a) => [a.name, a]));
    const writesThere = c.writes.filter((w) => w.accepted).every((w) => {
      const row = names.get(w.name);
      return row !== undefined && (w.secured ? row.secured && row.value !== w.value : row.value === w.value);
    });
    if (doc.conversationId === c.id && writesThere) out.reflected++;
    else {
      out.lost++;
      out.violations.push(`${c.id}: its export ${objects[0]} does not hold what the conversation accepted`);
    }
  }
  for (const [conversationId, objects] of files) {
    // A CLOSED the sender never saw confirmed may still have been recorded: its export is truthful.
    if (ledger.conversations.has(conversationId)) continue;
    out.doubled += objects.length;
    out.violations.push(`${objects.length} export(s) of ${conversationId}, which the drill never closed`);
  }
  return out;
}
