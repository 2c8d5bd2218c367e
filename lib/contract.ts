import * as pulumi from "@pulumi/pulumi";
import { z } from "zod";
import { appEnvironmentSchema, storageSchema } from "./apps/settings";
import { clusterSchema } from "./cluster/settings";
import { GATEWAY_DOMAINS } from "./ingress/settings";
import { charmarrNamespace } from "./platform/settings";

/**
 * What the core stack exports and the downloads stack reads through its StackReference. One
 * interface for both sides; bump {@link CORE_CONTRACT_VERSION} on any incompatible change so a
 * downloads stack never runs against a core stack deployed by an older program.
 */
export const CORE_CONTRACT_VERSION = 3;

/** `charmarr:coreStack`: the core stack a downloads stack reads, as a StackReference names it. */
export const coreStackName = z.string().regex(/^([A-Za-z0-9_.-]+\/){0,2}[A-Za-z0-9_.-]+$/, {
  message: "is not a stack name (<stack>, or <organization>/<project>/<stack>)",
});

/**
 * One core gateway, as a route in another namespace needs it to attach (Gateway API `allowedRoutes`,
 * docs/upstream.md#gateway-api-and-istios-gateways).
 */
const gatewayReferenceSchema = z.object({
  /** The Gateway's name (its domain: arr, media, admin). */
  name: z.string(),
  namespace: charmarrNamespace("charmarr-core"),
  /** The shared port-80 listener other namespaces' routes attach to. */
  sectionName: z.string(),
  port: z.number(),
  /** The gateway's mesh identity, `<trust domain>/ns/<ns>/sa/<gateway>-istio`, for AuthorizationPolicies. */
  principal: z.string(),
  /** The LAN IP MetalLB gives it, when pinned. */
  lanIp: z.string().optional(),
  /** Its tailnet machine name, when exposed on the tailnet. */
  tailnetHostname: z.string().optional(),
  /** Path prefixes the core stack already serves on the shared listener, to app name. */
  paths: z.record(z.string(), z.string()),
});

export type GatewayReference = z.output<typeof gatewayReferenceSchema>;

/** An arr app of core as the downloads stack's relations reach it: in-cluster address and API key. */
const offerSchema = z.object({
  namespace: z.string(),
  /** In-cluster Service name: `radarr.charmarr-core.svc.cluster.local`. */
  host: z.string(),
  port: z.number(),
  /** The app's URL base (`/radarr`). */
  basePath: z.string(),
  apiKey: z.string(),
  /** The app's root folder in the library, which the download clients must save beside. */
  rootFolder: z.string(),
});

export type Offer = z.output<typeof offerSchema>;

const coreOutputsSchema = z.object({
  contractVersion: z.literal(CORE_CONTRACT_VERSION),
  cluster: clusterSchema,
  namespace: charmarrNamespace("charmarr-core"),
  /** The enabled gateways, by domain. */
  gateways: z.partialRecord(z.enum(GATEWAY_DOMAINS), gatewayReferenceSchema),
  /** The mesh the core stack's apps are in: its trust domain, which the downloads apps' principals share. */
  mesh: z.object({ trustDomain: z.string() }),
  /** Mesh identity (SPIFFE principal) of each enabled core app, by app name. */
  identities: z.record(z.string(), z.string()),
  /** What every app of both stacks shares: /config storage class, media library, PUID/PGID/TZ. */
  media: z.object({
    storageClassName: z.string().optional(),
    library: storageSchema.shape.library,
    environment: appEnvironmentSchema,
  }),
  /** What another stack needs to relate to each enabled arr app (a secret output: it holds the API keys). */
  offers: z.record(z.string(), offerSchema),
});

export type CoreStackOutputs = z.output<typeof coreOutputsSchema>;

/** The core program's return value: the contract, each field possibly still an Output. */
export type CoreStackExports = { [K in keyof CoreStackOutputs]: pulumi.Input<CoreStackOutputs[K]> };

const OUTPUT_NAMES = Object.keys(coreOutputsSchema.shape) as (keyof CoreStackOutputs)[];

/**
 * A core stack that is missing, stale or shaped unlike this program's contract: `problem` says
 * what is wrong with it, the message adds what to do when deploying (`pulumi up`).
 */
export class CoreStackError extends pulumi.RunError {
  constructor(
    /** The core stack as `charmarr:coreStack` names it. */
    readonly coreStack: string,
    /** What is wrong, without a remedy. */
    readonly problem: string,
    remedy: string,
  ) {
    super(`${problem} ${remedy}`);
    this.name = "CoreStackError";
  }

  /** The core stack's name within its project, as `pulumi up --stack` and `npm run plan` take it. */
  get stackName(): string {
    return this.coreStack.slice(this.coreStack.lastIndexOf("/") + 1);
  }
}

/**
 * Reads and checks every contract output of the core stack. Awaited before the downloads program
 * creates anything, so a missing or stale core stack fails cleanly instead of half-deploying.
 */
export async function readCoreOutputs(reference: pulumi.StackReference, coreStack: string): Promise<CoreStackOutputs> {
  const values: Record<string, unknown> = {};
  const missing: string[] = [];
  for (const name of OUTPUT_NAMES) {
    const { value, secretValue } = await reference.getOutputDetails(name);
    const resolved = value ?? secretValue;
    if (resolved === undefined) {
      missing.push(name);
    }
    values[name] = resolved;
  }
  const stack = coreStack.slice(coreStack.lastIndexOf("/") + 1);
  if (missing.length > 0) {
    throw new CoreStackError(
      coreStack,
      `The core stack "${coreStack}" has no output${missing.length > 1 ? "s" : ""} ${missing.map((n) => `"${n}"`).join(", ")}.`,
      `Deploy the core stack with this version of the program first (pulumi up --stack ${stack}), ` +
        `or point charmarr:coreStack at the right stack (pulumi config set charmarr:coreStack <organization>/charmarr/<stack>).`,
    );
  }
  const parsed = coreOutputsSchema.safeParse(values);
  if (!parsed.success) {
    const details = parsed.error.issues.map((issue) => `${issue.path.join(".")}: ${issue.message}`).join("; ");
    throw new CoreStackError(
      coreStack,
      `The core stack "${coreStack}" exports outputs this program cannot use (${details}).`,
      `Update the core stack with this version of the program first (pulumi up --stack ${stack}).`,
    );
  }
  return parsed.data;
}
