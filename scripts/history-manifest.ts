// The manifest of the recorded replay histories (test/histories/manifest.json): the workflow code
// they were recorded against and the patch ids their markers hold. `npm run record-histories`
// writes it; test/replay reads it to tell when the bundle changed without histories recorded on the
// new code, or a patch was added that no history exercises.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import ts from 'typescript';
import { temporal } from '@temporalio/proto';

export const RECORD_COMMAND = 'npm run record-histories';
export const HISTORY_SUFFIX = '.history.binpb';
export const MANIFEST_FILE = 'manifest.json';
/** The versions module, where patch ids are listed (and the policy stated). */
export const VERSIONS_FILE = 'src/conversation/versions.ts';

export interface HistoryManifest {
  recordedWith: string;
  /** Per bundle source file (repository-relative path): codeFingerprint of its content. */
  bundle: Record<string, string>;
  /** Per recorded history file: sha256 of its bytes. */
  histories: Record<string, string>;
  /** Patch ids found in the recorded histories' markers, sorted. */
  patchIds: string[];
}

/** The repository root: the nearest folder above this file (source or dist/) that holds the bundle. */
export function repoRoot(from = __dirname): string {
  for (let dir = from; ; dir = path.dirname(dir)) {
    if (fs.existsSync(path.join(dir, 'package.json')) && fs.existsSync(path.join(dir, 'src', 'conversation'))) return dir;
    if (path.dirname(dir) === dir) throw new Error(`no repository root above ${from}`);
  }
}

export function historiesDir(root = repoRoot()): string {
  return path.join(root, 'test', 'histories');
}

/**
 * A sha256 of what a TypeScript file does, not how it is written: types and comments are removed
 * (transpileModule), and the hash is taken over the syntax tree of the JavaScript that remains
 * (node kinds, names, literal values, operators), so layout, line breaks, quotes, trailing commas
 * and type-only edits leave it unchanged, while any change to the code changes it.
 */
export function codeFingerprint(source: string, fileName: string): string {
  const js = ts.transpileModule(source, {
    fileName,
    compilerOptions: { target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.CommonJS, removeComments: true },
  }).outputText;
  const tree = ts.createSourceFile('code.js', js, ts.ScriptTarget.ES2022, false, ts.ScriptKind.JS);
  const hash = crypto.createHash('sha256');
  const visit = (node: ts.Node): void => {
    hash.update(ts.SyntaxKind[node.kind]);
    const detail = detailOf(node);
    if (detail !== undefined) hash.update(JSON.stringify(detail));
    hash.update('(');
    ts.forEachChild(node, visit);
    hash.update(')');
  };
  visit(tree);
  return hash.digest('hex');
}

/** What a node holds besides its children: a name, a literal's value, an operator, a declaration keyword. */
function detailOf(node: ts.Node): string | undefined {
  if (ts.isIdentifier(node) || ts.isPrivateIdentifier(node)) return node.text;
  if (ts.isLiteralExpression(node) || ts.isTemplateLiteralToken(node)) return node.text;
  if (ts.isPrefixUnaryExpression(node) || ts.isPostfixUnaryExpression(node)) return ts.SyntaxKind[node.operator];
  if (ts.isVariableDeclarationList(node)) return String(node.flags & ts.NodeFlags.BlockScoped);
  if (ts.isMetaProperty(node)) return ts.SyntaxKind[node.keywordToken];
  if (ts.isHeritageClause(node)) return ts.SyntaxKind[node.token];
  return undefined;
}

/** Every .ts file of the workflow bundle (src/conversation), by repository-relative path, with its codeFingerprint. */
export function bundleFingerprint(root = repoRoot()): Record<string, string> {
  const fingerprint: Record<string, string> = {};
  for (const file of bundleFiles(root)) fingerprint[file] = codeFingerprint(fs.readFileSync(path.join(root, file), 'utf8'), file);
  return fingerprint;
}

function bundleFiles(root: string): string[] {
  const found: string[] = [];
  const walk = (dir: string): void => {
    for (const entry of fs.readdirSync(path.join(root, dir), { withFileTypes: true })) {
      const rel = `${dir}/${entry.name}`;
      if (entry.isDirectory()) walk(rel);
      else if (entry.name.endsWith('.ts')) found.push(rel);
    }
  };
  walk('src/conversation');
  return found.sort();
}

export function recordedHistoryFiles(dir = historiesDir()): string[] {
  if (!fs.existsSync(dir)) return [];
  return fs.readdirSync(dir).filter((file) => file.endsWith(HISTORY_SUFFIX)).sort();
}

export function historyDigests(dir = historiesDir()): Record<string, string> {
  const digests: Record<string, string> = {};
  for (const file of recordedHistoryFiles(dir)) digests[file] = crypto.createHash('sha256').update(fs.readFileSync(path.join(dir, file))).digest('hex');
  return digests;
}

/** The patch ids a history's markers hold (patched() and deprecatePatch() both record one). */
export function patchIdsIn(history: temporal.api.history.v1.IHistory): string[] {
  const ids = new Set<string>();
  for (const event of history.events ?? []) {
    const marker = event.markerRecordedEventAttributes;
    if (marker?.markerName !== 'core_patch') continue;
    for (const payload of marker.details?.['patch-data']?.payloads ?? []) {
      const { id } = JSON.parse(Buffer.from(payload.data ?? []).toString('utf8')) as { id?: unknown };
      if (typeof id === 'string') ids.add(id);
    }
  }
  return [...ids].sort();
}

