/** A download progress display for command-line tools. Node only (it writes to stderr). */
import type { ProgressCallback, ProgressEvent } from "./types";

/** The part of a tty.WriteStream the display needs; tests pass a fake. */
export interface ProgressOutput {
  isTTY?: boolean;
  columns?: number;
  write(text: string): unknown;
}

export interface ProgressBarOptions {
  /** Default process.stderr. */
  output?: ProgressOutput;
  /** Minimum time between redraws; default 100 ms. */
  intervalMs?: number;
  /** Clock in ms; tests fix it. */
  now?: () => number;
}

const BAR_WIDTH = 24;

export function formatBytes(n: number): string {
  const units = ["B", "kB", "MB", "GB", "TB"];
  let value = n;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit++;
  }
  return unit === 0 ? `${n} B` : `${value.toFixed(1)} ${units[unit]}`;
}

interface FileState {
  startedAt: number;
  /** Bytes already there when the display first heard of the file (a resumed download), excluded from the speed. */
  startLoaded: number;
  drawnAt: number;
}

/**
 * A ProgressCallback that draws one redrawn line on a terminal, at most every `intervalMs`.
 * When the output is not a terminal (CI logs, pipes) it stays quiet and prints one line per
 * finished file instead.
 */
export function terminalProgress(opts: ProgressBarOptions = {}): ProgressCallback {
  const output = opts.output ?? process.stderr;
  const interval = opts.intervalMs ?? 100;
  const now = opts.now ?? Date.now;
  const files = new Map<string, FileState>();

  return (event: ProgressEvent) => {
    const time = now();
    let state = files.get(event.file);
    if (!state) {
      state = { startedAt: time, startLoaded: event.loaded, drawnAt: Number.NEGATIVE_INFINITY };
      files.set(event.file, state);
    }
    const seconds = Math.max((time - state.startedAt) / 1000, 1e-3);
    const rate = (event.loaded - state.startLoaded) / seconds;
    if (event.done) files.delete(event.file);

    if (!output.isTTY) {
      if (event.done) output.write(`${event.file}: ${formatBytes(event.loaded)} in ${seconds.toFixed(1)} s\n`);
      return;
    }
    if (!event.done && time - state.drawnAt < interval) return;
    state.drawnAt = time;
    const line = progressLine(event, rate, output.columns ?? 80);
    output.write(`\r${line}\x1b[K${event.done ? "\n" : ""}`);
  };
}

function progressLine(event: ProgressEvent, rate: number, columns: number): string {
  const { loaded, total } = event;
  const speed = `${formatBytes(Math.round(rate))}/s`;
  let detail: string;
  if (total !== undefined && total > 0) {
    const fraction = Math.min(loaded / total, 1);
    const filled = Math.round(fraction * BAR_WIDTH);
    const bar = `[${"#".repeat(filled)}${"-".repeat(BAR_WIDTH - filled)}]`;
    detail = `${bar} ${(fraction * 100).toFixed(0).padStart(3)}% ${formatBytes(loaded)}/${formatBytes(total)} ${speed}`;
  } else {
    detail = `${formatBytes(loaded)} ${speed}`;
  }
  const room = Math.max(columns - detail.length - 2, 8);
  const name = event.file.length > room ? `…${event.file.slice(event.file.length - room + 1)}` : event.file;
  return `${name}  ${detail}`;
}
