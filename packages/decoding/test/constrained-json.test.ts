/**
 * JSON Schema constraints: number ranges checked exhaustively, texts sampled from each
 * schema's automaton parsed and checked by an independent validator (below), unsatisfiable
 * and unsupported schemas refused with a ConstraintError before any decoding, and real
 * decoding with stories260K (byte-fallback vocabulary: every output must parse and validate)
 * and TinyStories-656K (no "{" token: object schemas are refused up front).
 */
import { join } from "node:path";
import { type LoadedModel, loadCausalLM } from "@edgespec/models";
import { LocalModelSource } from "@edgespec/models/node";
import { beforeAll, describe, expect, it } from "vitest";
import { type ByteDfa, compileRegex, jsonSchemaToRegex, TokenConstraint } from "../src/constrained/index";
import { decimalRange, integerRange } from "../src/constrained/json-regex";
import { ConstraintError } from "../src/errors";
import { type Rng, seededRng } from "../src/rng";
import { constrainedDecode, type Mode } from "./constrained-decode";
import { loadTinyStories, sharedDir } from "./shared";

// ---- an independent validator for the keywords the tests use ----

type Schema = boolean | Record<string, unknown>;

function jsonTypeOf(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "array";
  if (typeof v === "number") return Number.isInteger(v) ? "integer" : "number";
  return typeof v;
}

const FORMAT_CHECKS: Record<string, (s: string) => boolean> = {
  date: (s) => /^\d{4}-\d{2}-\d{2}$/.test(s) && new Date(`${s}T00:00:00Z`).toISOString().slice(0, 10) === s,
  uuid: (s) => /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(s),
  ipv4: (s) => s.split(".").length === 4 && s.split(".").every((p) => /^(0|[1-9]\d{0,2})$/.test(p) && Number(p) <= 255),
  time: (s) => /^([01]\d|2[0-3]):[0-5]\d:[0-5]\d(\.\d+)?(Z|[+-]([01]\d|2[0-3]):[0-5]\d)$/.test(s),
  "date-time": (s) => {
    const [d, t] = s.split("T");
    return t !== undefined && FORMAT_CHECKS.date(d) && FORMAT_CHECKS.time(t);
  },
};

function resolveRef(root: Schema, ref: string): Schema {
  let t: unknown = root;
  for (const part of ref.slice(2).split("/")) if (part) t = (t as Record<string, unknown>)[part];
  return t as Schema;
}

function validate(v: unknown, schema: Schema, root: Schema = schema, path = "$"): string[] {
  if (schema === true) return [];
  if (schema === false) return [`${path}: false schema`];
  // biome-ignore lint/suspicious/noExplicitAny: the validator reads whatever keywords a schema has
  const s = schema as Record<string, any>;
  if (typeof s.$ref === "string") return validate(v, resolveRef(root, s.$ref), root, path);
  const errs: string[] = [];
  const ok = (sub: Schema) => validate(v, sub, root, path).length === 0;
  for (const sub of s.allOf ?? []) errs.push(...validate(v, sub, root, path));
  if (s.anyOf && !s.anyOf.some(ok)) errs.push(`${path}: no anyOf branch`);
  if (s.oneOf && s.oneOf.filter(ok).length !== 1) errs.push(`${path}: not exactly one oneOf branch`);
  if ("const" in s && JSON.stringify(s.const) !== JSON.stringify(v)) errs.push(`${path}: not const`);
  if (s.enum && !s.enum.some((e: unknown) => JSON.stringify(e) === JSON.stringify(v))) errs.push(`${path}: not in enum`);
  const t = jsonTypeOf(v);
  if (s.type !== undefined) {
    const types: string[] = Array.isArray(s.type) ? s.type : [s.type];
    if (!types.some((x) => x === t || (x === "number" && t === "integer"))) errs.push(`${path}: type ${t} is not ${types}`);
  }
  if (typeof v === "number") {
    if (typeof s.minimum === "number" && (s.exclusiveMinimum === true ? v <= s.minimum : v < s.minimum)) errs.push(`${path}: below minimum`);
    if (typeof s.maximum === "number" && (s.exclusiveMaximum === true ? v >= s.maximum : v > s.maximum)) errs.push(`${path}: above maximum`);
    if (typeof s.exclusiveMinimum === "number" && v <= s.exclusiveMinimum) errs.push(`${path}: not above exclusiveMinimum`);
    if (typeof s.exclusiveMaximum === "number" && v >= s.exclusiveMaximum) errs.push(`${path}: not below exclusiveMaximum`);
  }
  if (typeof v === "string") {
    const n = [...v].length;
    if (typeof s.minLength === "number" && n < s.minLength) errs.push(`${path}: shorter than minLength`);
    if (typeof s.maxLength === "number" && n > s.maxLength) errs.push(`${path}: longer than maxLength`);
    if (typeof s.pattern === "string" && !new RegExp(s.pattern, "u").test(v)) errs.push(`${path}: pattern`);
    if (typeof s.format === "string" && FORMAT_CHECKS[s.format] && !FORMAT_CHECKS[s.format](v)) errs.push(`${path}: format ${s.format}`);
  }
  if (Array.isArray(v)) {
    if (typeof s.minItems === "number" && v.length < s.minItems) errs.push(`${path}: fewer than minItems`);
    if (typeof s.maxItems === "number" && v.length > s.maxItems) errs.push(`${path}: more than maxItems`);
    if (s.items !== undefined) for (const [i, x] of v.entries()) errs.push(...validate(x, s.items, root, `${path}[${i}]`));
  }
  if (t === "object") {
    const o = v as Record<string, unknown>;
    for (const r of s.required ?? []) if (!(r in o)) errs.push(`${path}: missing ${r}`);
    const props = s.properties ?? {};
    for (const [k, x] of Object.entries(o)) {
      if (k in props) errs.push(...validate(x, props[k], root, `${path}.${k}`));
      else if (s.additionalProperties !== undefined) errs.push(...validate(x, s.additionalProperties, root, `${path}.${k}`));
    }
  }
  return errs;
}

