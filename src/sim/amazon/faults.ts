// Fault injection for the Amazon fake: decided per request, before authentication, so a
// fault reaches the client exactly as a network or Amazon-side failure would.

export type FaultOperation = 'lwaToken' | 'getListingsItem' | 'patchListingsItem' | 'searchListingsItems';

export type FaultKind =
  /** Answer normally, but only after `latencyMs`. Combines with the other kinds. */
  | 'latency'
  /** Answer 429 QuotaExceeded whatever the token bucket says (a throttling storm). */
  | 'throttle'
  /** Answer `status` (500 or 503) with the SP-API error body. */
  | 'serverError'
  /** Read the request and never answer; the socket stays open until the client gives up or the fake closes. */
  | 'timeout'
  /** Reset the TCP connection (RST) without answering. */
  | 'reset';

export interface FaultRule {
  kind: FaultKind;
  /** Operations the rule applies to; all of them when left out. */
  operations?: readonly FaultOperation[];
  /** Apply to the next `times` matching requests, then retire. With `rate`, counts only the requests it hit. */
  times?: number;
  /** Probability (0–1) that a matching request is hit. Without `times` the rule stays until removed. */
  rate?: number;
  /** For `latency`. */
  latencyMs?: number;
  /** For `serverError`; 503 when left out. */
  status?: 500 | 503;
}

export interface FaultDecision {
  latencyMs: number;
  /** The terminal fault to act out, if any; the first matching rule wins. */
  terminal: FaultRule | undefined;
}

interface ActiveRule {
  id: string;
  rule: FaultRule;
  remaining: number | undefined;
}

export class FaultInjector {
  private readonly rules: ActiveRule[] = [];
  private nextId = 1;

  constructor(private readonly random: () => number) {}

  /** Adds a rule and returns its id, for `remove`. A rule with neither `times` nor `rate` hits the next request only. */
  add(rule: FaultRule): string {
    if (rule.rate !== undefined && !(rule.rate >= 0 && rule.rate <= 1)) throw new Error(`fault rate must be within 0..1, got ${rule.rate}`);
    if (rule.times !== undefined && !(Number.isInteger(rule.times) && rule.times > 0)) throw new Error(`fault times must be a whole number > 0, got ${rule.times}`);
    if (rule.kind === 'latency' && !(rule.latencyMs !== undefined && rule.latencyMs >= 0)) throw new Error('a latency fault needs latencyMs >= 0');
    const id = `fault-${this.nextId++}`;
    this.rules.push({ id, rule: { ...rule }, remaining: rule.times ?? (rule.rate === undefined ? 1 : undefined) });
    return id;
  }

  remove(id: string): boolean {
    const index = this.rules.findIndex((active) => active.id === id);
    if (index >= 0) this.rules.splice(index, 1);
    return index >= 0;
  }

  clear(): void {
    this.rules.length = 0;
  }

  /** Decides what happens to one request of `operation`, consuming the rules that hit it. */
  decide(operation: FaultOperation): FaultDecision {
    let latencyMs = 0;
    let terminal: FaultRule | undefined;
    for (const active of [...this.rules]) {
      const { rule } = active;
      if (rule.operations && !rule.operations.includes(operation)) continue;
      if (rule.kind !== 'latency' && terminal) continue;
      if (rule.rate !== undefined && this.random() >= rule.rate) continue;
      if (active.remaining !== undefined) {
        active.remaining -= 1;
        if (active.remaining <= 0) this.remove(active.id);
      }
      if (rule.kind === 'latency') latencyMs += rule.latencyMs ?? 0;
      else terminal = rule;
    }
    return { latencyMs, terminal };
  }
}
