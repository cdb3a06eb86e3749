// The patch policy (src/conversation/versions.ts), enforced: the replay histories must have been
// recorded on the bundle's current code, every patch id listed must be exercised by a recorded
// history, and every patched() call must take its id from that list. Each failure says what to do.
import { PATCH_IDS } from '../../src/conversation/versions';
import { WORKFLOW_TYPES } from '../../src/conversation';
import { conversationWorkflow, exportWorkflow } from '../../src/conversation/workflows';
import {
  bundleFingerprint,
  bundlePatchCallProblems,
  codeFingerprint,
  historyDigests,
  manifestProblems,
  patchCallProblems,
  readManifest,
  recordedPatchIds,
  unrecordedPatchProblems,
  type HistoryManifest,
} from '../../scripts/history-manifest';

function failWith(problems: string[]): void {
  if (problems.length > 0) throw new Error(problems.join('\n\n'));
}

describe('the recorded histories against the code', () => {
  test('were recorded on the workflow bundle as it is now (test/histories/manifest.json)', () => {
    failWith(manifestProblems(readManifest(), { bundle: bundleFingerprint(), histories: historyDigests() }));
  });

  test('every patch id in src/conversation/versions.ts appears in a recorded history', () => {
    failWith(unrecordedPatchProblems(PATCH_IDS, recordedPatchIds()));
    // The manifest says the same as the histories it lists.
    expect(readManifest()?.patchIds).toEqual(recordedPatchIds());
  });

  test('every patched() and deprecatePatch() call takes its id from src/conversation/versions.ts', () => {
    failWith(bundlePatchCallProblems());
  });

  test('the workflow type names are the names the worker registers', () => {
    expect(WORKFLOW_TYPES).toEqual({ conversation: conversationWorkflow.name, export: exportWorkflow.name });
  });
});

describe('the checks themselves', () => {
  const source = `
import { x } from './x';
/** Says hello. */
export function greet(name: string): string {
  const parts = { greeting: 'hello', name };
  return \`\${parts.greeting} \${name}\` + x(-1);
}
`;
  const fingerprint = codeFingerprint(source, 'greet.ts');

  test.each([
    ['comments', source.replace('/** Says hello. */', '// Greets.\n/* twice */')],
    ['layout, quotes and trailing commas', source.replace("const parts = { greeting: 'hello', name };", 'const parts = {\n    greeting: "hello",\n    name,\n  };\n\n')],
    ['types', source.replace('(name: string): string', '(name: string | number): string').replace("import { x } from './x';", "import { x } from './x';\nexport type Name = string;")],
  ])('a change to %s keeps the fingerprint', (_what, edited) => {
    expect(codeFingerprint(edited, 'greet.ts')).toBe(fingerprint);
  });

  test.each([
    ['a string', source.replace("'hello'", "'hi'")],
    ['a template', source.replace('} ${name}`', '}, ${name}`')],
    ['an operator', source.replace('x(-1)', 'x(+1)')],
    ['a number', source.replace('x(-1)', 'x(-2)')],
    ['a name', source.replace('x(-1)', 'x(-1, parts)')],
    ['a statement', source.replace('  return', '  if (!name) return "";\n  return')],
  ])('a change to %s changes the fingerprint', (_what, edited) => {
    expect(codeFingerprint(edited, 'greet.ts')).not.toBe(fingerprint);
  });

  const recorded: HistoryManifest = {
    recordedWith: 'npm run record-histories',
    bundle: { 'src/conversation/a.ts': '1', 'src/conversation/b.ts': '2' },
    histories: { 'h.history.binpb': '3' },
    patchIds: [],
  };

  test('a bundle changed since the recording fails, naming the files, the patch to add and the command to run', () => {
    expect(manifestProblems(recorded, { bundle: recorded.bundle, histories: recorded.histories })).toEqual([]);
    const [problem, ...rest] = manifestProblems(recorded, {
      bundle: { 'src/conversation/a.ts': 'changed', 'src/conversation/c.ts': '4' },
      histories: recorded.histories,
    });
    expect(rest).toEqual([]);
    expect(problem).toContain('changed: src/conversation/a.ts; added: src/conversation/c.ts; removed: src/conversation/b.ts');
    expect(problem).toContain('patched(PATCHES.<name>)');
    expect(problem).toContain('src/conversation/versions.ts');
    expect(problem).toContain('`npm run record-histories`');
  });

  test('histories edited by hand, and a missing manifest, fail too', () => {
    expect(manifestProblems(recorded, { bundle: recorded.bundle, histories: { 'h.history.binpb': '3', 'extra.history.binpb': '5' } })).toEqual([
      expect.stringContaining('added: extra.history.binpb'),
    ]);
    expect(manifestProblems(undefined, { bundle: {}, histories: {} })).toEqual([expect.stringContaining('manifest.json is missing')]);
  });

  test('a patch id that no recorded history holds fails, naming it', () => {
    expect(unrecordedPatchProblems(['seen', 'new-rule'], ['seen'])).toEqual([expect.stringContaining('"new-rule"')]);
    expect(unrecordedPatchProblems(['seen'], ['seen', 'older'])).toEqual([]);
  });

  test('a patched() call with an id of its own fails, naming the line', () => {
    const code = "import { patched } from '@temporalio/workflow';\nimport { PATCHES } from '../versions';\nif (patched(PATCHES.listed)) f();\nif (patched('ad-hoc')) g();\n";
    expect(patchCallProblems('w.ts', code)).toEqual([expect.stringMatching(/^w\.ts:4 calls patched\('ad-hoc'\)/)]);
  });
});
