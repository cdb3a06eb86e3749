#!/usr/bin/env node
// Summarises V8 CPU profiles (node --cpu-prof, or BENCH_CPU_PROF=<dir> npm run bench): self time by
// package (node_modules/<name>, the project's own files, Node internals, idle, GC) and the top
// functions, so a profile can be read without a browser.
//   node scripts/cpu-profile-summary.js <file.cpuprofile|dir> [top=25]
'use strict';
const fs = require('node:fs');
const path = require('node:path');

const [target, topArg] = process.argv.slice(2);
if (!target) {
  console.error('usage: node scripts/cpu-profile-summary.js <file.cpuprofile|dir> [top]');
  process.exit(2);
}
const top = Number(topArg ?? 25);
const files = fs.statSync(target).isDirectory() ? fs.readdirSync(target).filter((f) => f.endsWith('.cpuprofile')).map((f) => path.join(target, f)) : [target];

function bucketOf(frame) {
  const url = frame.url || '';
  if (frame.functionName === '(idle)') return '(idle)';
  if (frame.functionName === '(garbage collector)') return '(gc)';
  if (frame.functionName === '(program)') return '(program)';
  const nm = url.lastIndexOf('node_modules/');
  if (nm >= 0) {
    const rest = url.slice(nm + 'node_modules/'.length).split('/');
    return rest[0].startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0];
  }
  if (url.startsWith('node:') || (!url.includes('/') && url)) return 'node internals';
  if (url.includes('/dist/')) return `parley ${url.slice(url.indexOf('/dist/') + 6).split('/').slice(0, 2).join('/')}`;
  return url ? 'other' : '(native)';
}

for (const file of files) {
  const profile = JSON.parse(fs.readFileSync(file, 'utf8'));
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map();
  const dt = profile.timeDeltas;
  for (let i = 0; i < profile.samples.length; i++) self.set(profile.samples[i], (self.get(profile.samples[i]) ?? 0) + (dt[i] ?? 0));
  const total = [...self.values()].reduce((a, b) => a + b, 0);
  const buckets = new Map();
  const fns = new Map();
  for (const [id, us] of self) {
    const node = byId.get(id);
    const b = bucketOf(node.callFrame);
    buckets.set(b, (buckets.get(b) ?? 0) + us);
    const key = `${node.callFrame.functionName || '(anonymous)'} ${path.basename(node.callFrame.url || '')}:${node.callFrame.lineNumber + 1} [${b}]`;
    fns.set(key, (fns.get(key) ?? 0) + us);
  }
  const idle = (buckets.get('(idle)') ?? 0);
  const busy = total - idle;
  console.log(`\n${path.basename(file)}: ${(total / 1e6).toFixed(1)} s sampled, ${(busy / 1e6).toFixed(1)} s busy (${((100 * busy) / total).toFixed(0)} %)`);
  console.log('  self time by package (share of busy):');
  for (const [b, us] of [...buckets].filter(([b]) => b !== '(idle)').sort((a, c) => c[1] - a[1]).slice(0, 15)) {
    console.log(`    ${((100 * us) / busy).toFixed(1).padStart(5)} %  ${(us / 1e6).toFixed(2).padStart(6)} s  ${b}`);
  }
  console.log(`  top ${top} functions by self time:`);
  for (const [k, us] of [...fns].filter(([k]) => !k.startsWith('(idle)')).sort((a, c) => c[1] - a[1]).slice(0, top)) {
    console.log(`    ${((100 * us) / busy).toFixed(1).padStart(5)} %  ${k}`);
  }
}
