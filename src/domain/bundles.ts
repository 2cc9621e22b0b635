// Kits and bundles: a catalogue entry that is sold on the channels as one item but draws on
// other SKUs' stock (components, SKU × per-bundle quantity). A bundle has no stock of its
// own: a sale of it reserves every component under the sale's own reservation id, and what
// a channel is shown for it is the number of whole bundles the components can make
// (docs/catalog.md, "Bundles"). Pure: the catalogue, the consumers, the checkout holds and
// the pushers call these.
import { assertSku } from './validate.ts';

export interface BundleComponent {
  sku: string;
  /** Units of the component in one bundle (1 or more). */
  quantity: number;
}

/** The most units of one component a bundle may hold, and the most components. */
export const MAX_COMPONENT_QUANTITY = 10_000;
export const MAX_COMPONENTS = 50;

export type ComponentsParse = { ok: true; components: BundleComponent[] } | { ok: false; problem: string };

/**
 * A bundle's components, from a catalogue cell: a JSON array of `{sku, quantity}` (JSON
 * files, the stored entry) or the CSV text `SKU-A*2;SKU-B` (`*N` after the last `*` is the
 * quantity, 1 when left out; a SKU that itself ends in `*<digits>` is written with its
 * quantity, `A*2*1`). Checks every rule a bundle has on its own: at least one component,
 * each a valid SKU once, quantities 1..MAX_COMPONENT_QUANTITY, not the bundle itself.
 */
export function parseComponents(value: unknown, bundleSku?: string): ComponentsParse {
  let raw: Array<{ sku: unknown; quantity: unknown }>;
  if (typeof value === 'string') {
    const text = value.trim();
    if (text.startsWith('[')) {
      try {
        return parseComponents(JSON.parse(text) as unknown, bundleSku);
      } catch (error) {
        if (error instanceof SyntaxError) return { ok: false, problem: `is not valid JSON: ${error.message}` };
        throw error;
      }
    }
    raw = text
      .split(';')
      .map((part) => part.trim())
      .filter((part) => part.length > 0)
      .map((part) => {
        const match = /^(.*)\*([0-9]+)$/.exec(part);
        return match ? { sku: match[1]!.trim(), quantity: Number(match[2]) } : { sku: part, quantity: 1 };
      });
  } else if (Array.isArray(value)) {
    raw = value.map((item: unknown) =>
      typeof item === 'object' && item !== null ? { sku: (item as Record<string, unknown>).sku, quantity: (item as Record<string, unknown>).quantity ?? 1 } : { sku: item, quantity: 1 },
    );
  } else {
    return { ok: false, problem: 'must be a list of components: "SKU-A*2;SKU-B" or [{"sku":"SKU-A","quantity":2}]' };
  }
  if (raw.length === 0) return { ok: false, problem: 'must name at least one component' };
  if (raw.length > MAX_COMPONENTS) return { ok: false, problem: `names ${raw.length} components; a bundle has at most ${MAX_COMPONENTS}` };
  const components: BundleComponent[] = [];
  const seen = new Set<string>();
  for (const [index, item] of raw.entries()) {
    const where = `component ${index + 1}`;
    if (typeof item.sku !== 'string') return { ok: false, problem: `${where}: sku must be a string` };
    try {
      assertSku(item.sku);
    } catch {
      return { ok: false, problem: `${where}: ${JSON.stringify(item.sku)} is not a valid SKU (1 to 200 characters without "{", "}", control characters or surrounding spaces)` };
    }
    const quantity = item.quantity;
    if (typeof quantity !== 'number' || !Number.isSafeInteger(quantity) || quantity < 1 || quantity > MAX_COMPONENT_QUANTITY) {
      return { ok: false, problem: `${where} (${item.sku}): quantity must be a whole number from 1 to ${MAX_COMPONENT_QUANTITY}, got ${JSON.stringify(quantity)}` };
    }
    if (item.sku === bundleSku) return { ok: false, problem: `${where}: a bundle cannot contain itself` };
    if (seen.has(item.sku)) return { ok: false, problem: `${where}: ${JSON.stringify(item.sku)} is listed twice; give it once with the total quantity` };
    seen.add(item.sku);
    components.push({ sku: item.sku, quantity });
  }
  return { ok: true, components };
}

/** The stored form: a JSON array in component order. */
export function formatComponents(components: readonly BundleComponent[]): string {
  return JSON.stringify(components.map(({ sku, quantity }) => ({ sku, quantity })));
}

/**
 * Order lines with bundles replaced by their components: a line of `quantity` bundles
 * becomes one line per component, with the same line id (the reservation id is the same in
 * every component's hash) and quantity × per-bundle quantity. A line without a quantity
 * (a cancellation) keeps none. Lines that are not bundles pass through unchanged.
 */
export function expandBundleLines<L extends { sku: string; lineId: string; quantity?: number }>(
  lines: readonly L[],
  bundles: ReadonlyMap<string, readonly BundleComponent[]>,
): Array<L & { bundle?: string }> {
  const expanded: Array<L & { bundle?: string }> = [];
  for (const line of lines) {
    const components = bundles.get(line.sku);
    if (!components) {
      expanded.push(line);
      continue;
    }
    for (const component of components) {
      const componentLine: L & { bundle?: string } = { ...line, sku: component.sku, bundle: line.sku };
      if (line.quantity !== undefined) componentLine.quantity = line.quantity * component.quantity;
      expanded.push(componentLine);
    }
  }
  return expanded;
}

/**
 * Whole bundles the components can make: min over components of ⌊available ÷ per-bundle
 * quantity⌋, 0 when a component's availability is unknown. Availability below 0 counts as 0.
 */
export function bundlesAvailable(components: readonly BundleComponent[], available: (sku: string) => number | undefined): number {
  let bundles = Number.POSITIVE_INFINITY;
  for (const component of components) {
    const units = available(component.sku);
    if (units === undefined) return 0;
    bundles = Math.min(bundles, Math.floor(Math.max(0, units) / component.quantity));
  }
  return Number.isFinite(bundles) ? bundles : 0;
}

/** Looks up the components of each SKU that is a bundle (undefined for a plain SKU), one answer per SKU. */
export type BundleLookup = (skus: readonly string[]) => Promise<(BundleComponent[] | undefined)[]>;

/**
 * expandBundleLines with the bundles looked up for the lines' SKUs (one lookup for the
 * distinct SKUs); lines pass through when there is no lookup or no bundle among them.
 */
export async function expandWithLookup<L extends { sku: string; lineId: string; quantity?: number }>(lines: readonly L[], lookup: BundleLookup | undefined): Promise<L[]> {
  if (!lookup || lines.length === 0) return [...lines];
  const skus = [...new Set(lines.map((line) => line.sku))];
  const answers = await lookup(skus);
  const bundles = new Map<string, BundleComponent[]>();
  answers.forEach((components, index) => components && bundles.set(skus[index]!, components));
  if (bundles.size === 0) return [...lines];
  return expandBundleLines(lines, bundles).map(({ bundle: _bundle, ...line }) => line as L);
}

/** Component SKU → the bundles drawing on it, each with the units of it one bundle holds. */
export function bundlesByComponent(bundles: ReadonlyMap<string, readonly BundleComponent[]>): Map<string, Array<{ bundle: string; quantity: number }>> {
  const usedBy = new Map<string, Array<{ bundle: string; quantity: number }>>();
  for (const [bundle, components] of bundles) {
    for (const component of components) usedBy.set(component.sku, [...(usedBy.get(component.sku) ?? []), { bundle, quantity: component.quantity }]);
  }
  return usedBy;
}
