/**
 * JSON Schema to a regex whose every match is a JSON text valid under the schema (the
 * approach of outlines). What is generated, and why it stays valid:
 *   - objects: the declared properties in declared order, required ones always and optional
 *     ones when the model chooses; no other properties (additionalProperties is only used for
 *     objects that declare no properties, as a map of string keys);
 *   - arrays: `items` repeated minItems..maxItems times;
 *   - strings: minLength..maxLength characters, short escapes only (\" \\ \/ \b \f \n \r \t),
 *     or a `pattern` (matched as a whole, which also satisfies JSON Schema's search semantics;
 *     its character sets lose the characters a JSON string must escape), or a format (date,
 *     time, date-time, uuid, ipv4; other formats are annotations and ignored);
 *   - integers and numbers within minimum/maximum/exclusive bounds, exactly for integers;
 *     bounded numbers are written without an exponent and non-integer bounds are rounded
 *     inwards; enum/const values as their compact JSON;
 *   - anyOf/oneOf as alternatives (oneOf is not checked for exclusivity), allOf (keywords of
 *     the parts joined: required lists, properties by name; other overlaps refused), $ref to "#..." JSON pointers ($defs, definitions), with
 *     recursion and free-form values (`{}`, `true`) nested at most `maxNesting` deep.
 * Whitespace: compact by default; `whitespace` is a regex placed between JSON tokens.
 * A schema no value can satisfy gives a ConstraintError naming the reason and its location;
 * keywords that restrict values in ways the regex cannot express are refused by name.
 */
import { ConstraintError } from "../errors";
import { intersect, negate, range, single, union } from "./charset";
import { type Bound, decimalRange, FORMATS, INTEGER_DIGITS, integerRange, JSON_CHAR, JSON_INTEGER, JSON_NUMBER, JSON_SCALAR, JSON_STRING } from "./json-regex";
import { fitsSchema } from "./json-values";
import { MAX_REPEAT, parseRegex } from "./regex";
import { escapeLiteral, mapSets, printRegex } from "./regex-print";

export interface JsonSchemaOptions {
  /** regex for the optional whitespace between JSON tokens, e.g. "[ ]?"; default "" (compact) */
  whitespace?: string;
  /** how deep recursive $refs and free-form values (`{}`) nest; default 2 */
  maxNesting?: number;
}

type Json = Record<string, unknown>;

const ANNOTATIONS = new Set([
  "$schema",
  "$id",
  "$anchor",
  "$comment",
  "title",
  "description",
  "default",
  "examples",
  "deprecated",
  "readOnly",
  "writeOnly",
  "$defs",
  "definitions",
]);
const UNSUPPORTED = [
  "not",
  "if",
  "then",
  "else",
  "patternProperties",
  "propertyNames",
  "dependentRequired",
  "dependentSchemas",
  "dependencies",
  "contains",
  "prefixItems",
  "additionalItems",
  "unevaluatedProperties",
  "unevaluatedItems",
  "$dynamicRef",
  "$recursiveRef",
];
/** What a JSON string may hold without escaping */
const JSON_SAFE = negate(union(range(0, 0x1f), single(0x22), single(0x5c)));

const alt = (parts: string[]) => (parts.length === 1 ? parts[0] : `(?:${parts.join("|")})`);
const isObject = (v: unknown): v is Json => typeof v === "object" && v !== null && !Array.isArray(v);

function quantifier(min: number, max: number | undefined): string {
  if (max === undefined) return min === 0 ? "*" : `{${min},}`;
  return min === max ? `{${min}}` : `{${min},${max}}`;
}

class SchemaCompiler {
  readonly reasons: string[] = [];
  private readonly ws: string;
  private readonly maxNesting: number;
  private readonly refStack: string[] = [];
  private readonly anyCache = new Map<number, string>();