/** A random text of the automaton's language (a walk over random next bytes), or null. */
function randomMatch(dfa: ByteDfa, rng: Rng, stop = 0.3): string | null {
  const bytes: number[] = [];
  let s = dfa.start;
  for (let i = 0; i < 600; i++) {
    if (dfa.isAccepting(s) && (rng() < stop || !dfa.hasTransitions(s)))
      return new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(Uint8Array.from(bytes));
    const next = dfa.nextBytes(s);
    // favour ASCII so that walks through strings end in reasonable time
    const ascii = next.filter((b) => b < 0x80);
    const pool = ascii.length > 0 && rng() < 0.9 ? ascii : next;
    const b = pool[Math.floor(rng() * pool.length)];
    bytes.push(b);
    s = dfa.step(s, b);
  }
  return null;
}

const PERSON = {
  type: "object",
  properties: {
    name: { type: "string", minLength: 1, maxLength: 10 },
    age: { type: "integer", minimum: 0, maximum: 120 },
    tags: { type: "array", items: { enum: ["kind", "brave", "shy"] }, minItems: 1, maxItems: 3 },
    score: { type: "number", minimum: -1, exclusiveMaximum: 10 },
    active: { type: "boolean" },
    nick: { type: ["string", "null"], maxLength: 5 },
  },
  required: ["name", "age"],
  additionalProperties: false,
};

const SCHEMAS: [string, Schema, { maxNesting?: number; whitespace?: string }?][] = [
  ["person (optional properties, enum items, bounds)", PERSON],
  ["person with whitespace", PERSON, { whitespace: "[ \\n]{0,2}" }],
  ["oneOf with disjoint branches", { oneOf: [{ type: "integer" }, { type: "string", maxLength: 3 }, { type: "null" }] }],
  [
    "$ref to $defs",
    {
      $defs: {
        point: {
          type: "object",
          properties: { x: { type: "integer", minimum: -5, maximum: 5 }, y: { type: "integer", minimum: -5, maximum: 5 } },
          required: ["x", "y"],
        },
      },
      type: "array",
      items: { $ref: "#/$defs/point" },
      maxItems: 4,
    },
  ],
  [
    "recursive $ref, bounded",
    {
      $defs: {
        node: {
          type: "object",
          properties: { v: { type: "integer", minimum: 0, maximum: 9 }, kids: { type: "array", items: { $ref: "#/$defs/node" }, maxItems: 2 } },
          required: ["v"],
        },
      },
      $ref: "#/$defs/node",
    },
    { maxNesting: 2 },
  ],
  ["free-form object", { type: "object" }],
  ["any value", true],
  ["free-form array with bounds", { type: "array", minItems: 2, maxItems: 3 }],
  ["map of integers", { type: "object", additionalProperties: { type: "integer", minimum: 0, maximum: 3 }, maxProperties: 2 }],
  ["string pattern", { type: "string", pattern: '^[A-Z][a-z"\\\\]+-\\d{2}$' }],
  ["formats", { type: "array", items: { anyOf: ["date", "time", "date-time", "uuid", "ipv4"].map((format) => ({ type: "string", format })) }, maxItems: 3 }],
  ["mixed enum", { enum: ["red", 1, null, true, { a: [1] }, 'quo"te', "é😀"] }],
  ["unbounded number", { type: "number" }],
  ["bounded numbers", { type: "array", items: { type: "number", minimum: -2.5, maximum: 3 }, maxItems: 4 }],
  ["integer with exclusive bounds", { type: "integer", exclusiveMinimum: -3, maximum: 1000000 }],
  ["draft-4 boolean exclusiveMinimum", { type: "integer", minimum: 0, exclusiveMinimum: true, maximum: 3 }],
  ["allOf", { allOf: [{ type: "object", properties: { a: { type: "integer" } } }, { required: ["a"] }] }],
  [
    "anyOf branches that add required properties to shared ones",
    {
      type: "object",
      properties: { a: { type: "integer", minimum: 0, maximum: 9 }, b: { type: "boolean" }, c: { type: "null" } },
      required: ["a"],
      anyOf: [{ required: ["b"] }, { required: ["c"], properties: { c: { description: "must be null" } } }],
    },
  ],
  ["required property without a schema", { type: "object", properties: { a: { type: "string", maxLength: 2 } }, required: ["a", "b"] }],
  ["unsatisfiable optional property is left out", { type: "object", properties: { a: { enum: [] }, b: { type: "integer", minimum: 0, maximum: 1 } } }],
  ["string lengths and escapes", { type: "string", minLength: 2, maxLength: 4 }],
];

