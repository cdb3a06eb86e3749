// Loose readers for the operator files in deploy/: the metric names a PromQL expression uses, the
// metric families a /metrics page exports, and the rules of a Prometheus rule file. Loose on purpose:
// promtool (when installed) is the strict check of the rule file; these only have to find names.

/** PromQL words that are not series: keywords and set/aggregation modifiers. */
const KEYWORDS = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'bool', 'and', 'or', 'unless', 'offset', 'inf', 'nan']);

/**
 * Metric names an expression selects: identifiers outside label matchers, ranges and grouping
 * clauses that are not called like functions (`rate(`, `sum(`) and are not keywords.
 */
export function metricNamesIn(expr: string): string[] {
  const stripped = expr
    // Grafana variables ($__rate_interval, ${DS_PROMETHEUS}) and quoted strings (label values, regexes).
    .replace(/\$\{[^}]*\}|\$\w+/g, ' ')
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g, '""')
    // Label matchers, ranges and subqueries, and the label lists of by/without/on/ignoring/group_*.
    .replace(/\{[^}]*\}/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ');
  const names = new Set<string>();
  for (const match of stripped.matchAll(/[A-Za-z_:][A-Za-z0-9_:]*/g)) {
    const name = match[0];
    const after = stripped.slice(match.index! + name.length).trimStart();
    if (after.startsWith('(')) continue; // a function or an aggregation
    if (KEYWORDS.has(name.toLowerCase())) continue;
    // A number's exponent or unit (1e3, 5m as an offset) is not a name.
    if (match.index! > 0 && /[0-9.]/.test(stripped[match.index! - 1])) continue;
    names.add(name);
  }
  return [...names].sort();
}

export interface ExportedMetrics {
  /** Every sample name on the page (histograms' `_bucket`, `_sum`, `_count` included). */
  samples: Set<string>;
  /** Families declared by `# TYPE`, with their type; a labelled family with no sample yet has only this. */
  families: Map<string, string>;
}

/** The metric names of a Prometheus text-format page. */
export function exportedMetrics(page: string): ExportedMetrics {
  const samples = new Set<string>();
  const families = new Map<string, string>();
  for (const line of page.split('\n')) {
    const type = /^# TYPE (\S+) (\S+)/.exec(line);
    if (type) families.set(type[1], type[2]);
    else if (line && !line.startsWith('#')) samples.add(/^[^{\s]+/.exec(line)![0]);
  }
  return { samples, families };
}

const SERIES_SUFFIXES: Record<string, string[]> = { histogram: ['_bucket', '_sum', '_count'], summary: ['_sum', '_count'], counter: ['_total'] };

/**
 * Whether a name an expression uses is exported: as a sample, as a family, or as a series of a
 * family of the right type (`x_bucket` of histogram `x`, `x_total` of a counter declared as `x`).
 */
export function isExported(name: string, by: ExportedMetrics[]): boolean {
  return by.some(({ samples, families }) => {
    if (samples.has(name) || families.has(name)) return true;
    return Object.entries(SERIES_SUFFIXES).some(([type, suffixes]) =>
      suffixes.some((suffix) => name.endsWith(suffix) && families.get(name.slice(0, -suffix.length)) === type),
    );
  });
}

export interface RuleBlock {
  alert: string;
  expr: string;
  /** The rule's whole text, for the checks on `for:`, labels and annotations. */
  text: string;
}

/**
 * The alerting rules of a rule file as written in deploy/prometheus: each starts at `- alert: Name`;
 * `expr:` holds one line or a `|`/`>` block indented under it.
 */
export function alertRules(yaml: string): RuleBlock[] {
  const lines = yaml.split('\n');
  const rules: RuleBlock[] = [];
  for (let i = 0; i < lines.length; i++) {
    const start = /^(\s*)- alert:\s*(\S+)/.exec(lines[i]);
    if (!start) continue;
    const indent = start[1].length;
    let end = i + 1;
    while (end < lines.length && !(lines[end].trim() && leadingSpaces(lines[end]) <= indent)) end++;
    const body = lines.slice(i, end);
    const exprAt = body.findIndex((line) => /^\s*expr:/.test(line));
    let expr = '';
    if (exprAt >= 0) {
      const inline = body[exprAt].replace(/^\s*expr:\s*/, '');
      if (/^[|>]/.test(inline)) {
        const exprIndent = leadingSpaces(body[exprAt]);
        const block: string[] = [];
        for (let j = exprAt + 1; j < body.length && (!body[j].trim() || leadingSpaces(body[j]) > exprIndent); j++) block.push(body[j].trim());
        expr = block.join(' ').trim();
      } else {
        expr = inline.trim();
      }
    }
    rules.push({ alert: start[2], expr, text: body.join('\n') });
  }
  return rules;
}

function leadingSpaces(line: string): number {
  return line.length - line.trimStart().length;
}
