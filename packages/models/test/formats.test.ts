/**
 * File-format readers on bad input: every malformed header gets a ModelFormatError that
 * names the file (and the tensor when one is involved); nothing else may escape, nothing
 * may read out of bounds, hang or allocate without limit. A seeded mutation fuzzer covers
 * what the hand-written cases miss.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { splitmix32 } from "@edgespec/runtime";
import { describe, expect, it } from "vitest";
import { ModelFormatError } from "../src/errors";
import { readGguf, streamGguf } from "../src/formats/gguf";
import { readLlama2c } from "../src/formats/llama2c";
import { encodeSafetensors, readSafetensors, streamSafetensors } from "../src/formats/safetensors";
import { sharedDir } from "./shared";

const GGUF = join(__dirname, "golden/gguf/llama-gqa3.f16.gguf");

function safetensors(header: object, data: Uint8Array = new Uint8Array(0)): Uint8Array {
  const json = new TextEncoder().encode(JSON.stringify(header));
  const out = new Uint8Array(8 + json.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  out.set(data, 8 + json.length);
  return out;
}

/** A GGUF v3 with one string-array key and no tensors. */
function ggufWithStrings(key: string, values: string[]): Uint8Array {
  const enc = new TextEncoder();
  const parts: number[] = [];
  const u32 = (v: number) => parts.push(v & 255, (v >>> 8) & 255, (v >>> 16) & 255, v >>> 24);
  const u64 = (v: number) => {
    u32(v);
    u32(0);
  };
  const str = (s: string) => {
    const b = enc.encode(s);
    u64(b.length);
    parts.push(...b);
  };
  parts.push(...enc.encode("GGUF"));
  u32(3);
  u64(0);
  u64(1);
  str(key);
  u32(9);
  u32(8);
  u64(values.length);
  for (const v of values) str(v);
  return Uint8Array.from(parts);
}

function chunks(bytes: Uint8Array, size: number): ReadableStream<Uint8Array> {
  let at = 0;
  return new ReadableStream({
    pull(c) {
      if (at >= bytes.length) return c.close();
      c.enqueue(bytes.slice(at, at + size));
      at += size;
    },
  });
}

function expectFormatError(f: () => unknown, ...patterns: RegExp[]): void {
  let err: unknown;
  try {
    f();
  } catch (e) {
    err = e;
  }
  expect(err, "expected a ModelFormatError").toBeInstanceOf(ModelFormatError);
  for (const p of patterns) expect((err as Error).message).toMatch(p);
}

describe("safetensors", () => {
  const ok = { w: { dtype: "F32", shape: [2, 2], data_offsets: [0, 16] } };
  it("reads a valid file without copying", () => {
    const bytes = safetensors(ok, new Uint8Array(16).fill(1));
    const { store } = readSafetensors("m.safetensors", bytes);
    const t = store.get("w");
    expect(t.shape).toEqual([2, 2]);
    expect(t.data.buffer).toBe(bytes.buffer);
  });
  it("names the file and tensor for each kind of damage", () => {
    const f = "m.safetensors";
    expectFormatError(() => readSafetensors(f, new Uint8Array(5)), /m\.safetensors/, /8-byte header length/);
    const huge = safetensors(ok, new Uint8Array(16));
    new DataView(huge.buffer).setBigUint64(0, 1n << 60n, true);
    expectFormatError(() => readSafetensors(f, huge), /header length \d+ is absurd/);
    const past = safetensors(ok, new Uint8Array(16));
    new DataView(past.buffer).setBigUint64(0, BigInt(past.length), true);
    expectFormatError(() => readSafetensors(f, past), /runs past the end/);
    expectFormatError(() => readSafetensors(f, safetensors({ w: { ...ok.w, dtype: "F8_E4M3" } }, new Uint8Array(16))), /tensor "w"/, /F8_E4M3/);
    expectFormatError(() => readSafetensors(f, safetensors(ok, new Uint8Array(8))), /tensor "w"/, /run past/);
    expectFormatError(() => readSafetensors(f, safetensors({ w: { ...ok.w, shape: [3, 2] } }, new Uint8Array(16))), /tensor "w"/, /needs 24/);
    expectFormatError(() => readSafetensors(f, safetensors({ w: { ...ok.w, shape: [2, -1] } }, new Uint8Array(16))), /tensor "w"/, /shape/);
    expectFormatError(
      () => readSafetensors(f, safetensors({ a: ok.w, b: { dtype: "F32", shape: [2], data_offsets: [8, 16] } }, new Uint8Array(16))),
      /overlaps/,
    );
    const bad = safetensors(ok, new Uint8Array(16));
    bad[10] = 0xff;
    expectFormatError(() => readSafetensors(f, bad), /not valid UTF-8 JSON/);
    expectFormatError(() => readSafetensors(f, safetensors(ok, new Uint8Array(16))).store.get("nope"), /tensor "nope"/, /missing/);
  });
  it("streams the same tensors and reports truncation", async () => {
    const data = Float32Array.from({ length: 6 }, (_, i) => i);
    const bytes = safetensors(
      { b: { dtype: "F32", shape: [2], data_offsets: [16, 24] }, a: { dtype: "F32", shape: [4], data_offsets: [0, 16] } },
      new Uint8Array(data.buffer),
    );
    const got: Record<string, number[]> = {};
    for await (const t of streamSafetensors("s", chunks(bytes, 5))) got[t.name] = Array.from(new Float32Array(t.data.slice().buffer));
    expect(got).toEqual({ a: [0, 1, 2, 3], b: [4, 5] });
    await expect(async () => {
      for await (const _ of streamSafetensors("s", chunks(bytes.subarray(0, bytes.length - 3), 7))) void _;
    }).rejects.toThrow(/truncated/);
  });
});