describe("JSON Schema → regex: texts of the automaton parse and validate", () => {
  it.each(SCHEMAS)("%s", (_, schema, opts) => {
    const dfa = compileRegex(jsonSchemaToRegex(schema, opts));
    const rng = seededRng(11);
    let n = 0;
    for (let i = 0; i < 300; i++) {
      const text = randomMatch(dfa, rng);
      if (text === null) continue;
      n++;
      const value = JSON.parse(text);
      expect(validate(value, schema), text).toEqual([]);
    }
    expect(n).toBeGreaterThan(100);
  });

  it("accepts a schema given as JSON text", () => {
    expect(jsonSchemaToRegex('{"type": "boolean"}')).toBe("(?:true|false)");
  });

  it("writes the declared properties in order, optional ones optional, nothing else", () => {
    const dfa = compileRegex(jsonSchemaToRegex(PERSON));
    expect(dfa.matches('{"name":"Al","age":3}')).toBe(true);
    expect(dfa.matches('{"name":"Al","age":3,"nick":null}')).toBe(true);
    expect(dfa.matches('{"age":3,"name":"Al"}')).toBe(false);
    expect(dfa.matches('{"name":"Al"}')).toBe(false);
    expect(dfa.matches('{"name":"Al","age":121}')).toBe(false);
    expect(dfa.matches('{"name":"Al","age":3,"x":1}')).toBe(false);
    expect(dfa.matches('{"name":"Al","age":3,"score":10}')).toBe(false);
    expect(dfa.matches('{"name":"Al","age":3,"score":9.99}')).toBe(true);
    const optionalOnly = compileRegex(jsonSchemaToRegex({ type: "object", properties: { a: { type: "null" }, b: { type: "null" } } }));
    expect(["{}", '{"a":null}', '{"b":null}', '{"a":null,"b":null}'].every((t) => optionalOnly.matches(t))).toBe(true);
    expect(optionalOnly.matches('{,"b":null}')).toBe(false);
  });
});