  constructor(
    private readonly root: unknown,
    opts: JsonSchemaOptions,
  ) {
    this.ws = opts.whitespace ?? "";
    if (this.ws !== "") {
      try {
        parseRegex(this.ws);
      } catch (e) {
        throw new ConstraintError(`JSON Schema whitespace option: ${(e as Error).message}`);
      }
      this.ws = `(?:${this.ws})`;
    }
    this.maxNesting = opts.maxNesting ?? 2;
    if (!Number.isInteger(this.maxNesting) || this.maxNesting < 0)
      throw new ConstraintError(`maxNesting must be a non-negative integer, got ${opts.maxNesting}`);
  }

  private err(path: string, msg: string): ConstraintError {
    return new ConstraintError(`JSON Schema at ${path}: ${msg}`);
  }

  private unsat(path: string, why: string): null {
    this.reasons.push(`${path}: ${why}`);
    return null;
  }

  /** The regex of values valid under `schema`, or null (with a reason) if there are none. */
  value(schema: unknown, path: string): string | null {
    if (schema === true) return this.any(this.maxNesting);
    if (schema === false) return this.unsat(path, "the schema is false");
    if (!isObject(schema)) throw this.err(path, "a schema must be an object or a boolean");
    for (const k of UNSUPPORTED) if (k in schema) throw this.err(path, `"${k}" is not supported`);
    if ("$ref" in schema) return this.ref(schema, path);
    if ("allOf" in schema) return this.value(this.mergeAllOf(schema, path), path);
    if ("anyOf" in schema || "oneOf" in schema) return this.alternatives(schema, path);
    if ("const" in schema || "enum" in schema) return this.literals(schema, path);
    const types = this.types(schema, path);
    const parts: string[] = [];
    for (const t of types) {
      const r = this.typed(t, schema, `${path}`);
      if (r !== null) parts.push(r);
    }
    if (parts.length === 0) return types.length > 1 ? this.unsat(path, `none of the types ${types.join(", ")} can be satisfied`) : null;
    return alt(parts);
  }

  private typed(type: string, s: Json, path: string): string | null {
    switch (type) {
      case "string":
        return this.string(s, path);
      case "integer":
        return this.number(s, path, true);
      case "number":
        return this.number(s, path, false);
      case "boolean":
        return "(?:true|false)";
      case "null":
        return "null";
      case "object":
        return this.object(s, path);
      case "array":
        return this.array(s, path);
      default:
        throw this.err(path, `unknown type ${JSON.stringify(type)}`);
    }
  }

  /** The declared types, or the one the keywords imply, or all of them. */
  private types(s: Json, path: string): string[] {
    const t = s.type;
    if (typeof t === "string") return [t];
    if (Array.isArray(t)) {
      if (t.length === 0) throw this.err(path, '"type" is an empty list');
      // integers are numbers: "number" covers both
      const list = t.map(String);
      return list.includes("number") ? list.filter((x) => x !== "integer") : list;
    }
    if (t !== undefined) throw this.err(path, '"type" must be a string or a list of strings');
    const has = (...keys: string[]) => keys.some((k) => k in s);
    if (has("properties", "required", "additionalProperties", "minProperties", "maxProperties")) return ["object"];
    if (has("items", "minItems", "maxItems", "uniqueItems")) return ["array"];
    if (has("minLength", "maxLength", "pattern", "format")) return ["string"];
    if (has("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf")) return ["number"];
    return ["string", "number", "boolean", "null", "object", "array"];
  }

  private nonNegInt(s: Json, key: string, path: string): number | undefined {
    const v = s[key];
    if (v === undefined) return undefined;
    if (typeof v !== "number" || !Number.isInteger(v) || v < 0) throw this.err(path, `"${key}" must be a non-negative integer`);
    if (v > MAX_REPEAT) throw this.err(path, `"${key}" above ${MAX_REPEAT} is not supported`);
    return v;
  }

