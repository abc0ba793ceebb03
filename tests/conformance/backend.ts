/**
 * Picks the backend under test from RNNKIT_BACKEND (default tfjs) and makes it current.
 * The Deno and browser entry points both start here.
 */
import { type Backend, setBackend } from "@rnnkit/core";

export async function useBackend(name: string, create: () => Promise<Backend>): Promise<Backend> {
  const backend = await create();
  if (backend.name !== name) throw new Error(`asked for backend ${name}, got ${backend.name}`);
  setBackend(backend);
  return backend;
}
