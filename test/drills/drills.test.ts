// The fast failure drills, at a test scale, inside `npm test`: each starts its own dev server,
// worker and API processes (and PostgreSQL / moto KMS where it needs them), injects its fault, and
// must end with an exact audit — nothing lost, nothing doubled, none of its own invariants broken.
// `npm run drills` runs the same drills at full scale.
import { drills } from '../../scripts/drills/index';
import { formatAudit, runDrill } from '../../scripts/drills/run';
import { ensureWorkerBuilt } from '../../rigs/worker-process';

const SCALE = Number(process.env.DRILLS_TEST_SCALE ?? '0.1');

beforeAll(() => ensureWorkerBuilt());

describe.each(drills.filter((d) => d.fast).map((d) => [d.name, d] as const))('drill %s', (_name, drill) => {
  test(`${drill.summary} (scale ${SCALE})`, async () => {
    const lines: string[] = [];
    const outcome = await runDrill(drill, { scale: SCALE, print: (line) => lines.push(line) });
    // On failure the whole audit (and where its logs were kept) is in the message.
    const report = `${formatAudit(outcome)}\n${lines.join('\n')}`;
    if (outcome.error) throw new Error(report);
    const audit = outcome.audit!;
    expect({ lost: audit.lost, doubled: audit.doubled, violations: audit.violations ?? [] }).toEqual({ lost: 0, doubled: 0, violations: [] });
    // Something was accepted, and every accepted input of every kind was found.
    expect(Object.values(audit.accepted).reduce((a, b) => a + b, 0)).toBeGreaterThan(0);
    expect(audit.reflected).toEqual(audit.accepted);
  }, 420_000);
});
