// The demo's HTML report: a summary table and three SVG charts drawn by hand (no chart
// library, so the file opens anywhere offline): what each channel was told it could sell
// for the hottest SKU over time, oversold units stockguard vs the naive baseline, and the
// sale-to-channel propagation latency histogram.

export interface Series {
  name: string;
  color: string;
  points: { x: number; y: number }[];
}

export interface DemoReportData {
  title: string;
  generatedAt: string;
  environment: string;
  summary: { label: string; stockguard: string; baseline: string }[];
  hotSku: string;
  sellableSeries: Series[];
  oversoldSeries: Series[];
  latencyMs: number[];
  notes: string[];
}

export function renderDemoReport(data: DemoReportData): string {
  const rows = data.summary
    .map((row) => `<tr><th>${escape(row.label)}</th><td>${escape(row.stockguard)}</td><td>${escape(row.baseline)}</td></tr>`)
    .join('\n');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${escape(data.title)}</title>
<style>
body{font:14px/1.45 system-ui,sans-serif;margin:2rem auto;max-width:980px;color:#1d2430}
table{border-collapse:collapse;margin:1rem 0}th,td{border:1px solid #d5dae1;padding:.35rem .7rem;text-align:right}
th:first-child{text-align:left}thead th{background:#f1f4f8}h2{margin-top:2.2rem}.muted{color:#5a6473}
svg{background:#fbfcfd;border:1px solid #e3e7ec}
</style></head><body>
<h1>${escape(data.title)}</h1>
<p class="muted">${escape(data.generatedAt)} — ${escape(data.environment)}</p>
<table><thead><tr><th></th><th>stockguard</th><th>naive baseline</th></tr></thead><tbody>
${rows}
</tbody></table>
<h2>Sellable per channel over time — ${escape(data.hotSku)}</h2>
${lineChart(data.sellableSeries, 'seconds into the sale', 'units the channel may sell')}
<h2>Oversold units: stockguard vs naive baseline</h2>
${lineChart(data.oversoldSeries, 'seconds into the sale', 'units oversold (cumulative)')}
<h2>Sale-to-channel propagation latency</h2>
${histogram(data.latencyMs, 'milliseconds from the ledger change to the channel acknowledging', 'pushes')}
<ul>${data.notes.map((note) => `<li>${escape(note)}</li>`).join('')}</ul>
</body></html>
`;
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
