// @ts-check
'use strict';
// The house's layers as an ESLint rule. It resolves each import against the importing file, so
// any spelling of a path ('../conversation/messages', '../../src/conversation/messages') and any
// folder depth is judged by where it lands, and require() and import() count like import.
const path = require('node:path');

/** Top to bottom. An import may point down or stay in its own layer, never up. */
const LAYERS = [
  { name: 'entry points', folders: ['src/main', 'src/cli'] },
  { name: 'process composition', folders: ['src/api', 'src/worker'] },
  { name: 'activities', folders: ['activities'] },
  { name: 'adapters', folders: ['src/security', 'src/store', 'src/crm', 'src/channels', 'src/export'] },
  { name: 'platform', folders: ['src/platform'] },
  { name: 'the workflow bundle', folders: ['src/conversation'] },
];

// The workflow bundle runs in Temporal's deterministic workflow sandbox: it is bundled on its own,
// so it may reach nothing but the workflow SDK and its own files.
const BUNDLE = 'src/conversation';
const BUNDLE_PACKAGES = ['@temporalio/workflow', '@temporalio/common'];
// Tests may reach into the bundle's internals; everyone else goes through its index.
const MAY_IMPORT_BUNDLE_INTERNALS = ['test'];

const ORDER = LAYERS.map((l) => l.folders.join(', ')).join(' → ');

/** @param {string} rel @param {string} folder */
const within = (rel, folder) => rel === folder || rel.startsWith(`${folder}/`);
/** @param {string} rel */
const layerOf = (rel) => {
  const rank = LAYERS.findIndex((l) => l.folders.some((f) => within(rel, f)));
  return rank < 0 ? undefined : { rank, folder: /** @type {string} */ (LAYERS[rank].folders.find((f) => within(rel, f))) };
};
/** @param {string} spec */
const isRelative = (spec) => spec === '.' || spec === '..' || spec.startsWith('./') || spec.startsWith('../') || path.isAbsolute(spec);
/** The package a bare specifier names: 'node:fs', 'fastify', '@temporalio/workflow'. @param {string} spec */
const packageOf = (spec) => spec.split('/').slice(0, spec.startsWith('@') ? 2 : 1).join('/');
/** src/conversation itself or its index file. @param {string} rel */
const isBundleIndex = (rel) => rel.replace(/\.[cm]?[jt]s$/, '') === BUNDLE || rel.replace(/\.[cm]?[jt]s$/, '') === `${BUNDLE}/index`;

/** @type {import('eslint').Rule.RuleModule} */
const importsPointDown = {
  meta: {
    type: 'problem',
    docs: { description: 'Imports point down the layers; the workflow bundle imports only the workflow SDK and itself, and others reach it only through its index' },
    schema: [{ type: 'object', properties: { root: { type: 'string' } }, required: ['root'], additionalProperties: false }],
    messages: {
      upward: '{{from}} may not import {{to}}: imports point down the layers ({{order}}).',
      bundlePackage: "The workflow bundle may import only {{allowed}} and its own files, not '{{spec}}': it runs in Temporal's deterministic workflow sandbox.",
      bundleOutside: "The workflow bundle may import only its own files, not '{{spec}}' ({{to}}): it runs in Temporal's deterministic workflow sandbox.",
      bundleInternals: "Import the workflow bundle through its index ('{{index}}'), not its internals ('{{spec}}').",
    },
  },
  create(context) {
    const root = path.resolve(context.options[0].root);
    const file = path.relative(root, context.physicalFilename).split(path.sep).join('/');
    const fromLayer = layerOf(file);
    const inBundle = within(file, BUNDLE);
    const mayReachInternals = MAY_IMPORT_BUNDLE_INTERNALS.some((f) => within(file, f));

    /** @param {import('estree').Node} node @param {unknown} spec */
    const check = (node, spec) => {
      if (typeof spec !== 'string') return;
      if (!isRelative(spec)) {
        if (inBundle && !BUNDLE_PACKAGES.includes(packageOf(spec))) {
          context.report({ node, messageId: 'bundlePackage', data: { spec, allowed: BUNDLE_PACKAGES.join(', ') } });
        }
        return;
      }
      const target = path.relative(root, path.resolve(path.dirname(context.physicalFilename), spec)).split(path.sep).join('/');
      if (inBundle) {
        if (!within(target, BUNDLE)) context.report({ node, messageId: 'bundleOutside', data: { spec, to: target } });
        return;
      }
      if (within(target, BUNDLE) && !isBundleIndex(target) && !mayReachInternals) {
        const index = path.relative(path.dirname(context.physicalFilename), path.join(root, BUNDLE)).split(path.sep).join('/');
        context.report({ node, messageId: 'bundleInternals', data: { spec, index } });
        return;
      }
      const toLayer = layerOf(target);
      if (fromLayer && toLayer && toLayer.rank < fromLayer.rank) {
        context.report({ node, messageId: 'upward', data: { from: fromLayer.folder, to: toLayer.folder, order: ORDER } });
      }
    };
    /** @param {any} node a node with a string-literal `source` (ESTree and typescript-eslint share the shape) */
    const checkSource = (node) => node.source && check(node.source, node.source.value);

    return {
      ImportDeclaration: checkSource,
      ExportAllDeclaration: checkSource,
      ExportNamedDeclaration: checkSource,
      ImportExpression: (node) => node.source.type === 'Literal' && check(node.source, node.source.value),
      CallExpression(node) {
        const [arg] = node.arguments;
        if (node.callee.type === 'Identifier' && node.callee.name === 'require' && arg?.type === 'Literal') check(arg, arg.value);
      },
      // TypeScript's own forms: `import x = require('y')` and `typeof import('y')`. Their node types
      // are not in ESTree's typings, hence the plain objects.
      /** @param {any} node */
      TSExternalModuleReference: (node) => node.expression.type === 'Literal' && check(node.expression, node.expression.value),
      /** @param {any} node */
      TSImportType: (node) => node.argument?.literal && check(node.argument.literal, node.argument.literal.value),
    };
  },
};

module.exports = {
  meta: { name: 'parley-layers' },
  rules: { 'imports-point-down': importsPointDown },
  LAYERS,
};
