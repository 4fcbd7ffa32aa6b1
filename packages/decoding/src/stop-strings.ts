/**
 * Stop strings over streamed text. Text that could still grow into a stop string is held
 * back, so a caller never sees the start of a stop string that then completes.
 */
export class StopStrings {
  private pending = "";

  constructor(private readonly stops: readonly string[]) {}

  /** Feed new text; returns what may be released now and whether a stop string was found. */
  push(text: string): { release: string; stopped: boolean } {
    this.pending += text;
    let cut = -1;
    for (const s of this.stops) {
      const at = this.pending.indexOf(s);
      if (at >= 0 && (cut < 0 || at < cut)) cut = at;
    }
    if (cut >= 0) {
      const release = this.pending.slice(0, cut);
      this.pending = "";
      return { release, stopped: true };
    }
    // hold back the longest suffix that is a prefix of some stop string
    let hold = 0;
    for (const s of this.stops) {
      for (let k = Math.min(s.length - 1, this.pending.length); k > hold; k--) {
        if (this.pending.endsWith(s.slice(0, k))) {
          hold = k;
          break;
        }
      }
    }
    const release = this.pending.slice(0, this.pending.length - hold);
    this.pending = this.pending.slice(this.pending.length - hold);
    return { release, stopped: false };
  }

  /** whether text is held back waiting to see if a stop string completes */
  get holding(): boolean {
    return this.pending.length > 0;
  }

  /** Whatever is held back, at the end of generation. */
  flush(): string {
    const out = this.pending;
    this.pending = "";
    return out;
  }
}
