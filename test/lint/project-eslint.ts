// The project's own ESLint config, for tests that lint a few lines as if they were a file at a given
// path and read one rule's complaints.
import path from 'node:path';
import { ESLint } from 'eslint';
import { configs } from 'typescript-eslint';

export const ROOT = path.resolve(__dirname, '..', '..');

// eslint.config.js is required, not found on disk: ESLint loads a config file through a dynamic
// import(), which jest's module sandbox refuses.
// eslint-disable-next-line @typescript-eslint/no-require-imports -- see above: the config is CommonJS and must load through jest's require
export const projectConfig = require(path.join(ROOT, 'eslint.config.js')) as ESLint.Options['baseConfig'];

/**
 * What `rule` says about `code` as the file at `file`; a parse failure fails the test. Type
 * information is off because the files linted here do not exist for TypeScript's project; the rules
 * tested this way need none.
 */
export function problemsOf(rule: string): (file: string, code: string) => Promise<string[]> {
  const eslint = new ESLint({
    cwd: ROOT,
    overrideConfigFile: true,
    baseConfig: projectConfig,
    overrideConfig: configs.disableTypeChecked,
    ruleFilter: ({ ruleId }) => ruleId === rule,
  });
  return async (file, code) => {
    const [result] = await eslint.lintText(code, { filePath: path.join(ROOT, file) });
    const fatal = result.messages.filter((m) => m.fatal);
    if (fatal.length) throw new Error(`${file} did not parse: ${fatal.map((m) => m.message).join('; ')}`);
    return result.messages.filter((m) => m.ruleId === rule).map((m) => m.message);
  };
}
