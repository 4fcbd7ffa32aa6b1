/**
 * Reads exact byte counts from a web ReadableStream, so a model can be parsed while it
 * downloads (browsers, Workers) without holding the whole file.
 */
export class ByteStreamReader {
  private reader: ReadableStreamDefaultReader<Uint8Array>;
  private chunk: Uint8Array = new Uint8Array(0);
  private at = 0;
  /** bytes consumed so far */
  position = 0;

  constructor(
    stream: ReadableStream<Uint8Array>,
    private readonly file: string,
    private readonly onShort: (file: string, want: number, pos: number) => Error,
  ) {
    this.reader = stream.getReader();
  }

  /** Exactly n bytes (a fresh copy when they span chunks), or onShort's error at end of stream. */
  async read(n: number): Promise<Uint8Array> {
    const avail = this.chunk.length - this.at;
    if (avail >= n) {
      const out = this.chunk.subarray(this.at, this.at + n);
      this.at += n;
      this.position += n;
      return out;
    }
    const out = new Uint8Array(n);
    out.set(this.chunk.subarray(this.at));
    let filled = avail;
    while (filled < n) {
      const { done, value } = await this.reader.read();
      if (done) throw this.onShort(this.file, n, this.position + filled);
      const take = Math.min(value.length, n - filled);
      out.set(value.subarray(0, take), filled);
      filled += take;
      this.chunk = value;
      this.at = take;
    }
    if (filled === avail) this.chunk = new Uint8Array(0);
    this.position += n;
    return out;
  }

  async skip(n: number): Promise<void> {
    while (n > 0) {
      const step = Math.min(n, 1 << 20);
      await this.read(step);
      n -= step;
    }
  }

  async cancel(): Promise<void> {
    await this.reader.cancel().catch(() => {});
  }
}
