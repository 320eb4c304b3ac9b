/**
 * A progress line on stderr with rate and ETA. Redraws in place on a TTY, prints at most every
 * `minIntervalMs` (and at 100%) otherwise, so CI logs stay short.
 */
export class Progress {
  private done = 0;
  private readonly start = performance.now();
  private lastPrint = 0;
  constructor(
    private readonly label: string,
    private readonly total: number,
    private readonly unit = "it",
    private readonly minIntervalMs = process.stderr.isTTY ? 200 : 10_000,
    private readonly out: NodeJS.WritableStream = process.stderr,
  ) {}

  tick(n = 1, note = ""): void {
    this.done += n;
    const now = performance.now();
    if (this.done < this.total && now - this.lastPrint < this.minIntervalMs) return;
    this.lastPrint = now;
    this.out.write(`${this.render(now, note)}${process.stderr.isTTY && this.done < this.total ? "\r" : "\n"}`);
  }

  render(now = performance.now(), note = ""): string {
    const secs = (now - this.start) / 1000;
    const rate = secs > 0 ? this.done / secs : 0;
    const frac = this.total > 0 ? Math.min(1, this.done / this.total) : 1;
    const width = 24;
    const filled = Math.round(frac * width);
    const eta = rate > 0 ? (this.total - this.done) / rate : Number.NaN;
    return `${this.label} [${"#".repeat(filled)}${".".repeat(width - filled)}] ${this.done}/${this.total} ${(frac * 100).toFixed(1)}% ${rate.toFixed(1)} ${this.unit}/s elapsed ${formatDuration(secs)} ETA ${formatDuration(eta)}${note ? ` ${note}` : ""}`;
  }
}

export function formatDuration(secs: number): string {
  if (!Number.isFinite(secs)) return "--";
  const s = Math.round(secs);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const r = s % 60;
  return h > 0 ? `${h}h${String(m).padStart(2, "0")}m` : m > 0 ? `${m}m${String(r).padStart(2, "0")}s` : `${r}s`;
}
