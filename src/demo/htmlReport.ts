// The demo's HTML report: tables and SVG charts drawn by hand (no chart library, so the
// file opens anywhere offline): the figures per mode (naive baseline, shared, strict, auto)
// as a table and as bars, the top SKUs with stranded stock, oversold units over the sale per
// mode (ground truth), what each channel showed for the hottest SKU in each live mode,
// stockguard's event lag during the sale, and the sale-to-channel propagation latency.

export interface Series {
  name: string;
  color: string;
  points: { x: number; y: number }[];
}

export interface Table {
  headers: string[];
  rows: string[][];
}

export interface Bars {
  title: string;
  items: { label: string; value: number; color: string; text: string }[];
}

export interface DemoReportData {
  title: string;
  generatedAt: string;
  environment: string;
  /** Lines about the lags, the machine and what the run measured. */
  setting: string[];
  /** Warnings shown at the top (e.g. the machine was the bottleneck). */
  warnings: string[];
  modes: Table;
  bars: Bars[];
  stranded: Table;
  strandedDefinition: string;
  oversoldSeries: Series[];
  sellable: { title: string; series: Series[] }[];
  eventLag: { backlog: Series[]; edgeToLedger: Series[] };
  latency: { title: string; samples: number[] };
  details: Table;
  notes: string[];
}

export function renderDemoReport(data: DemoReportData): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${escape(data.title)}</title>
<style>
body{font:14px/1.45 system-ui,sans-serif;margin:2rem auto;max-width:980px;color:#1d2430}
table{border-collapse:collapse;margin:1rem 0}th,td{border:1px solid #d5dae1;padding:.35rem .7rem;text-align:right}
th:first-child,td:first-child{text-align:left}thead th{background:#f1f4f8}h2{margin-top:2.2rem}.muted{color:#5a6473}
.warn{background:#fff4e5;border:1px solid #f0b35a;padding:.5rem .8rem}
svg{background:#fbfcfd;border:1px solid #e3e7ec}
</style></head><body>
<h1>${escape(data.title)}</h1>
<p class="muted">${escape(data.generatedAt)} — ${escape(data.environment)}</p>
${data.warnings.map((warning) => `<p class="warn">${escape(warning)}</p>`).join('\n')}
<ul>${data.setting.map((line) => `<li>${escape(line)}</li>`).join('')}</ul>
<h2>Per mode, on the same purchase attempts</h2>
${table(data.modes)}
${data.bars.map((bars) => barChart(bars)).join('\n')}
<h2>Oversold units over the sale (ground truth)</h2>
${lineChart(data.oversoldSeries, 'seconds into the sale', 'units sold beyond stock (cumulative)')}
<h2>Stranded stock: top SKUs</h2>
<p>${escape(data.strandedDefinition)}</p>
${data.stranded.rows.length > 0 ? table(data.stranded) : '<p class="muted">no stranded stock in any mode</p>'}
${data.sellable.map((chart) => `<h2>${escape(chart.title)}</h2>\n${lineChart(chart.series, 'seconds into the sale', 'units the channel may sell')}`).join('\n')}
<h2>stockguard's event lag during the sale</h2>
${lineChart(data.eventLag.backlog, 'seconds into the sale', 'event-stream backlog (entries)')}
${lineChart(data.eventLag.edgeToLedger, 'seconds into the sale', 'edge-to-ledger, mean per second (ms)')}
<h2>${escape(data.latency.title)}</h2>
${histogram(data.latency.samples, 'milliseconds from the ledger change to the channel acknowledging', 'pushes')}
<h2>Details per mode</h2>
${table(data.details)}
<ul>${data.notes.map((note) => `<li>${escape(note)}</li>`).join('')}</ul>
</body></html>
`;
}

function table(data: Table): string {
  const head = `<thead><tr>${data.headers.map((header) => `<th>${escape(header)}</th>`).join('')}</tr></thead>`;
  const body = data.rows.map((row) => `<tr>${row.map((cell, index) => (index === 0 ? `<th>${escape(cell)}</th>` : `<td>${escape(cell)}</td>`)).join('')}</tr>`).join('\n');
  return `<table>${head}<tbody>\n${body}\n</tbody></table>`;
}

function barChart(bars: Bars): string {
  const height = 40 + bars.items.length * 26;
  const max = Math.max(1e-9, ...bars.items.map((item) => item.value));
  const left = 110;
  const span = WIDTH - left - 160;
  const rows = bars.items
    .map((item, index) => {
      const y = 30 + index * 26;
      const width = Math.max(item.value > 0 ? 2 : 0, (item.value / max) * span);
      return `<text x="${left - 8}" y="${y + 14}" font-size="12" text-anchor="end">${escape(item.label)}</text><rect x="${left}" y="${y}" width="${width.toFixed(1)}" height="18" fill="${item.color}"/><text x="${(left + width + 6).toFixed(1)}" y="${y + 14}" font-size="12">${escape(item.text)}</text>`;
    })
    .join('');
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}"><text x="10" y="18" font-size="13" font-weight="600">${escape(bars.title)}</text>${rows}</svg>`;
}

const WIDTH = 920;
const HEIGHT = 300;
const PAD = { left: 60, right: 20, top: 20, bottom: 45 };

function lineChart(series: readonly Series[], xLabel: string, yLabel: string): string {
  const points = series.flatMap((line) => line.points);
  if (points.length === 0) return '<p class="muted">no data</p>';
  const maxX = Math.max(1, ...points.map((point) => point.x));
  const maxY = Math.max(1, ...points.map((point) => point.y));
  const sx = (x: number) => PAD.left + (x / maxX) * (WIDTH - PAD.left - PAD.right);
  const sy = (y: number) => HEIGHT - PAD.bottom - (y / maxY) * (HEIGHT - PAD.top - PAD.bottom);
  const paths = series
    .filter((line) => line.points.length > 0)
    .map((line) => {
      // Step lines: a quantity holds until the next change.
      let d = `M${sx(line.points[0]!.x).toFixed(1)},${sy(line.points[0]!.y).toFixed(1)}`;
      for (const point of line.points.slice(1)) d += ` H${sx(point.x).toFixed(1)} V${sy(point.y).toFixed(1)}`;
      return `<path d="${d}" fill="none" stroke="${line.color}" stroke-width="2"/>`;
    })
    .join('');
  const legend = series
    .map((line, index) => `<rect x="${PAD.left + 10 + index * 170}" y="${PAD.top}" width="12" height="12" fill="${line.color}"/><text x="${PAD.left + 28 + index * 170}" y="${PAD.top + 11}" font-size="12">${escape(line.name)}</text>`)
    .join('');
  return svg(axes(maxX, maxY, sx, sy, xLabel, yLabel) + paths + legend);
}

function histogram(samples: readonly number[], xLabel: string, yLabel: string): string {
  if (samples.length === 0) return '<p class="muted">no pushes measured</p>';
  const sorted = [...samples].sort((a, b) => a - b);
  const top = sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * 0.995))]!;
  const bins = 30;
  const width = Math.max(1, top / bins);
  const counts = new Array<number>(bins).fill(0);
  for (const sample of sorted) counts[Math.min(bins - 1, Math.floor(sample / width))]! += 1;
  const maxX = width * bins;
  const maxY = Math.max(1, ...counts);
  const sx = (x: number) => PAD.left + (x / maxX) * (WIDTH - PAD.left - PAD.right);
  const sy = (y: number) => HEIGHT - PAD.bottom - (y / maxY) * (HEIGHT - PAD.top - PAD.bottom);
  const bars = counts
    .map((count, index) => {
      const x = sx(index * width);
      const barWidth = Math.max(1, sx((index + 1) * width) - x - 1);
      return `<rect x="${x.toFixed(1)}" y="${sy(count).toFixed(1)}" width="${barWidth.toFixed(1)}" height="${(sy(0) - sy(count)).toFixed(1)}" fill="#3b7dd8"/>`;
    })
    .join('');
  const p = (q: number) => sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]!;
  const note = `<text x="${WIDTH - PAD.right - 260}" y="${PAD.top + 12}" font-size="12">n=${sorted.length}  p50=${p(0.5).toFixed(0)} ms  p99=${p(0.99).toFixed(0)} ms</text>`;
  return svg(axes(maxX, maxY, sx, sy, xLabel, yLabel) + bars + note);
}

