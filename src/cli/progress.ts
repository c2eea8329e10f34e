/**
 * Progress for long work: a bar with rate and ETA on an interactive terminal, nothing otherwise
 * (CI=true, pipes, --quiet), so logs and JSON output stay clean.
 */
import cliProgress from 'cli-progress';

export interface Progress {
  update(done: number, total: number): void;
  stop(): void;
}

const SILENT: Progress = { update() {}, stop() {} };

export function progressEnabled(quiet = false): boolean {
  return !quiet && Boolean(process.stderr.isTTY) && !process.env.CI;
}

export function createProgress(label: string, quiet = false): Progress {
  if (!progressEnabled(quiet)) return SILENT;
  const bar = new cliProgress.SingleBar(
    {
      format: `${label.padEnd(22)} {bar} {percentage}% | {value}/{total} | {rate}/s | ETA {eta_formatted}`,
      stream: process.stderr,
      hideCursor: true,
      clearOnComplete: true,
      etaBuffer: 50,
    },
    cliProgress.Presets.shades_classic,
  );
  let started = false;
  const t0 = Date.now();
  return {
    update(done, total) {
      if (!started) {
        bar.start(total, 0, { rate: '0' });
        started = true;
      }
      bar.setTotal(total);
      const secs = (Date.now() - t0) / 1000;
      bar.update(done, { rate: secs > 0 ? Math.round(done / secs).toString() : '0' });
    },
    stop() {
      if (started) bar.stop();
    },
  };
}