  private string(s: Json, path: string): string | null {
    const minL = this.nonNegInt(s, "minLength", path) ?? 0;
    const maxL = this.nonNegInt(s, "maxLength", path);
    if (maxL !== undefined && minL > maxL) return this.unsat(path, `minLength ${minL} is greater than maxLength ${maxL}`);
    const lengths = "minLength" in s || "maxLength" in s;
    if (s.pattern !== undefined) {
      if (typeof s.pattern !== "string") throw this.err(path, '"pattern" must be a string');
      if (lengths) throw this.err(path, '"pattern" together with minLength/maxLength is not supported');
      let tree: ReturnType<typeof parseRegex>;
      try {
        tree = parseRegex(s.pattern);
      } catch (e) {
        throw this.err(path, `"pattern": ${(e as Error).message}`);
      }
      return `"(?:${printRegex(mapSets(tree, (set) => intersect(set, JSON_SAFE)))})"`;
    }
    if (typeof s.format === "string" && s.format in FORMATS) {
      if (lengths) throw this.err(path, `"format" ${s.format} together with minLength/maxLength is not supported`);
      return `"${FORMATS[s.format]}"`;
    }
    return `"${JSON_CHAR}${quantifier(minL, maxL)}"`;
  }

  private number(s: Json, path: string, integer: boolean): string | null {
    if (s.multipleOf !== undefined && !(integer && s.multipleOf === 1)) throw this.err(path, '"multipleOf" is not supported');
    const num = (key: string) => {
      const v = s[key];
      if (v === undefined || typeof v === "boolean") return undefined;
      if (typeof v !== "number" || !Number.isFinite(v)) throw this.err(path, `"${key}" must be a finite number`);
      return v;
    };
    // draft 4 writes exclusive bounds as booleans beside minimum/maximum
    const lower = (() => {
      const min = num("minimum");
      const exMin = num("exclusiveMinimum");
      const minIncl = min === undefined ? undefined : { r: min, incl: s.exclusiveMinimum !== true };
      const exMinB = exMin === undefined ? undefined : { r: exMin, incl: false };
      if (!minIncl) return exMinB;
      if (!exMinB) return minIncl;
      return exMinB.r >= minIncl.r ? exMinB : minIncl;
    })();
    const upper = (() => {
      const max = num("maximum");
      const exMax = num("exclusiveMaximum");
      const maxIncl = max === undefined ? undefined : { r: max, incl: s.exclusiveMaximum !== true };
      const exMaxB = exMax === undefined ? undefined : { r: exMax, incl: false };
      if (!maxIncl) return exMaxB;
      if (!exMaxB) return maxIncl;
      return exMaxB.r <= maxIncl.r ? exMaxB : maxIncl;
    })();
    const show = (b: { r: number; incl: boolean } | undefined, side: string) => (b ? `${side}${b.incl ? "=" : ""} ${b.r}` : "");
    if (lower && upper && (lower.r > upper.r || (lower.r === upper.r && !(lower.incl && upper.incl)))) {
      return this.unsat(path, `no number is ${show(lower, ">")} and ${show(upper, "<")}`);
    }
    if (integer) {
      if (!lower && !upper) return JSON_INTEGER;
      const lo = lower ? BigInt(lower.incl ? Math.ceil(lower.r) : Math.floor(lower.r) + 1) : null;
      const hi = upper ? BigInt(upper.incl ? Math.floor(upper.r) : Math.ceil(upper.r) - 1) : null;
      // an open side gets the digit cap (unless the other bound is beyond it)
      const cap = 10n ** BigInt(INTEGER_DIGITS) - 1n;
      return (
        integerRange(lo ?? (hi !== null && hi < -cap ? null : -cap), hi ?? (lo !== null && lo > cap ? null : cap)) ??
        this.unsat(path, `no integer is ${[show(lower, ">"), show(upper, "<")].filter(Boolean).join(" and ")}`)
      );
    }
    if (!lower && !upper) return JSON_NUMBER;
    // non-integer bounds move inwards to the next integer: a subset of the valid numbers
    const lo: Bound | null = lower
      ? Number.isInteger(lower.r)
        ? { value: BigInt(lower.r), inclusive: lower.incl }
        : { value: BigInt(Math.ceil(lower.r)), inclusive: true }
      : null;
    const hi: Bound | null = upper
      ? Number.isInteger(upper.r)
        ? { value: BigInt(upper.r), inclusive: upper.incl }
        : { value: BigInt(Math.floor(upper.r)), inclusive: true }
      : null;
    const cap = 10n ** BigInt(INTEGER_DIGITS);
    const r = decimalRange(
      lo ?? (hi !== null && hi.value < -cap ? null : { value: -cap, inclusive: false }),
      hi ?? (lo !== null && lo.value > cap ? null : { value: cap, inclusive: false }),
    );
    if (r === null) throw this.err(path, "number bounds that enclose no integer are not supported");
    return r;
  }

