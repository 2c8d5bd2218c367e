import { loadConfig, readConfigSource } from "./config";
import { coreProgram } from "../stacks/core";
import { downloadsProgram } from "../stacks/downloads";

/**
 * The whole program: validate the stack's configuration, then run the stack its role names.
 * Returns the stack outputs.
 */
export async function runCharmarr(): Promise<Record<string, unknown>> {
    const config = loadConfig(readConfigSource());
    switch (config.role) {
        case "core":
            return { ...coreProgram(config) };
        case "downloads":
            return { ...(await downloadsProgram(config)) };
    }
}
