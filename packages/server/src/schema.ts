/**
 * Request validation against a declared schema: each field's type, range and whether it is
 * required. Unknown fields are accepted (OpenAI clients send many) unless `strict` names them.
 * The first problem is reported as a 400 naming the field.
 */
import { HttpError } from "./errors";

type FieldType = "string" | "integer" | "number" | "boolean" | "string|string[]" | "messages" | "string|string[]|null";

export interface FieldSpec {
  type: FieldType;
  required?: boolean;
  min?: number;
  max?: number;
  /** allowed values (strings) */
  oneOf?: readonly string[];
  /** most items of an array, most characters of a string */
  maxItems?: number;
}

export type Schema = Record<string, FieldSpec>;

export function validate<T>(body: unknown, schema: Schema, where: string): T {
  if (!body || typeof body !== "object" || Array.isArray(body)) throw new HttpError(400, `${where}: the body must be a JSON object`);
  const obj = body as Record<string, unknown>;
  for (const [name, spec] of Object.entries(schema)) {
    const v = obj[name];
    if (v === undefined || v === null) {
      if (spec.required) throw new HttpError(400, `${where}: "${name}" is required`, undefined, name, "missing_field");
      continue;
    }
    const bad = (why: string): never => {
      throw new HttpError(400, `${where}: "${name}" ${why}`, undefined, name, "invalid_value");
    };
    switch (spec.type) {
      case "string":
        if (typeof v !== "string") bad("must be a string");
        if (spec.oneOf && !spec.oneOf.includes(v as string)) bad(`must be one of ${spec.oneOf.join(", ")}`);
        if (spec.maxItems !== undefined && (v as string).length > spec.maxItems) bad(`is longer than ${spec.maxItems} characters`);
        break;
      case "integer":
      case "number":
        if (typeof v !== "number" || !Number.isFinite(v) || (spec.type === "integer" && !Number.isInteger(v)))
          bad(`must be ${spec.type === "integer" ? "an integer" : "a number"}`);
        if (spec.min !== undefined && (v as number) < spec.min) bad(`must be at least ${spec.min}`);
        if (spec.max !== undefined && (v as number) > spec.max) bad(`must be at most ${spec.max}`);
        break;
      case "boolean":
        if (typeof v !== "boolean") bad("must be true or false");
        break;
      case "string|string[]":
      case "string|string[]|null": {
        const ok = typeof v === "string" || (Array.isArray(v) && v.every((s) => typeof s === "string"));
        if (!ok) bad("must be a string or an array of strings");
        if (Array.isArray(v) && spec.maxItems !== undefined && v.length > spec.maxItems) bad(`has more than ${spec.maxItems} items`);
        break;
      }
      case "messages": {
        if (!Array.isArray(v) || v.length === 0) bad("must be a non-empty array of {role, content} messages");
        (v as unknown[]).forEach((m, i) => {
          const msg = m as Record<string, unknown> | null;
          if (!msg || typeof msg !== "object" || typeof msg.role !== "string" || typeof msg.content !== "string") {
            bad(`item ${i} must be an object with a string "role" and a string "content"`);
          }
        });
        if (spec.maxItems !== undefined && (v as unknown[]).length > spec.maxItems) bad(`has more than ${spec.maxItems} messages`);
        break;
      }
    }
  }
  return obj as T;
}
