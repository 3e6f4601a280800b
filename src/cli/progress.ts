/**
 * What a long command shows on stderr while it works: bytes moved (a redrawn line on a terminal,
 * a line per 10% otherwise, so logs of scripts stay short), or how long it has waited for the server.
 */
export interface Terminal {
  readonly isTTY: boolean;
  write(text: string): void;
}

export const stderrTerminal: Terminal = {
  isTTY: process.stderr.isTTY === true,
  write: (text) => {
    process.stderr.write(text);
  },
};

const CLEAR_LINE = '\r\x1b[2K';

/** Before a message: a progress line being redrawn on a terminal is cleared, not written over. */
export function clearLine(term: Terminal): void {
  if (term.isTTY) term.write(CLEAR_LINE);
}

export function byteCount(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 / 1024).toFixed(1)} MiB`;
}

/** Bytes done of a known total. */
export class TransferProgress {
  private readonly term: Terminal;
  private readonly label: string;
  private readonly total: number;
  private shownTenths = 0;
  private drawnAt = 0;
  /** How an amount is shown (bytes, or rows). */
  private readonly count: (n: number) => string;

  constructor(term: Terminal, label: string, total: number, count: (n: number) => string = byteCount) {
    this.term = term;
    this.label = label;
    this.total = total;
    this.count = count;
  }

  update(done: number): void {
    const finished = done >= this.total;
    const line = `${this.label}: ${this.count(done)} of ${this.count(this.total)} (${this.percent(done)}%)`;
    if (this.term.isTTY) {
      const now = Date.now();
      // A redraw every 100 ms is plenty for the eye, and cheap for a fast copy.
      if (!finished && now - this.drawnAt < 100) return;
      this.drawnAt = now;
      this.term.write(CLEAR_LINE + line + (finished ? '\n' : ''));
      return;
    }
    const tenths = finished ? 10 : Math.floor((done * 10) / this.total);
    if (tenths <= this.shownTenths) return;
    this.shownTenths = tenths;
    this.term.write(line + '\n');
  }

  private percent(done: number): number {
    return this.total === 0 ? 100 : Math.floor((done * 100) / this.total);
  }
}

/**
 * Shows that a command is waiting (`text…  12 s`) from `quietMs` on — a quick answer shows nothing:
 * every second on a terminal, every 10 s otherwise. Returns the function that stops it.
 */
export function showWaiting(term: Terminal, text: string, quietMs = 1000): () => void {
  const started = Date.now();
  let shownAt = -Infinity;
  let drawn = false;
  const tick = (): void => {
    const seconds = Math.round((Date.now() - started) / 1000);
    if (term.isTTY) {
      term.write(`${CLEAR_LINE}${text}… ${seconds} s`);
      drawn = true;
    } else if (seconds - shownAt >= 10) {
      term.write(`${text}… (${seconds} s)\n`);
      shownAt = seconds;
    }
  };
  let interval: NodeJS.Timeout | undefined;
  const first = setTimeout(() => {
    tick();
    interval = setInterval(tick, 1000);
  }, quietMs);
  return () => {
    clearTimeout(first);
    clearInterval(interval);
    if (drawn) term.write(CLEAR_LINE);
  };
}
