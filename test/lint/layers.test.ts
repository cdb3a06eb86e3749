// The layers of the house are an ESLint rule (lint/layers.js, enabled by eslint.config.js): imports
// point down (src/main, src/cli → src/api, src/worker → activities → adapters → src/platform →
// src/conversation), the workflow bundle imports only the workflow SDK and itself, and code outside
// it (tests excepted) reaches it only through its index. Each case lints a few lines as if they were
// a file at that path, through the project's own config.
import path from 'node:path';
import { ESLint } from 'eslint';
import { problemsOf, projectConfig, ROOT } from './project-eslint';

const RULE = 'layers/imports-point-down';
/** The layer rule's complaints about `code` as the file at `file`. */
const layerProblems = problemsOf(RULE);

describe('the layer border', () => {
  it('keeps the workflow bundle to the workflow SDK and its own files', async () => {
    expect(await layerProblems('src/conversation/x.ts', "import { readFileSync } from 'node:fs';\nexport const read = readFileSync;\n")).toEqual([
      expect.stringContaining("not 'node:fs'"),
    ]);
    expect(await layerProblems('src/conversation/x.ts', "import { buildApi } from '../api/server';\nexport const api = buildApi;\n")).toEqual([
      expect.stringContaining("not '../api/server'"),
    ]);
    expect(await layerProblems('src/conversation/x.ts', "import { Client } from '@temporalio/client';\nexport const c = Client;\n")).toHaveLength(1);
    // A type import counts too: the workflows' activity types belong behind the bundle's border.
    expect(await layerProblems('src/conversation/workflows/x.ts', "import type { Activities } from '../../../activities';\nexport type A = Activities;\n")).toHaveLength(1);
    expect(await layerProblems('src/conversation/x.ts', "const fs = require('node:fs');\nexport const f = fs;\n")).toHaveLength(1);
    expect(await layerProblems('src/conversation/x.ts', "export const load = () => import('node:fs');\n")).toHaveLength(1);

    expect(
      await layerProblems(
        'src/conversation/workflows/x.ts',
        [
          "import { sleep } from '@temporalio/workflow';",
          "import { ApplicationFailure } from '@temporalio/common';",
          "import { ErrorType } from '../messages';",
          "import { exportWorkflow } from './export';",
          "export * from '../contracts/crm';",
          'export const all = [sleep, ApplicationFailure, ErrorType, exportWorkflow];',
        ].join('\n'),
      ),
    ).toEqual([]);
  });

  it('lets code outside the bundle reach it only through its index', async () => {
    expect(await layerProblems('src/api/x.ts', "import { startSearchAttributes } from '../conversation/conversation-state';\nexport const s = startSearchAttributes;\n")).toEqual([
      expect.stringContaining("through its index ('../conversation')"),
    ]);
    expect(await layerProblems('activities/x.ts', "import type { ConversationState } from '../src/conversation/messages';\nexport type S = ConversationState;\n")).toHaveLength(1);
    expect(await layerProblems('src/api/x.ts', "export { conversationWorkflow } from '../conversation/workflows/conversation';\n")).toHaveLength(1);
    // Any spelling of the same file is the same file.
    expect(await layerProblems('src/api/x.ts', "import { ErrorType } from '../../src/conversation/messages';\nexport const e = ErrorType;\n")).toHaveLength(1);

    expect(await layerProblems('src/api/x.ts', "import { ErrorType } from '../conversation';\nexport const e = ErrorType;\n")).toEqual([]);
    expect(await layerProblems('src/api/x.ts', "import { ErrorType } from '../conversation/index';\nexport const e = ErrorType;\n")).toEqual([]);
    // Tests may reach the internals they test.
    expect(await layerProblems('test/x.test.ts', "import { startSearchAttributes } from '../src/conversation/conversation-state';\nexport const s = startSearchAttributes;\n")).toEqual([]);
  });

  it('lets imports point down the layers only', async () => {
    expect(await layerProblems('src/platform/x.ts', "import { buildApi } from '../api/server';\nexport const api = buildApi;\n")).toEqual([
      expect.stringContaining('src/platform may not import src/api'),
    ]);
    expect(await layerProblems('src/platform/x.ts', "import type { ParticipantDataStore } from '../store';\nexport type S = ParticipantDataStore;\n")).toHaveLength(1);
    expect(await layerProblems('src/store/x.ts', "import { createActivities } from '../../activities';\nexport const a = createActivities;\n")).toHaveLength(1);
    expect(await layerProblems('src/channels/x.ts', "import { HttpError } from '../api/temporal-errors';\nexport const e = HttpError;\n")).toHaveLength(1);
    expect(await layerProblems('activities/x.ts', "import { startWorker } from '../src/worker/worker';\nexport const w = startWorker;\n")).toHaveLength(1);
    expect(await layerProblems('src/worker/x.ts', "import { main } from '../main/worker';\nexport const m = main;\n")).toHaveLength(1);
    expect(await layerProblems('src/api/x.ts', "import { sign } from '../cli/sign';\nexport const s = sign;\n")).toHaveLength(1);

    // Down, or across within a layer.
    expect(await layerProblems('src/main/x.ts', "import { buildApi } from '../api/server';\nexport const api = buildApi;\n")).toEqual([]);
    expect(await layerProblems('src/worker/x.ts', "import { createActivities } from '../../activities';\nexport const a = createActivities;\n")).toEqual([]);
    expect(await layerProblems('activities/x.ts', "import { createParticipantDataStore } from '../src/store';\nexport const s = createParticipantDataStore;\n")).toEqual([]);
    expect(await layerProblems('src/export/x.ts', "import type { ParticipantDataStore } from '../store';\nexport type S = ParticipantDataStore;\n")).toEqual([]);
    expect(await layerProblems('src/security/x.ts', "import { loadConfig } from '../platform/config';\nexport const c = loadConfig;\n")).toEqual([]);
    // scripts/ and test/ sit outside the layers.
    expect(await layerProblems('scripts/x.ts', "import { buildApi } from '../src/api/server';\nexport const api = buildApi;\n")).toEqual([]);
  });

  it('is on for every file, floating promises included in workflow code', async () => {
    const real = new ESLint({ cwd: ROOT, overrideConfigFile: true, baseConfig: projectConfig });
    for (const file of ['src/conversation/workflows/conversation.ts', 'src/api/server.ts', 'activities/index.ts', 'scripts/bench.ts', 'test/lint/layers.test.ts']) {
      const config = (await real.calculateConfigForFile(path.join(ROOT, file))) as { rules: Record<string, unknown> };
      expect([file, config.rules[RULE]]).toEqual([file, [2, { root: ROOT }]]);
      expect([file, config.rules['@typescript-eslint/no-floating-promises']]).toEqual([file, [2]]);
    }
  });
});
