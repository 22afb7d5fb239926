// An alert rule's form: the strings its inputs bind to, their conversion
// both ways, and the checks made before saving.
import type { AlertRule, Severity } from './types';
import type { AlertKind } from './bindings/AlertKind';
import type { CmpOp } from './bindings/CmpOp';
import { checkDuration, formatLabelsText, num, opt, parseLabels, type FieldErrors } from './formparse';

export type { AlertKind, CmpOp };
export const ALERT_KINDS: AlertKind[] = ['threshold', 'stale', 'down', 'status', 'keyword'];
export const CMP_OPS: CmpOp[] = ['>', '>=', '<', '<=', '==', '!='];
export const SEVERITIES: Severity[] = ['info', 'warning', 'critical'];

export interface RuleForm {
  name: string;
  kind: AlertKind;
  metric: string;
  labels: string;
  op: CmpOp;
  value: string;
  clear: string;
  after: string;
  pattern: string;
  for: string;
  /** How long the condition stays cleared before the alert resolves. */
  resolveFor: string;
  severity: Severity;
  summary: string;
}

export function emptyRule(kind: AlertKind = 'threshold', metric = ''): RuleForm {
  return {
    name: '', kind, metric, labels: '', op: '>', value: '', clear: '', after: kind === 'stale' || kind === 'down' ? '1m' : '',
    pattern: '', for: '', resolveFor: '', severity: 'warning', summary: '',
  };
}

export function ruleFromConfig(r: AlertRule): RuleForm {
  return {
    name: r.name,
    kind: r.kind,
    metric: r.metric ?? '',
    labels: formatLabelsText(r.labels),
    op: r.op ?? '>',
    value: r.value === null || r.value === undefined ? '' : String(r.value),
    clear: r.clear === null || r.clear === undefined ? '' : String(r.clear),
    after: r.after ?? '',
    pattern: r.pattern ?? '',
    for: r.for ?? '',
    resolveFor: r.resolve_for ?? '',
    severity: r.severity,
    summary: r.summary ?? '',
  };
}

/** The rule as the API takes it: only the fields its kind uses. */
export function ruleToConfig(f: RuleForm): AlertRule {
  const r: AlertRule = { name: f.name.trim(), kind: f.kind, severity: f.severity };
  if (f.kind === 'threshold') {
    r.metric = opt(f.metric);
    const labels = parseLabels(f.labels);
    if (typeof labels !== 'string' && Object.keys(labels).length) r.labels = labels;
    r.op = f.op;
    r.value = num(f.value);
    const clear = num(f.clear);
    if (clear !== null) r.clear = clear;
  }
  if (f.kind === 'stale' || f.kind === 'down') r.after = opt(f.after);
  if (f.kind === 'keyword') r.pattern = f.pattern === '' ? null : f.pattern;
  if (opt(f.for)) r.for = opt(f.for);
  if (opt(f.resolveFor)) r.resolve_for = opt(f.resolveFor) ?? undefined;
  if (opt(f.summary)) r.summary = opt(f.summary);
  return r;
}

/** Problems of one alert rule, keyed `alert[i].field`. */
export function validateRule(r: RuleForm, i: number, metricNames: readonly string[] = []): FieldErrors {
  const e: FieldErrors = {};
  const k = (f: string) => `alert[${i}].${f}`;
  if (!r.name.trim()) e[k('name')] = 'is empty: name the rule, e.g. cpu high';
  if (r.kind === 'threshold') {
    if (!r.metric.trim()) e[k('metric')] = 'is missing: the metric this rule watches';
    else if (metricNames.length && !metricNames.includes(r.metric.trim()))
      e[k('metric')] = `\`${r.metric.trim()}\` is not one of this feed's metrics (${metricNames.join(', ')})`;
    const v = num(r.value);
    if (r.value.trim() === '') e[k('value')] = 'is missing: the threshold, e.g. 90';
    else if (v === null) e[k('value')] = `\`${r.value.trim()}\` is not a number`;
    const c = num(r.clear);
    if (r.clear.trim() !== '' && c === null) e[k('clear')] = `\`${r.clear.trim()}\` is not a number`;
    if (v !== null && c !== null) {
      const ok = r.op === '>' || r.op === '>=' ? c <= v : r.op === '<' || r.op === '<=' ? c >= v : true;
      if (!ok)
        e[k('clear')] = `must be on the healthy side of the threshold (${r.op === '>' || r.op === '>=' ? 'at or below' : 'at or above'} ${v})`;
    }
    const labels = parseLabels(r.labels);
    if (typeof labels === 'string') e[k('labels')] = labels;
  }
  if (r.kind === 'stale' || r.kind === 'down') checkDuration(e, k('after'), r.after, true);
  if (r.kind === 'keyword') {
    if (r.pattern === '') e[k('pattern')] = 'is missing: a regular expression such as level=critical';
    else {
      try {
        new RegExp(r.pattern);
      } catch {
        e[k('pattern')] = 'is not a valid regular expression';
      }
    }
  }
  checkDuration(e, k('for'), r.for);
  checkDuration(e, k('resolve_for'), r.resolveFor);
  return e;
}