describe("number ranges", () => {
  const matcher = (re: string | null) => (re === null ? () => false : (s: string) => new RegExp(`^(?:${re})$`, "u").test(s));

  it("integerRange matches exactly the integers in range, in canonical form", () => {
    const rng = seededRng(5);
    const pick = () => BigInt(Math.floor((rng() - 0.5) * 2400));
    for (let k = 0; k < 60; k++) {
      let lo: bigint | null = pick();
      let hi: bigint | null = pick();
      if (lo > hi) [lo, hi] = [hi, lo];
      if (k % 10 === 3) lo = null;
      if (k % 10 === 7) hi = null;
      const m = matcher(integerRange(lo, hi));
      for (let x = -1300; x <= 1300; x++) {
        const inside = (lo === null || BigInt(x) >= lo) && (hi === null || BigInt(x) <= hi);
        expect(m(String(x)), `${x} in [${lo}, ${hi}]`).toBe(inside);
      }
      for (const s of ["-0", "01", "+1", "00", "-", ""]) expect(m(s), s).toBe(false);
    }
    expect(integerRange(5n, 3n)).toBeNull();
    expect(matcher(integerRange(0n, 10n ** 20n))("99999999999999999999")).toBe(true);
  });

  it("decimalRange matches the decimals in range (inclusive or exclusive bounds)", () => {
    const rng = seededRng(9);
    const texts: string[] = [];
    for (let i = 0; i < 400; i++) {
      const int = Math.floor((rng() - 0.5) * 30);
      const frac = rng() < 0.5 ? "" : `.${["0", "00", "5", "25", "001", "9"][Math.floor(rng() * 6)]}`;
      texts.push(`${int}${frac}`);
    }
    for (let k = 0; k < 40; k++) {
      const a = Math.floor((rng() - 0.5) * 24);
      const b = a + Math.floor(rng() * 8);
      const lo = k % 9 === 4 ? null : { value: BigInt(a), inclusive: rng() < 0.5 };
      const hi = k % 9 === 6 ? null : { value: BigInt(b), inclusive: rng() < 0.5 };
      const m = matcher(decimalRange(lo, hi));
      for (const t of texts) {
        const x = Number(t);
        const inside = (lo === null || (lo.inclusive ? x >= a : x > a)) && (hi === null || (hi.inclusive ? x <= b : x < b));
        expect(m(t), `${t} in ${JSON.stringify({ a, b, lo: lo?.inclusive, hi: hi?.inclusive })}`).toBe(inside);
      }
      expect(m("1e1")).toBe(false);
    }
  });
});

