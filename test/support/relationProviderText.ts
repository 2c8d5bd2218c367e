// Prints the `__provider` text a relation resource registers: the Relations component builds one
// relation under Pulumi's mock runtime, and pulumi.dynamic.Resource serializes its provider with
// Pulumi's closure serializer (@pulumi/pulumi 3.248.0 dynamic/index.js `serializeProvider`,
// `serializeFunctionMaybeSecret`), as it does on `pulumi up`. Run by test/support/dynamicProviderHost.ts
// in its own process under ts-node, as `pulumi up` compiles the program (see there).
import * as pulumi from "@pulumi/pulumi";
import { Relations } from "../../components/relations";
import type { RelationSpec } from "../../lib/relations/reconcile";

// Registration is asynchronous and holds no timer of its own: this one keeps the process alive
// until the relation registers, and fails it if it never does (the runtime's error is on stderr).
const deadline = setTimeout(() => {
  throw new Error("the relation never registered a __provider");
}, 60000);

pulumi.runtime.setMocks(
  {
    newResource: (args) => {
      if (typeof args.inputs.__provider === "string") {
        clearTimeout(deadline);
        process.stdout.write(args.inputs.__provider);
      }
      return { id: `${args.name}-id`, state: args.inputs };
    },
    call: () => ({}),
  },
  "charmarr",
  "downloads",
  false,
);

new Relations("relations", {
  planned: [
    {
      name: "qbittorrent-categories",
      reach: { namespace: "charmarr-downloads", pod: "qbittorrent-0", port: 8080 },
      spec: { kind: "qbittorrentCategories", target: { username: "", password: "" }, categories: [] },
    },
  ],
  specs: pulumi.output({} as Record<string, RelationSpec>),
  retry: { attempts: 1, intervalMs: 0 },
  connection: {},
  apps: {},
});
