// @ts-check
'use strict';
const comments = require('@eslint-community/eslint-plugin-eslint-comments/configs');
const js = require('@eslint/js');
const { defineConfig, globalIgnores } = require('eslint/config');
const globals = require('globals');
const tseslint = require('typescript-eslint');
const layers = require('./lint/layers');

module.exports = defineConfig(
  globalIgnores(['dist/', 'coverage/', '.data/', '.tools/']),
  {
    // A disable that no longer silences anything is stale and goes.
    linterOptions: { reportUnusedDisableDirectives: 'error' },
  },
  js.configs.recommended,
  tseslint.configs.recommended,
  comments.recommended,
  {
    rules: {
      // Every exception says why, after ` -- `.
      '@eslint-community/eslint-comments/require-description': 'error',
      // A name that starts with _ is deliberately unused: a rest sibling dropped from a copy, or a
      // parameter kept for its position.
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', ignoreRestSiblings: true }],
    },
  },
  {
    files: ['**/*.ts'],
    languageOptions: {
      // Type-aware: one TypeScript program for the whole tree, from tsconfig.json.
      parserOptions: { projectService: true, tsconfigRootDir: __dirname },
    },
    rules: {
      // Workflow code included: a promise nobody awaits loses its rejection, and in a workflow an
      // unhandled rejection fails the workflow task.
      '@typescript-eslint/no-floating-promises': 'error',
      // A type-only import vanishes from the output, so the workflow bundle never pulls in the
      // module it was typed from (activities, for one). The house style: `import type { A }` when
      // every name is a type, `import { f, type A }` when some are values.
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports' }],
      '@typescript-eslint/no-import-type-side-effects': 'error',
    },
  },
  {
    // Plain CommonJS scripts that run before anything is built.
    files: ['**/*.js'],
    languageOptions: { sourceType: 'commonjs', globals: globals.node },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
  {
    // The workflow modules are evaluated once per workflow thread and shared by every conversation it
    // runs (src/worker/workflow-bundle.ts preloads them): state kept at module level would leak from
    // one conversation into another and break replay. A conversation's state lives in its workflow
    // function and is passed down; a lookup table built once is typed Readonly.
    files: ['src/conversation/**/*.ts'],
    rules: {
      'no-restricted-syntax': [
        'error',
        {
          selector: ":matches(Program, ExportNamedDeclaration) > VariableDeclaration[kind!='const']",
          message: 'No module-level let or var in src/conversation: its modules are shared by every conversation a worker runs; keep state in the workflow and pass it down.',
        },
        {
          selector:
            ":matches(Program, ExportNamedDeclaration) > VariableDeclaration > VariableDeclarator[init.type='NewExpression'][init.callee.name=/^(Map|Set|WeakMap|WeakSet|Array)$/]:not([id.typeAnnotation.typeAnnotation.typeName.name=/^Readonly/])",
          message: 'A module-level collection in src/conversation is shared by every conversation a worker runs: type it Readonly (a lookup table built once) or keep it in the workflow.',
        },
      ],
    },
  },
  {
    plugins: { layers },
    rules: { 'layers/imports-point-down': ['error', { root: __dirname }] },
  },
);