function axes(maxX: number, maxY: number, sx: (x: number) => number, sy: (y: number) => number, xLabel: string, yLabel: string): string {
  const ticks = [0, 0.25, 0.5, 0.75, 1];
  const xTicks = ticks
    .map((fraction) => `<text x="${sx(maxX * fraction).toFixed(1)}" y="${HEIGHT - PAD.bottom + 16}" font-size="11" text-anchor="middle">${format(maxX * fraction)}</text>`)
    .join('');
  const yTicks = ticks
    .map((fraction) => `<text x="${PAD.left - 6}" y="${(sy(maxY * fraction) + 4).toFixed(1)}" font-size="11" text-anchor="end">${format(maxY * fraction)}</text><line x1="${PAD.left}" x2="${WIDTH - PAD.right}" y1="${sy(maxY * fraction).toFixed(1)}" y2="${sy(maxY * fraction).toFixed(1)}" stroke="#e8ebef"/>`)
    .join('');
  return `<line x1="${PAD.left}" y1="${HEIGHT - PAD.bottom}" x2="${WIDTH - PAD.right}" y2="${HEIGHT - PAD.bottom}" stroke="#444"/><line x1="${PAD.left}" y1="${PAD.top}" x2="${PAD.left}" y2="${HEIGHT - PAD.bottom}" stroke="#444"/>${xTicks}${yTicks}<text x="${(WIDTH / 2).toFixed(0)}" y="${HEIGHT - 8}" font-size="12" text-anchor="middle">${escape(xLabel)}</text><text x="14" y="${(HEIGHT / 2).toFixed(0)}" font-size="12" text-anchor="middle" transform="rotate(-90 14 ${(HEIGHT / 2).toFixed(0)})">${escape(yLabel)}</text>`;
}

function svg(content: string): string {
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${HEIGHT}" viewBox="0 0 ${WIDTH} ${HEIGHT}">${content}</svg>`;
}

function format(value: number): string {
  return Math.abs(value) >= 100 ? value.toFixed(0) : value.toFixed(1).replace(/\.0$/, '');
}

function escape(text: string): string {
  return text.replace(/[&<>"]/g, (char) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[char]!);
}
