// Progress of a long CLI operation (reconcile, snapshot, restore): a bar redrawn in place
// on a terminal, a plain line every few seconds otherwise (logs, CI, pipes).

export interface Progress {
  update(done: number, total?: number, note?: string): void;
  /** Ends the bar's line on a terminal. */
  finish(): void;
}

export interface ProgressOptions {
  label: string;
  unit: string;
  /** Where lines go when not on a terminal. */
  out: (line: string) => void;
  /** The terminal, when there is one; a bar is drawn only when it is a TTY. */
  stream?: NodeJS.WriteStream;
  /** Plain lines at most this often. */
  intervalMs?: number;
  now?: () => number;
}

const BAR_WIDTH = 30;

export function createProgress(options: ProgressOptions): Progress {
  const stream = options.stream ?? process.stderr;
  const tty = stream.isTTY === true;
  const now = options.now ?? Date.now;
  const started = now();
  // The first plain line comes after one interval: a short operation prints none.
  let lastDrawn = started;
  let drewBar = false;
  const format = (done: number, total: number | undefined, note: string | undefined) => {
    const seconds = (now() - started) / 1000;
    const rate = seconds > 0 ? Math.round(done / seconds) : 0;
    const part = total ? ` of ${total.toLocaleString('en-US')} (${Math.floor((done / Math.max(1, total)) * 100)}%)` : '';
    return `${options.label}: ${done.toLocaleString('en-US')}${part} ${options.unit}, ${seconds.toFixed(1)} s, ${rate.toLocaleString('en-US')} ${options.unit}/s${note ? `, ${note}` : ''}`;
  };
  return {
    update(done, total, note) {
      const at = now();
      if (tty) {
        if (at - lastDrawn < 100) return;
        lastDrawn = at;
        const filled = total ? Math.min(BAR_WIDTH, Math.round((done / Math.max(1, total)) * BAR_WIDTH)) : (Math.floor(at / 200) % BAR_WIDTH) + 1;
        const bar = total ? `${'#'.repeat(filled)}${'.'.repeat(BAR_WIDTH - filled)}` : `${'.'.repeat(filled - 1)}#${'.'.repeat(BAR_WIDTH - filled)}`;
        stream.write(`\r[${bar}] ${format(done, total, note)}\u001b[K`);
        drewBar = true;
        return;
      }
      if (at - lastDrawn < (options.intervalMs ?? 5_000)) return;
      lastDrawn = at;
      options.out(format(done, total, note));
    },
    finish() {
      if (tty && drewBar) stream.write('\n');
    },
  };
}