describe("GGUF", () => {
  const bytes = new Uint8Array(readFileSync(GGUF));
  it("reads the reference writer's file", () => {
    const { header, store } = readGguf("m.gguf", bytes);
    expect(header.version).toBe(3);
    expect(header.metadata.get("general.architecture")).toBe("llama");
    expect(store.get("token_embd.weight").shape.length).toBe(2);
  });
  it("names what is wrong", () => {
    const f = "m.gguf";
    const mut = (at: number, v: number[]) => {
      const b = bytes.slice();
      b.set(v, at);
      return b;
    };
    expectFormatError(() => readGguf(f, mut(0, [0x47, 0x47, 0x4d, 0x4c])), /m\.gguf/, /not "GGUF"/);
    expectFormatError(() => readGguf(f, mut(4, [9, 0, 0, 0])), /version 9/);
    expectFormatError(() => readGguf(f, mut(8, [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0, 0])), /tensor count/);
    expectFormatError(() => readGguf(f, bytes.subarray(0, 1000)), /truncated|remain/);
    // unknown ggml type on the first tensor: find its info by name
    const { header } = readGguf(f, bytes);
    const first = header.tensors[0];
    const nameAt = findBytes(bytes, new TextEncoder().encode(first.name));
    const typeAt = nameAt + first.name.length + 4 + 8 * first.shape.length;
    expectFormatError(() => readGguf(f, mut(typeAt, [12, 0, 0, 0])), new RegExp(`tensor "${first.name.replace(/\./g, "\\.")}"`), /Q4_K/);
    expectFormatError(() => readGguf(f, mut(typeAt + 4, [1, 0, 0, 0])), /alignment/);
    expectFormatError(() => readGguf(f, bytes.subarray(0, bytes.length - 64)), /runs past the end/);
  });
  it("streams the header and tensors in chunks", async () => {
    const { header, tensors } = await streamGguf("m.gguf", chunks(bytes, 4093), bytes.length);
    const whole = readGguf("m.gguf", bytes);
    let n = 0;
    for await (const t of tensors) {
      expect(t.data).toEqual(whole.store.get(t.name).data);
      n++;
    }
    expect(n).toBe(header.tensors.length);
  });
  it("keeps a token that is exactly U+FEFF (Llama 2's id 30143)", () => {
    const { header } = readGguf("bom.gguf", ggufWithStrings("tokenizer.ggml.tokens", ["\uFEFF", "a", "\uFEFFb"]));
    expect(header.metadata.get("tokenizer.ggml.tokens")).toEqual(["\uFEFF", "a", "\uFEFFb"]);
  });
  it("reads a Node Buffer (whose slice() is a view into a shared pool) like a plain Uint8Array", () => {
    const buf = readFileSync(GGUF);
    expect(Object.getPrototypeOf(buf)).not.toBe(Uint8Array.prototype);
    const a = readGguf("m.gguf", buf).header.metadata;
    const b = readGguf("m.gguf", new Uint8Array(buf)).header.metadata;
    expect(a.get("tokenizer.ggml.scores")).toEqual(b.get("tokenizer.ggml.scores"));
    expect(a.get("tokenizer.ggml.token_type")).toEqual(b.get("tokenizer.ggml.token_type"));
    expect((a.get("tokenizer.ggml.token_type") as Int32Array).length).toBe((a.get("tokenizer.ggml.tokens") as string[]).length);
  });
  it("explains text-decoder damage in the shared llama.cpp vocab files", () => {
    const file = sharedDir("tokenizers/llama.cpp-vocab/ggml-vocab-gpt-2.gguf");
    expectFormatError(() => readGguf("ggml-vocab-gpt-2.gguf", new Uint8Array(readFileSync(file))), /ggml-vocab-gpt-2\.gguf/, /text decoder/);
  });
});

