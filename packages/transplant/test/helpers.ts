import { LocalModelSource, resolveModelSource } from "@edgespec/models/node";
import { sharedDir } from "../../models/test/shared";
import { type Checkpoint, readCheckpoint } from "../src/index";

export { sharedDir };

export const MODEL_DIRS = { stories260k: "stories260K", tinystories: "tinystories-656k", aidreams: "aidreams260K" } as const;

const cache = new Map<string, Promise<Checkpoint>>();

/** A real checkpoint of ../shared, read once per test file (callers must not mutate it). */
export function realCheckpoint(name: keyof typeof MODEL_DIRS): Promise<Checkpoint> {
  let p = cache.get(name);
  if (!p) {
    p = (async () => readCheckpoint(await resolveModelSource(sharedDir("models", MODEL_DIRS[name]))))();
    cache.set(name, p);
  }
  return p;
}

export async function localSource(dir: string): Promise<LocalModelSource> {
  return LocalModelSource.fromPath(dir);
}

/**
 * Held-out TinyStories-style text written for these tests (no model produced it), short
 * simple sentences in the style of the TinyStories corpus.
 */
export const HELD_OUT = [
  "Once upon a time, there was a little girl named Mia. Mia had a red ball. She liked to throw the ball in the park. One day, the ball went into a big tree. Mia was sad. Her friend Tom came and helped her. They got the ball down together and played until the sun went down.",
  "Ben was a small dog who loved to run. Every morning he ran to the pond to see the ducks. The ducks said quack and Ben wagged his tail. One day it was very cold and the pond was ice. Ben slid on the ice and laughed. The ducks laughed too.",
  "Lily wanted to bake a cake for her mom. She took flour, milk and eggs. She mixed them in a big bowl. The kitchen was a mess, but the cake was yummy. Mom smiled and gave Lily a big hug. They ate the cake and cleaned the kitchen together.",
  "There was a brave cat named Sam. Sam lived in a small house near the woods. One night he heard a loud noise. He went outside to look. It was only a little bird that could not fly. Sam helped the bird, and they became best friends.",
  'Tim and his sister Sue went to the beach. They built a big sand castle with a tall tower. A wave came and the castle fell down. Sue started to cry. Tim said, "Do not be sad. We can build a new one." They built an even bigger castle and were happy.',
  'Anna found a shiny stone in the garden. She showed it to her dad. "It is very pretty," he said. Anna put the stone in a box under her bed. Every night she looked at it before she went to sleep, and she dreamed of magic places.',
];
