/** Unit tests run on the tfjs backend (pure JS: always available). */
import { setBackend } from "@rnnkit/core";
import { createBackend } from "@rnnkit/backend-tfjs";

setBackend(await createBackend());
