// Entry point for `pulumi up` / `pulumi preview`. The stack's role (core or downloads) comes from
// config `charmarr:role`, defaulting to the stack's name; its return value becomes the stack outputs.
import { runCharmarr } from "./lib/program";

export = runCharmarr;
