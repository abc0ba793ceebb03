/** Every conformance suite file; importing this fills the case registry. */
import "./suite/modules.ts";
import "./suite/containers.ts";
import "./suite/losses.ts";
import "./suite/optimizers.ts";
import "./suite/schedulers.ts";
import "./suite/seed_programs.ts";
import "./suite/generation.ts";
import "./suite/ops.ts";
import "./suite/activations.ts";
import "./suite/packed.ts";
import "./suite/proj.ts";
import "./suite/autograd.ts";

export { cases } from "./registry.ts";
export { deviationReport, runCase, worst } from "./check.ts";