export function recordedPatchIds(dir = historiesDir()): string[] {
  const ids = new Set<string>();
  for (const file of recordedHistoryFiles(dir)) {
    const history = temporal.api.history.v1.History.decode(fs.readFileSync(path.join(dir, file)));
    for (const id of patchIdsIn(history)) ids.add(id);
  }
  return [...ids].sort();
}

export function buildManifest(root = repoRoot(), dir = historiesDir(root)): HistoryManifest {
  return { recordedWith: RECORD_COMMAND, bundle: bundleFingerprint(root), histories: historyDigests(dir), patchIds: recordedPatchIds(dir) };
}

export function readManifest(dir = historiesDir()): HistoryManifest | undefined {
  const file = path.join(dir, MANIFEST_FILE);
  return fs.existsSync(file) ? (JSON.parse(fs.readFileSync(file, 'utf8')) as HistoryManifest) : undefined;
}

export function writeManifest(manifest: HistoryManifest, dir = historiesDir()): void {
  fs.writeFileSync(path.join(dir, MANIFEST_FILE), `${JSON.stringify(manifest, null, 2)}\n`);
}

const RECORD_AGAIN = `record the histories again with \`${RECORD_COMMAND}\` and commit test/histories/ (the histories and ${MANIFEST_FILE})`;

/**
 * What is wrong between the manifest and the code and histories as they are now, each problem with
 * what to do about it; empty when the histories were recorded on this code.
 */
export function manifestProblems(
  manifest: HistoryManifest | undefined,
  now: { bundle: Record<string, string>; histories: Record<string, string> },
): string[] {
  if (!manifest) return [`test/histories/${MANIFEST_FILE} is missing: ${RECORD_AGAIN}.`];
  const problems: string[] = [];
  const bundle = compare(manifest.bundle, now.bundle);
  if (bundle) {
    problems.push(
      `The workflow bundle's code changed since the replay histories were recorded (${bundle}). If the change alters the ` +
        `commands a running conversation issues, put it behind patched(PATCHES.<name>) with the id added to PATCHES in ` +
        `${VERSIONS_FILE} (the policy is stated there) and make a test that records a history (recordHistory) go ` +
        `through the new branch. Then ${RECORD_AGAIN}.`,
    );
  }
  const histories = compare(manifest.histories, now.histories);
  if (histories) {
    problems.push(`test/histories/ does not hold the histories ${RECORD_COMMAND} recorded (${histories}): do not add, edit or remove them by hand; ${RECORD_AGAIN}.`);
  }
  return problems;
}

function compare(recorded: Record<string, string>, now: Record<string, string>): string | undefined {
  const changed = Object.keys(now).filter((name) => Object.hasOwn(recorded, name) && recorded[name] !== now[name]);
  const added = Object.keys(now).filter((name) => !Object.hasOwn(recorded, name));
  const removed = Object.keys(recorded).filter((name) => !Object.hasOwn(now, name));
  const parts = [
    ...(changed.length > 0 ? [`changed: ${changed.join(', ')}`] : []),
    ...(added.length > 0 ? [`added: ${added.join(', ')}`] : []),
    ...(removed.length > 0 ? [`removed: ${removed.join(', ')}`] : []),
  ];
  return parts.length > 0 ? parts.join('; ') : undefined;
}

/** A problem for every patch id the versions module lists that no recorded history's markers hold. */
export function unrecordedPatchProblems(declared: readonly string[], recorded: readonly string[]): string[] {
  const missing = declared.filter((id) => !recorded.includes(id));
  if (missing.length === 0) return [];
  return [
    `Patch id(s) ${missing.map((id) => `"${id}"`).join(', ')} listed in ${VERSIONS_FILE} appear in no recorded history's ` +
      `markers, so no history exercises the patched code. Make a test that records a history (recordHistory) drive a ` +
      `conversation through it, then ${RECORD_AGAIN}.`,
  ];
}

/**
 * A problem for every patched() or deprecatePatch() call whose id is not taken from the versions
 * module (PATCHES.<name>, DEPRECATED_PATCHES.<name>): an id written anywhere else escapes the checks above.
 */
export function patchCallProblems(fileName: string, source: string): string[] {
  const tree = ts.createSourceFile(fileName, source, ts.ScriptTarget.ES2022, true, ts.ScriptKind.TS);
  const problems: string[] = [];
  const listFor: Record<string, string> = { patched: 'PATCHES', deprecatePatch: 'DEPRECATED_PATCHES' };
  const visit = (node: ts.Node): void => {
    if (ts.isCallExpression(node) && ts.isIdentifier(node.expression) && Object.hasOwn(listFor, node.expression.text)) {
      const list = listFor[node.expression.text];
      const [arg] = node.arguments;
      const listed = arg !== undefined && ts.isPropertyAccessExpression(arg) && ts.isIdentifier(arg.expression) && arg.expression.text === list;
      if (!listed) {
        const { line } = tree.getLineAndCharacterOfPosition(node.getStart(tree));
        problems.push(`${fileName}:${line + 1} calls ${node.getText(tree)}: pass an id listed in ${VERSIONS_FILE}, as ${node.expression.text}(${list}.<name>).`);
      }
    }
    ts.forEachChild(node, visit);
  };
  visit(tree);
  return problems;
}

export function bundlePatchCallProblems(root = repoRoot()): string[] {
  return bundleFiles(root).flatMap((file) => patchCallProblems(file, fs.readFileSync(path.join(root, file), 'utf8')));
}