describe("llama2.c", () => {
  it("refuses truncated files and bad headers", () => {
    const bytes = new Uint8Array(readFileSync(sharedDir("models/stories260K/stories260K.bin")));
    expect(readLlama2c("s.bin", bytes).config.numLayers).toBe(5);
    expectFormatError(() => readLlama2c("s.bin", bytes.subarray(0, bytes.length - 4)), /s\.bin/, /tensor "/);
    const b = bytes.slice();
    new DataView(b.buffer).setInt32(0, -5, true);
    expectFormatError(() => readLlama2c("s.bin", b), /dim = -5/);
  });
});

describe("seeded header mutations", () => {
  const targets: [string, Uint8Array, (f: string, b: Uint8Array) => unknown, number][] = [
    ["tinystories.safetensors", new Uint8Array(readFileSync(sharedDir("models/tinystories-656k/model.safetensors"))), readSafetensors, 0],
    ["llama.gguf", new Uint8Array(readFileSync(GGUF)), readGguf, 0],
    ["stories.bin", new Uint8Array(readFileSync(sharedDir("models/stories260K/stories260K.bin"))), readLlama2c, 0],
  ];
  for (const target of targets) {
    const [name, original, read] = target;
    it(`${name}: 400 mutants parse or fail with ModelFormatError`, async () => {
      const rand = splitmix32(0xfeed ^ name.length);
      const headerLen = name.endsWith(".safetensors") ? 8 + Number(new DataView(original.buffer, original.byteOffset).getBigUint64(0, true)) : 4096;
      let rejected = 0;
      for (let i = 0; i < 400; i++) {
        const b = original.slice();
        const kind = rand();
        let bytes = b;
        if (kind < 0.15) bytes = b.subarray(0, Math.floor(rand() * b.length));
        else {
          const edits = 1 + Math.floor(rand() * 8);
          for (let e = 0; e < edits; e++) {
            const at = Math.floor(rand() * Math.min(headerLen, b.length));
            b[at] = rand() < 0.5 ? Math.floor(rand() * 256) : b[at] ^ (1 << Math.floor(rand() * 8));
          }
        }
        try {
          read(name, bytes);
        } catch (e) {
          if (!(e instanceof ModelFormatError)) throw new Error(`mutant ${i} of ${name} threw ${(e as Error).name}: ${(e as Error).message}`);
          expect((e as Error).message.startsWith(name)).toBe(true);
          rejected++;
        }
        if (name.endsWith(".gguf") && i % 20 === 0) {
          // the streaming reader must agree: same error class, no hang
          try {
            const { tensors } = await streamGguf(name, chunks(bytes, 997), bytes.length);
            for await (const _ of tensors) void _;
          } catch (e) {
            if (!(e instanceof ModelFormatError)) throw new Error(`streamed mutant ${i} threw ${(e as Error).name}: ${(e as Error).message}`);
          }
        }
      }
      expect(rejected).toBeGreaterThan(40);
    });
  }
});

function findBytes(hay: Uint8Array, needle: Uint8Array): number {
  outer: for (let i = 0; i + needle.length <= hay.length; i++) {
    for (let j = 0; j < needle.length; j++) if (hay[i + j] !== needle[j]) continue outer;
    return i;
  }
  throw new Error("not found");
}

describe("encodeSafetensors", () => {
  it("writes what readSafetensors reads back, with 8-byte aligned data", () => {
    const a = Float32Array.from({ length: 6 }, (_, i) => i - 2.5);
    const b = Uint16Array.from([0x3c00, 0xc000, 0x7bff]);
    const bytes = encodeSafetensors(
      [
        { name: "a", dtype: "F32", shape: [2, 3], data: new Uint8Array(a.buffer) },
        { name: "b.weight", dtype: "F16", shape: [3], data: new Uint8Array(b.buffer) },
      ],
      { producer: "test" },
    );
    const { header, store } = readSafetensors("x.safetensors", bytes);
    expect(header.dataStart % 8).toBe(0);
    expect(header.metadata).toEqual({ format: "pt", producer: "test" });
    expect(store.get("a").shape).toEqual([2, 3]);
    expect(Array.from(new Float32Array(store.get("a").data.slice().buffer))).toEqual(Array.from(a));
    expect(store.get("b.weight").dtype).toBe("F16");
    expect(Array.from(new Uint16Array(store.get("b.weight").data.slice().buffer))).toEqual([0x3c00, 0xc000, 0x7bff]);
  });

  it("refuses data that does not match its shape, and block formats", () => {
    expect(() => encodeSafetensors([{ name: "a", dtype: "F32", shape: [2, 3], data: new Uint8Array(20) }])).toThrow(/holds 20 bytes; F32 \[2, 3\] needs 24/);
    expect(() => encodeSafetensors([{ name: "q", dtype: "Q8_0", shape: [32], data: new Uint8Array(34) }])).toThrow(/cannot be written to safetensors/);
  });
});
