/**
 * A small Spec-Bench-style suite, written for the story models we have (TinyStories-656K,
 * stories260K): four categories whose outputs repeat the prompt to different degrees.
 */
export type SpecCategory = "repetition" | "rewrite" | "story" | "qa";

export interface SpecPrompt {
  category: SpecCategory;
  prompt: string;
}

export const SPEC_SUITE: readonly SpecPrompt[] = [
  // repetition-heavy and code-like: lists, refrains, patterns
  { category: "repetition", prompt: "The dog said woof. The cat said meow. The dog said woof. The cat said meow. The dog said" },
  { category: "repetition", prompt: "One, two, three, four, five. One, two, three, four, five. One, two," },
  { category: "repetition", prompt: 'Tom said, "I like red." Sue said, "I like red." Ben said, "I like red." Mia said,' },
  { category: "repetition", prompt: "a = 1; b = 2; c = 3; a = 1; b = 2; c = 3; a = 1; b =" },
  // summarize or rewrite: the answer is in the prompt
  {
    category: "rewrite",
    prompt: "Lily had a big red ball. She played with it in the park every day. One day the ball rolled into the pond. Here is the story again: Lily had",
  },
  {
    category: "rewrite",
    prompt: "Tim and his mom went to the store. They bought milk, bread and apples. Tim carried the apples home. In short, Tim and his mom",
  },
  {
    category: "rewrite",
    prompt: "The little bird could not fly. Its friend the cat helped it climb the tree. The bird was happy. Tell it again. The little bird",
  },
  {
    category: "rewrite",
    prompt: "Sam found a shiny rock. He showed it to his sister. She said it was the best rock ever. Sam found",
  },
  // open story writing
  { category: "story", prompt: "Once upon a time" },
  { category: "story", prompt: "One day, a little girl named Mia" },
  { category: "story", prompt: "There was a big tree in the forest." },
  { category: "story", prompt: "Max the dog was very sad because" },
  // QA over a passage
  {
    category: "qa",
    prompt: "Ben had a blue car. He gave the car to his friend Anna. Anna was very happy. Who did Ben give the car to? Ben gave the car to",
  },
  {
    category: "qa",
    prompt: "The sun was hot, so Lucy went to the lake to swim with her brother Jack. Where did Lucy go? Lucy went to",
  },
  {
    category: "qa",
    prompt: "Mom baked a cake for Lily's birthday. The cake was pink and had five candles. What color was the cake? The cake was",
  },
  {
    category: "qa",
    prompt: "Tom lost his hat in the park. His dog found it under a bench. Where was the hat? The hat was",
  },
];

/**
 * Earlier traffic for the drafters' hot start: distinct story openings, none of them in the
 * suite. A deployment's drafter has served requests before the one being measured; Token
 * Recycling's adjacency matrix (and ADED's / STAND's stores) are meant to be kept across
 * them (Token Recycling §3.1, "hot start": Spec-Bench MATs are measured that way). Each
 * measured round's fresh drafter first serves these, untimed, then the suite.
 */
export const WARMUP_PROMPTS: readonly string[] = [
  "Once there was a",
  "The sun was",
  "A little boy",
  "In the park",
  "The cat",
  "Mom said",
  "One morning",
  "Sara and Ben",
  "The big dog",
  "It was a rainy day",
  "The bird",
  "Tim wanted",
  "Anna had a",
  "The old man",
  "Lucy saw",
  "A frog",
];
