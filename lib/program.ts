import { loadConfig, readConfigSource } from "./config";
import { coreProgram } from "../stacks/core";
import { downloadsProgram } from "../stacks/downloads";

export interface RunOptions {
    /**
     * The environment to read the Tailscale provider's credential variables from; the process's own
     * unless given (`pulumi up` calls this with no options). The offline plan passes its own.
     */
    readonly env?: Readonly<Record<string, string | undefined>>;
}

/**
 * The whole program: validate the stack's configuration, then run the stack its role names.
 * Returns the stack outputs.
 */
export async function runCharmarr(options: RunOptions = {}): Promise<Record<string, unknown>> {
    const config = loadConfig(readConfigSource(options.env));
    switch (config.role) {
        case "core":
            return { ...coreProgram(config) };
        case "downloads":
            return { ...(await downloadsProgram(config)) };
    }
}
