// The workflow modules are evaluated once per workflow thread and shared by every conversation it runs
// (the bundle preloads them: src/worker/workflow-bundle.ts). What makes that safe is a lint rule on
// src/conversation: no module-level `let`, `var` or writable collection, since state kept there would
// pass from one conversation to the next. Each case lints a few lines as if they were a file at that
// path, through the project's own config, as the layer tests do.
import path from 'node:path';
import { ESLint } from 'eslint';
import { bundleWorkflows } from '../../rigs/bundle';
import { problemsOf, projectConfig, ROOT } from './project-eslint';

/** The module-state rule's complaints (no-restricted-syntax, set for src/conversation in eslint.config.js). */
const moduleStateProblems = problemsOf('no-restricted-syntax');

describe('workflow modules shared by every conversation', () => {
  it('are preloaded by the bundle, the tracing interceptors not', async () => {
    const { code } = await bundleWorkflows();
    const preload = /exports\.preloadModules = function preloadModules\(\) \{([^}]*)\}/.exec(code)?.[1] ?? '';
    expect(preload).toMatch(/src\/conversation\/workflows\/index\.(js|ts)/);
    // The interceptors hold each workflow's OpenTelemetry (loaded by its first traced call).
    expect(preload).not.toMatch(/tracing-workflow-interceptors/);
  });

  it('hold no state at module level', async () => {
    for (const file of ['src/conversation/x.ts', 'src/conversation/workflows/x.ts']) {
      expect(await moduleStateProblems(file, 'let last: string | undefined;\nexport const remember = (v: string) => (last = v);\n')).toEqual([
        expect.stringContaining('No module-level let or var'),
      ]);
      expect(await moduleStateProblems(file, 'export let count = 0;\nexport const bump = () => count++;\n')).toHaveLength(1);
      expect(await moduleStateProblems(file, 'var seen = 0;\nexport const see = () => seen++;\n')).toHaveLength(1);
      expect(await moduleStateProblems(file, 'const byId = new Map<string, number>();\nexport const put = (k: string) => byId.set(k, 1);\n')).toEqual([
        expect.stringContaining('type it Readonly'),
      ]);
      expect(await moduleStateProblems(file, 'export const names = new Set<string>();\n')).toHaveLength(1);

      // Constants, lookup tables typed read-only, and state inside a function are fine.
      expect(
        await moduleStateProblems(
          file,
          [
            "const FIELDS: ReadonlySet<string> = new Set(['a', 'b']);",
            "export const LIMITS = { names: 500 } as const;",
            'export function fold(events: string[]): number {',
            '  let n = 0;',
            '  const seen = new Set<string>();',
            '  for (const e of events) if (FIELDS.has(e) && !seen.has(e)) { seen.add(e); n++; }',
            '  return n;',
            '}',
          ].join('\n'),
        ),
      ).toEqual([]);
    }
    // Outside the bundle the rule does not apply.
    expect(await moduleStateProblems('src/api/x.ts', 'let last = 0;\nexport const f = () => last++;\n')).toEqual([]);
  });

  it('is on for the real files of the bundle', async () => {
    const real = new ESLint({ cwd: ROOT, overrideConfigFile: true, baseConfig: projectConfig });
    for (const file of ['src/conversation/workflows/conversation.ts', 'src/conversation/state.ts', 'src/conversation/contracts/crm.ts']) {
      const config = (await real.calculateConfigForFile(path.join(ROOT, file))) as { rules: Record<string, [number, ...unknown[]] | undefined> };
      expect([file, config.rules['no-restricted-syntax']?.[0]]).toEqual([file, 2]);
    }
  });
});
