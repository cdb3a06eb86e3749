// The workflow modules are evaluated once per workflow thread and shared by every conversation it runs
// (the bundle preloads them: src/worker/workflow-bundle.ts). What makes that safe is a lint rule on
// src/conversation: no module-level `let`, `var` or writable collection, since state kept there would
// pass from one conversation to the next. Each case lints a few lines as if they were a file at that
// path, through the project's own config, as the layer tests do.
import path from 'node:path';
import { ESLint } from 'eslint';
import { configs } from 'typescript-eslint';
import { bundleWorkflows } from '../../rigs/bundle';

const ROOT = path.resolve(__dirname, '..', '..');
const RULE = 'no-restricted-syntax';

// eslint-disable-next-line @typescript-eslint/no-require-imports -- the config is CommonJS and must load through jest's require (see layers.test.ts)
const projectConfig = require(path.join(ROOT, 'eslint.config.js')) as ESLint.Options['baseConfig'];
const eslint = new ESLint({
  cwd: ROOT,
  overrideConfigFile: true,
  baseConfig: projectConfig,
  overrideConfig: configs.disableTypeChecked,
  ruleFilter: ({ ruleId }) => ruleId === RULE,
});

async function moduleStateProblems(file: string, code: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath: path.join(ROOT, file) });
  const fatal = result.messages.filter((m) => m.fatal);
  if (fatal.length) throw new Error(`${file} did not parse: ${fatal.map((m) => m.message).join('; ')}`);
  return result.messages.filter((m) => m.ruleId === RULE).map((m) => m.message);
}

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
});
