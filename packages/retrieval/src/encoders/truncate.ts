/** Fitting inputs to a model's positions. */

/**
 * [CLS] text [SEP] cut to `max` ids by dropping text tokens from the end and keeping the final
 * special token, which is what Hugging Face tokenizers do with truncation=True,
 * max_length=max (BERT's template adds one token at each end).
 */
export function truncateWithSpecials(ids: readonly number[], max: number): number[] {
  if (ids.length <= max) return [...ids];
  if (max < 2) throw new RangeError(`cannot fit [CLS] and [SEP] into ${max} positions`);
  return [...ids.slice(0, max - 1), ids[ids.length - 1]];
}

/** The largest maximum length not above the model's positions; a bad request is an error. */
export function maxLengthFor(modelMax: number, requested: number | undefined): number {
  if (requested === undefined) return modelMax;
  if (!Number.isInteger(requested) || requested < 2) throw new RangeError(`maxLength must be an integer >= 2, got ${requested}`);
  return Math.min(requested, modelMax);
}
