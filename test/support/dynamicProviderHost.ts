// The relations as `pulumi up` runs them, without the Pulumi CLI: the program's side serializes the
// relation provider (test/support/relationProviderText.ts), and the engine's side starts Pulumi's
// dynamic provider host and calls it over gRPC, as the engine does.
//
// - The program is compiled as `pulumi up` compiles it: ts-node with the project's tsconfig.json
//   (@pulumi/pulumi 3.248.0 cmd/run/run.js L280-361: tsconfig's compilerOptions over defaults that
//   tsconfig.json overrides here), type checks skipped, which changes no emitted code.
// - The host is the plugin the engine starts, `pulumi-resource-pulumi-nodejs <engine address>`
//   (the script in @pulumi/pulumi runs cmd/dynamic-provider/index.js), in the project's directory
//   (pulumi v3.248.0 sdk/go/common/resource/plugin/context.go L42 `Pwd`, provider_plugin.go L281).
//   It prints its gRPC port (index.js L422-424) and never dials the engine address: it only checks
//   one is given (L402-405).
// - Each call carries the resource's properties with `__provider`, the serialized text, which the
//   host loads with `requireFromString(text).handler()` (index.js L63-80). A failed call comes back
//   as the gRPC status the engine reads: its details are the provider error's `message`
//   (index.js L224-227, L369-397 `grpcResponseFromError`; L298-301 for delete).
import { ChildProcess, execFile, spawn } from "node:child_process";
import { once } from "node:events";
import { dirname, join } from "node:path";
import { promisify } from "node:util";
import * as grpc from "@grpc/grpc-js";
import { ResourceProviderClient } from "@pulumi/pulumi/proto/provider_grpc_pb";
import {
  CheckRequest,
  CheckResponse,
  CreateRequest,
  CreateResponse,
  DeleteRequest,
  DiffRequest,
  DiffResponse,
  UpdateRequest,
  UpdateResponse,
} from "@pulumi/pulumi/proto/provider_pb";
import type { Empty } from "google-protobuf/google/protobuf/empty_pb";
import { Struct } from "google-protobuf/google/protobuf/struct_pb";
import { MUTATION_RUN } from "./mutationCoverage";

const PROJECT = join(__dirname, "..", "..");

/**
 * Under Stryker the serialized provider is the instrumented code, whose mutant switches read Stryker's
 * namespace object; the serializer captures it as a reference to `global.__stryker__`, which the host's
 * process does not have. An empty one there runs the code unmutated, as the switches do with no active
 * mutant (the host runs in another process, whose results Stryker never sees).
 */
const STRYKER_NAMESPACE = "--import=data:text/javascript,globalThis.__stryker__={}";
const URN = "urn:pulumi:downloads::charmarr::charmarr:relations:Relations$pulumi-nodejs:dynamic:Resource::relations";

/** The `__provider` text of a relation resource, serialized as `pulumi up` serializes it. */
export async function relationProviderText(): Promise<string> {
  const { stdout } = await promisify(execFile)(
    process.execPath,
    ["--require", "ts-node/register/transpile-only", join(__dirname, "relationProviderText.ts")],
    {
      cwd: PROJECT,
      maxBuffer: 16 * 1024 * 1024,
      env: { ...process.env, TS_NODE_PROJECT: join(PROJECT, "tsconfig.json") },
    },
  );
  return stdout;
}

/** Properties as they cross the engine (a protobuf Struct): no `undefined` anywhere. */
const struct = (properties: object) => Struct.fromJavaScript(JSON.parse(JSON.stringify(properties)));
type Properties = Record<string, unknown>;

/** A failed call, as the engine receives it. */
export class HostError extends Error {
  constructor(
    readonly code: grpc.status,
    readonly details: string,
  ) {
    super(`gRPC ${grpc.status[code]}: ${details}`);
  }
}

export class DynamicProviderHost {
  private constructor(
    private readonly child: ChildProcess,
    private readonly client: ResourceProviderClient,
    /** What the host wrote to stderr: it logs a failed diff or delete with the error's stack. */
    readonly stderr: string[],
  ) {}

  static async start(): Promise<DynamicProviderHost> {
    const script = join(dirname(require.resolve("@pulumi/pulumi/package.json")), "pulumi-resource-pulumi-nodejs");
    // Its own process group: the script starts the host as a child of its shell, and stop ends both.
    const child = spawn("sh", [script, "127.0.0.1:1"], {
      cwd: PROJECT,
      stdio: ["ignore", "pipe", "pipe"],
      detached: true,
      env: MUTATION_RUN
        ? { ...process.env, NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ""} ${STRYKER_NAMESPACE}` }
        : process.env,
    });
    const stderr: string[] = [];
    child.stderr?.on("data", (chunk: Buffer) => stderr.push(chunk.toString()));
    const [first] = (await Promise.race([
      once(child.stdout!, "data"),
      once(child, "exit").then(([code]) => {
        throw new Error(`the dynamic provider host exited (${code}): ${stderr.join("")}`);
      }),
    ])) as [Buffer];
    const port = Number(first.toString().trim());
    const client = new ResourceProviderClient(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
    return new DynamicProviderHost(child, client, stderr);
  }

  stop(): void {
    this.client.close();
    if (this.child.pid !== undefined && this.child.exitCode === null) {
      process.kill(-this.child.pid);
    }
  }

  /** One call; a failure rejects with what the engine would receive. */
  private call<Response>(
    send: (callback: (error: grpc.ServiceError | null, response: Response) => void) => unknown,
  ): Promise<Response> {
    return new Promise((resolve, reject) =>
      send((error, response) => (error ? reject(new HostError(error.code, error.details)) : resolve(response))),
    );
  }

  /** `Check`: the inputs the engine goes on with (the host passes them through, with `__provider`). */
  async check(olds: Properties, news: Properties): Promise<Properties> {
    const request = new CheckRequest().setUrn(URN).setOlds(struct(olds)).setNews(struct(news));
    const response = await this.call<CheckResponse>((done) => this.client.check(request, done));
    return response.getInputs()?.toJavaScript() ?? {};
  }

  async create(properties: Properties): Promise<{ id: string; properties: Properties }> {
    const request = new CreateRequest().setUrn(URN).setProperties(struct(properties));
    const response = await this.call<CreateResponse>((done) => this.client.create(request, done));
    return { id: response.getId(), properties: response.getProperties()?.toJavaScript() ?? {} };
  }

  async diff(id: string, olds: Properties, news: Properties): Promise<{ changes: string; replaces: string[] }> {
    const request = new DiffRequest().setId(id).setUrn(URN).setOlds(struct(olds)).setNews(struct(news));
    const response = await this.call<DiffResponse>((done) => this.client.diff(request, done));
    const changes: Partial<Record<number, string>> = {
      [DiffResponse.DiffChanges.DIFF_NONE]: "none",
      [DiffResponse.DiffChanges.DIFF_SOME]: "some",
    };
    return { changes: changes[response.getChanges()] ?? "unknown", replaces: response.getReplacesList() };
  }

  async update(id: string, olds: Properties, news: Properties): Promise<Properties> {
    const request = new UpdateRequest().setId(id).setUrn(URN).setOlds(struct(olds)).setNews(struct(news));
    const response = await this.call<UpdateResponse>((done) => this.client.update(request, done));
    return response.getProperties()?.toJavaScript() ?? {};
  }

  async delete(id: string, properties: Properties): Promise<void> {
    const request = new DeleteRequest().setId(id).setUrn(URN).setProperties(struct(properties));
    await this.call<Empty>((done) => this.client.delete(request, done));
  }
}
