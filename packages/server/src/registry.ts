/**
 * The models a server offers, loaded on first use and kept for the life of the process or
 * isolate. Concurrent first requests share one load; a failed load is retried by the next
 * request instead of being cached.
 */
import type { LlamaModel, Tokenizer } from "@edgespec/models";
import { HttpError } from "./errors";
import { awaitShared } from "./limits";

export interface ServedModel {
  model: LlamaModel;
  tokenizer: Tokenizer;
}

export interface ModelEntry {
  /** the name clients put in "model" */
  id: string;
  load(): Promise<ServedModel>;
}

export class ModelRegistry {
  private readonly loads = new Map<string, Promise<ServedModel>>();
  private readonly loaded = new Map<string, ServedModel>();
  constructor(readonly entries: readonly ModelEntry[]) {
    if (entries.length === 0) throw new Error("a server needs at least one model");
    const ids = new Set<string>();
    for (const e of entries) {
      if (ids.has(e.id)) throw new Error(`model id ${JSON.stringify(e.id)} is listed twice`);
      ids.add(e.id);
    }
  }

  /** The entry clients named (the first model when they named none). */
  entry(id: string | undefined): ModelEntry {
    if (id === undefined) return this.entries[0];
    const e = this.entries.find((x) => x.id === id);
    if (!e)
      throw new HttpError(
        404,
        `model ${JSON.stringify(id)} does not exist; GET /v1/models lists ${this.entries.map((x) => JSON.stringify(x.id)).join(", ")}`,
        "invalid_request_error",
        "model",
        "model_not_found",
      );
    return e;
  }

  isLoaded(id: string): boolean {
    return this.loaded.has(id);
  }

  /** The models loaded so far, by id. */
  loadedModels(): [string, ServedModel][] {
    return [...this.loaded];
  }

  load(entry: ModelEntry): Promise<ServedModel> {
    let p = this.loads.get(entry.id);
    if (!p) {
      p = entry.load().then(
        (m) => {
          this.loaded.set(entry.id, m);
          return m;
        },
        (e: unknown) => {
          this.loads.delete(entry.id);
          throw new HttpError(
            503,
            `model ${JSON.stringify(entry.id)} could not be loaded: ${(e as Error)?.message ?? String(e)}`,
            "server_error",
            "model",
            "model_unavailable",
          );
        },
      );
      this.loads.set(entry.id, p);
    }
    // concurrent first requests wait on the load another request runs
    return awaitShared(p);
  }
}