  private object(s: Json, path: string): string | null {
    const W = this.ws;
    const props = s.properties ?? {};
    if (!isObject(props)) throw this.err(path, '"properties" must be an object');
    const required = s.required ?? [];
    if (!Array.isArray(required) || !required.every((r) => typeof r === "string")) throw this.err(path, '"required" must be a list of strings');
    const addl = s.additionalProperties;
    const minP = this.nonNegInt(s, "minProperties", path);
    const maxP = this.nonNegInt(s, "maxProperties", path);
    if (minP !== undefined && maxP !== undefined && minP > maxP) return this.unsat(path, `minProperties ${minP} is greater than maxProperties ${maxP}`);
    const names = Object.keys(props);
    const empty = `\\{${W}\\}`;
    if (names.length === 0 && required.length === 0) {
      if (addl === false) return (minP ?? 0) > 0 ? this.unsat(path, "minProperties > 0 but additionalProperties is false") : empty;
      const v = addl === undefined || addl === true ? this.any(this.maxNesting - 1) : this.value(addl, `${path}/additionalProperties`);
      if (v === null) return (minP ?? 0) > 0 ? this.unsat(path, "minProperties > 0 but additionalProperties cannot be satisfied") : empty;
      return this.list("\\{", "\\}", `${JSON_STRING}${W}:${W}${v}`, minP ?? 0, maxP);
    }
    const entries: { key: string; schema: unknown; required: boolean }[] = names.map((k) => ({ key: k, schema: props[k], required: required.includes(k) }));
    for (const r of required as string[]) {
      if (names.includes(r)) continue;
      if (addl === false) return this.unsat(path, `required property ${JSON.stringify(r)} is not in "properties" and additionalProperties is false`);
      entries.push({ key: r, schema: addl === undefined ? true : addl, required: true });
    }
    const nRequired = entries.filter((e) => e.required).length;
    if ((minP !== undefined && minP > nRequired) || (maxP !== undefined && maxP < entries.length)) {
      throw this.err(path, "minProperties/maxProperties that the required and declared properties do not settle are not supported");
    }
    const members: { re: string; required: boolean }[] = [];
    for (const e of entries) {
      const v = this.value(e.schema, `${path}/properties/${e.key}`);
      if (v === null) {
        if (e.required) return this.unsat(path, `required property ${JSON.stringify(e.key)} cannot be satisfied`);
        continue;
      }
      members.push({ re: `${escapeLiteral(JSON.stringify(e.key))}${W}:${W}${v}`, required: e.required });
    }
    const comma = `${W},${W}`;
    // properties i.. after at least one was written: each behind a comma, optional ones optional
    const after = (i: number) =>
      members
        .slice(i)
        .map((m) => (m.required ? `${comma}${m.re}` : `(?:${comma}${m.re})?`))
        .join("");
    // properties i.. with none written yet: the first one present has no comma
    const first = (i: number): string => {
      if (i === members.length) return "";
      const m = members[i];
      if (m.required) return m.re + after(i + 1);
      const rest = first(i + 1);
      return `(?:${m.re}${after(i + 1)}${rest === "" ? ")?" : `|${rest})`}`;
    };
    return `\\{${W}${first(0)}${W}\\}`;
  }

  /** open item (, item){min-1..max-1} close, or just open close when zero items may be written. */
  private list(open: string, close: string, item: string, min: number, max: number | undefined): string {
    const W = this.ws;
    if (max === 0) return `${open}${W}${close}`;
    const body = `${item}(?:${W},${W}${item})${quantifier(Math.max(0, min - 1), max === undefined ? undefined : max - 1)}`;
    return `${open}${W}${min === 0 ? `(?:${body})?` : body}${W}${close}`;
  }

  private array(s: Json, path: string): string | null {
    if (Array.isArray(s.items)) throw this.err(path, '"items" as a list (tuple validation) is not supported');
    const minI = this.nonNegInt(s, "minItems", path) ?? 0;
    const maxI = this.nonNegInt(s, "maxItems", path);
    if (maxI !== undefined && minI > maxI) return this.unsat(path, `minItems ${minI} is greater than maxItems ${maxI}`);
    if (s.uniqueItems === true && (maxI === undefined || maxI > 1)) throw this.err(path, '"uniqueItems" is not supported (unless maxItems <= 1)');
    const item = s.items === undefined || s.items === true ? this.any(this.maxNesting - 1) : this.value(s.items, `${path}/items`);
    if (item === null) return minI > 0 ? this.unsat(path, `minItems is ${minI} but no item can be valid`) : `\\[${this.ws}\\]`;
    return this.list("\\[", "\\]", item, minI, maxI);
  }

  private literals(s: Json, path: string): string | null {
    let values: unknown[];
    if ("enum" in s) {
      if (!Array.isArray(s.enum)) throw this.err(path, '"enum" must be a list');
      values = s.enum;
      if (values.length === 0) return this.unsat(path, '"enum" is empty');
      if ("const" in s) values = values.filter((v) => JSON.stringify(v) === JSON.stringify(s.const));
    } else values = [s.const];
    const { enum: _e, const: _c, ...rest } = s;
    const fitting = values.filter((v) => fitsSchema(v, rest));
    if (fitting.length === 0) {
      const what = "const" in s ? `"const" ${JSON.stringify(s.const)} does not fit` : `no "enum" value fits`;
      return this.unsat(path, `${what} the other keywords (${JSON.stringify(rest)})`);
    }
    return alt(fitting.map((v) => escapeLiteral(JSON.stringify(v))));
  }

  private alternatives(s: Json, path: string): string | null {
    if ("anyOf" in s && "oneOf" in s) throw this.err(path, '"anyOf" together with "oneOf" is not supported');
    const key = "anyOf" in s ? "anyOf" : "oneOf";
    const branches = s[key];
    if (!Array.isArray(branches) || branches.length === 0) throw this.err(path, `"${key}" must be a non-empty list`);
    const { [key]: _, ...siblings } = s;
    const parts: string[] = [];
    branches.forEach((b, i) => {
      const merged = Object.keys(siblings).some((k) => !ANNOTATIONS.has(k)) ? this.merge(siblings, b, `${path}/${key}/${i}`) : b;
      const r = this.value(merged, `${path}/${key}/${i}`);
      if (r !== null) parts.push(r);
    });
    return parts.length === 0 ? this.unsat(path, `no branch of "${key}" can be satisfied`) : alt(parts);
  }

  private mergeAllOf(s: Json, path: string): unknown {
    const list = s.allOf;
    if (!Array.isArray(list) || list.length === 0) throw this.err(path, '"allOf" must be a non-empty list');
    const { allOf: _, ...rest } = s;
    return list.reduce((acc: unknown, b, i) => this.merge(acc, b, `${path}/allOf/${i}`), rest);
  }

  /**
   * Both schemas at once: keywords set on one side only are kept, `required` lists are joined,
   * `properties` are merged name by name; any other keyword both set differently is refused.
   */
  private merge(a: unknown, b: unknown, path: string): unknown {
    if (a === true) return b;
    if (b === true) return a;
    if (a === false || b === false) return false;
    if (!isObject(a) || !isObject(b)) throw this.err(path, "a schema must be an object or a boolean");
    const out: Json = { ...a };
    for (const [k, v] of Object.entries(b)) {
      const mine = out[k];
      if (!(k in out) || ANNOTATIONS.has(k) || JSON.stringify(mine) === JSON.stringify(v)) out[k] = v;
      else if (k === "required" && Array.isArray(mine) && Array.isArray(v)) out[k] = [...new Set([...mine, ...v])];
      else if (k === "properties" && isObject(mine) && isObject(v)) {
        const props: Json = { ...mine };
        for (const [name, sub] of Object.entries(v)) props[name] = name in props ? this.merge(props[name], sub, `${path}/properties/${name}`) : sub;
        out[k] = props;
      } else throw this.err(path, `combining two schemas that both set "${k}" is not supported`);
    }
    return out;
  }

  private ref(s: Json, path: string): string | null {
    const ref = s.$ref;
    if (typeof ref !== "string") throw this.err(path, '"$ref" must be a string');
    if (Object.keys(s).some((k) => k !== "$ref" && !ANNOTATIONS.has(k))) throw this.err(path, 'keywords beside "$ref" are not supported');
    if (!ref.startsWith("#")) throw this.err(path, `$ref ${JSON.stringify(ref)}: only references inside the schema ("#...") are supported`);
    let target: unknown = this.root;
    const pointer = decodeURIComponent(ref.slice(1));
    if (pointer !== "") {
      if (!pointer.startsWith("/")) throw this.err(path, `$ref ${JSON.stringify(ref)}: anchors are not supported, use a JSON pointer`);
      for (const raw of pointer.slice(1).split("/")) {
        const part = raw.replaceAll("~1", "/").replaceAll("~0", "~");
        target = isObject(target) || Array.isArray(target) ? (target as Json)[part] : undefined;
        if (target === undefined) throw this.err(path, `$ref ${JSON.stringify(ref)} does not resolve`);
      }
    }
    const depth = this.refStack.filter((r) => r === ref).length;
    if (depth > this.maxNesting) return this.unsat(path, `$ref ${JSON.stringify(ref)} recurses deeper than maxNesting (${this.maxNesting})`);
    this.refStack.push(ref);
    try {
      return this.value(target, ref);
    } finally {
      this.refStack.pop();
    }
  }

  /** Any JSON value, arrays and objects nested at most `depth` deep. */
  private any(depth: number): string {
    const cached = this.anyCache.get(depth);
    if (cached) return cached;
    let r = JSON_SCALAR;
    if (depth > 0) {
      const inner = this.any(depth - 1);
      const W = this.ws;
      r = `(?:${JSON_SCALAR}|${this.list("\\[", "\\]", inner, 0, undefined)}|${this.list("\\{", "\\}", `${JSON_STRING}${W}:${W}${inner}`, 0, undefined)})`;
    }
    this.anyCache.set(depth, r);
    return r;
  }
}

/** The regex for a JSON Schema (an object, a boolean, or its JSON text); ConstraintError if it cannot be satisfied or uses what is not supported. */
export function jsonSchemaToRegex(schema: unknown, opts: JsonSchemaOptions = {}): string {
  let s = schema;
  if (typeof schema === "string") {
    try {
      s = JSON.parse(schema);
    } catch (e) {
      throw new ConstraintError(`JSON Schema text is not valid JSON: ${(e as Error).message}`);
    }
  }
  const c = new SchemaCompiler(s, opts);
  const r = c.value(s, "#");
  if (r === null) throw new ConstraintError(`JSON Schema cannot be satisfied: ${c.reasons.join("; ")}`);
  return r;
}
