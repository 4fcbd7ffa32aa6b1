import type { Backend, Tensor } from "@edgespec/runtime";

/**
 * `be` as a backend that reads asynchronously only, like WebGPU: syncRead is false, read /
 * readF32 / argmax / topk throw, readAsync copies the bytes when called (as a GPU queues its
 * copy) and resolves a macrotask later, so a caller that forgets to await gets nothing.
 * Tensors made through it belong to it (read them with its readAsync).
 */
export function asyncOnly(be: Backend): Backend {
  const read = be.read;
  return new Proxy(be, {
    get(target, prop, receiver) {
      if (prop === "syncRead") return false;
      if (prop === "read" || prop === "readF32" || prop === "argmax" || prop === "topk")
        return () => {
          throw new Error(`${String(prop)}() called on an async-only backend`);
        };
      if (prop === "readAsync")
        return async (t: Tensor) => {
          const bytes = read.call(receiver, t);
          await new Promise((r) => setTimeout(r, 0));
          return bytes;
        };
      return Reflect.get(target, prop, receiver);
    },
  });
}