describe("JSON Schema errors before decoding", () => {
  it.each([
    [{ type: "array", minItems: 3, maxItems: 2 }, /cannot be satisfied: #: minItems 3 is greater than maxItems 2/],
    [{ type: "string", minLength: 5, maxLength: 2 }, /minLength 5 is greater than maxLength 2/],
    [{ enum: [] }, /"enum" is empty/],
    [{ type: "string", const: 3 }, /"const" 3 does not fit the other keywords/],
    [{ type: "integer", enum: ["a", 1.5] }, /no "enum" value fits/],
    [{ type: "integer", minimum: 5, maximum: 3 }, /no number is >= 5 and <= 3/],
    [{ type: "number", exclusiveMinimum: 2, maximum: 2 }, /no number is > 2 and <= 2/],
    [{ type: "integer", minimum: 1.2, maximum: 1.8 }, /no integer is >= 1.2 and <= 1.8/],
    [
      { type: "object", properties: { a: { type: "integer", minimum: 3, maximum: 1 } }, required: ["a"] },
      /#\/properties\/a: no number.*required property "a" cannot be satisfied/,
    ],
    [false, /the schema is false/],
    [{ anyOf: [{ enum: [] }, { type: "string", minLength: 3, maxLength: 1 }] }, /no branch of "anyOf" can be satisfied/],
    [{ type: "object", required: ["x"], additionalProperties: false }, /required property "x" is not in "properties" and additionalProperties is false/],
    [{ type: "array", items: false, minItems: 1 }, /minItems is 1 but no item can be valid/],
    [{ type: ["string", "integer"], minLength: 4, maxLength: 2, minimum: 3, maximum: 1 }, /none of the types string, integer can be satisfied/],
    [
      { $defs: { n: { type: "object", properties: { next: { $ref: "#/$defs/n" } }, required: ["next"] } }, $ref: "#/$defs/n" },
      /\$ref "#\/\$defs\/n" recurses deeper than maxNesting \(2\)/,
    ],
    [{ not: { type: "string" } }, /at #: "not" is not supported/],
    [{ type: "number", multipleOf: 0.5 }, /"multipleOf" is not supported/],
    [{ type: "array", uniqueItems: true }, /"uniqueItems" is not supported/],
    [{ $ref: "http://example.com/s.json" }, /only references inside the schema/],
    [{ $ref: "#/$defs/missing" }, /\$ref "#\/\$defs\/missing" does not resolve/],
    [{ type: "strin" }, /unknown type "strin"/],
    ["{", /JSON Schema text is not valid JSON/],
    [{ type: "string", pattern: "(?=a)" }, /at #: "pattern": regex "\(\?=a\)": lookaround/],
    [{ type: "string", maxLength: 5000 }, /"maxLength" above 1000 is not supported/],
    [{ type: "array", items: [{ type: "string" }] }, /tuple validation/],
    [{ type: "string", pattern: "a", maxLength: 3 }, /"pattern" together with minLength\/maxLength is not supported/],
    [{ type: "number", minimum: 0.2, maximum: 0.8 }, /bounds that enclose no integer/],
    [{ allOf: [{ type: "string" }, { type: "integer" }] }, /combining two schemas that both set "type" is not supported/],
  ])("%j", (schema, message) => {
    expect(() => jsonSchemaToRegex(schema)).toThrow(ConstraintError);
    expect(() => jsonSchemaToRegex(schema)).toThrow(message);
  });

  it("checks the options", () => {
    expect(() => jsonSchemaToRegex(true, { whitespace: "(" })).toThrow(/whitespace option/);
    expect(() => jsonSchemaToRegex(true, { maxNesting: -1 })).toThrow(/maxNesting/);
  });
});

// ---- real models ----

const decode = constrainedDecode;

const RUNS: [Mode, number][] = [
  ["greedy", 0],
  ["mask", 1],
  ["mask", 2],
  ["mask", 3],
  ["awrs", 1],
  ["awrs", 2],
  ["awrs", 3],
];

describe("constrained decoding with stories260K (byte-fallback vocabulary): every output parses and validates", () => {
  let loaded: LoadedModel;
  beforeAll(async () => {
    const dir = sharedDir("models", "stories260K");
    const tokenizer = { source: await LocalModelSource.fromPath(join(dir, "tok512.bin")), file: "tok512.bin" };
    loaded = await loadCausalLM(await LocalModelSource.fromPath(join(dir, "stories260K.bin")), { tokenizer });
  });

  const STORY = {
    type: "object",
    properties: {
      hero: { type: "string", minLength: 1, maxLength: 12 },
      age: { type: "integer", minimum: 1, maximum: 99 },
      friends: { type: "array", items: { type: "string", maxLength: 8 }, maxItems: 3 },
      mood: { enum: ["happy", "sad", "sleepy"] },
      place: { $ref: "#/$defs/place" },
      brave: { type: "boolean" },
    },
    required: ["hero", "age", "mood"],
    $defs: { place: { type: "object", properties: { name: { type: "string", maxLength: 10 }, near: { type: ["boolean", "null"] } }, required: ["name"] } },
  };

  it.each(RUNS)("story schema, %s (seed %i)", (mode, seed) => {
    const c = TokenConstraint.jsonSchema(STORY, loaded.tokenizer);
    const out = decode(loaded, c, "Once upon a time", mode, seed, 400);
    expect(out.finished, out.text).toBe(true);
    const value = JSON.parse(out.text);
    expect(validate(value, STORY), out.text).toEqual([]);
    // byte tokens and pieces decode to the same text as the constraint read
    expect(loaded.tokenizer.decode(out.tokens)).toBe(out.text);
  });

  it.each(RUNS)("list of numbers, with whitespace, %s (seed %i)", (mode, seed) => {
    const schema = { type: "array", items: { type: "number", minimum: -10, maximum: 10 }, minItems: 2, maxItems: 5 };
    const c = TokenConstraint.jsonSchema(schema, loaded.tokenizer, { whitespace: "[ ]?" });
    const out = decode(loaded, c, "Tim counted", mode, seed, 200);
    expect(out.finished, out.text).toBe(true);
    expect(validate(JSON.parse(out.text), schema), out.text).toEqual([]);
  });
});

describe("constrained decoding with TinyStories-656K", () => {
  let loaded: LoadedModel;
  beforeAll(async () => {
    loaded = await loadTinyStories();
  });

  it("refuses an object schema before decoding: the vocabulary has no token with a '{'", () => {
    expect(() => TokenConstraint.jsonSchema({ type: "object", properties: { a: { type: "integer" } } }, loaded.tokenizer)).toThrow(ConstraintError);
    expect(() => TokenConstraint.jsonSchema({ type: "object" }, loaded.tokenizer)).toThrow(/gets stuck needing one of "\{", which no token contains/);
  });

  const SCALARS: [string, Schema][] = [
    ["integer range", { type: "integer", minimum: -50, maximum: 500 }],
    ["short string", { type: "string", minLength: 1, maxLength: 10 }],
    ["enum", { enum: ["cat", "dog", "bird", 7] }],
  ];
  for (const [name, schema] of SCALARS) {
    it.each(RUNS)(`${name}, %s (seed %i)`, (mode, seed) => {
      const c = TokenConstraint.jsonSchema(schema, loaded.tokenizer);
      const out = decode(loaded, c, "Once upon a time, there was a", mode, seed, 64);
      expect(out.finished, out.text).toBe(true);
      expect(validate(JSON.parse(out.text), schema), out.text).toEqual([]);
    });
  }
});
