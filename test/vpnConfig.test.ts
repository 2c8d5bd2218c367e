/**
 * Settings the VPN domain owns and refuses before anything is created: the overlay network's form
 * (lib/vpn/settings.ts) and which stack runs a routable app (lib/vpn/routing.ts). Each refusal as the
 * user sees it, and its fix run as written.
 */
import { strict as assert } from "node:assert";
import { DOWNLOADS_EXAMPLE, withConfig } from "./support/plan";
import { configCommandsIn, problemsOf, runConfigCommand } from "./support/configCommands";

describe("config: charmarr:vpn.vxlanNetwork, the overlay's first three octets", () => {
  for (const network of ["172.16.0", "172.16.10", "10.255.200"]) {
    it(`accepts ${network}`, () => {
      assert.deepEqual(
        problemsOf("downloads", withConfig(DOWNLOADS_EXAMPLE, { "charmarr:vpn.vxlanNetwork": network })),
        [],
      );
    });
  }

  for (const network of ["172.16.0.0/24", "172.16.0.0", "172.16", "172.300.0", "172.016.0", "172.16.x", " 172.16.0"]) {
    it(`refuses ${JSON.stringify(network)}, saying what it wants`, () => {
      const problems = problemsOf("downloads", withConfig(DOWNLOADS_EXAMPLE, { "charmarr:vpn.vxlanNetwork": network }));
      assert.deepEqual(
        problems.map(({ key, problem }) => ({ key, problem })),
        [
          {
            key: "charmarr:vpn.vxlanNetwork",
            problem: `${JSON.stringify(network)} is not the first three octets of an IPv4 /24 (e.g. 172.16.0)`,
          },
        ],
      );
    });
  }
});

describe("config: a core app's settings on the downloads stack, which runs it only when it routes its group", () => {
  for (const [app, changes] of [
    ["prowlarr", { "charmarr:apps.prowlarr.tag": "2.3.5.5327-ls148" }],
    ["flaresolverr", { "charmarr:apps.flaresolverr.enabled": false }],
  ] as const) {
    it(`refuses charmarr:apps.${app} while charmarr:indexers.routeThroughVpn is off; either way out clears it`, () => {
      const config = withConfig(DOWNLOADS_EXAMPLE, changes);
      const problems = problemsOf("downloads", config);
      assert.equal(problems.length, 1, JSON.stringify(problems));
      const [{ key, problem, fix }] = problems;
      assert.equal(key, `charmarr:apps.${app}`);
      assert.equal(
        problem,
        `${app} runs in the core stack unless charmarr:indexers.routeThroughVpn is true, so this stack would ignore its settings`,
      );
      const commands = configCommandsIn(fix);
      assert.deepEqual(commands, [
        "pulumi config set --path charmarr:indexers.routeThroughVpn true",
        `pulumi config rm --path charmarr:apps.${app}`,
      ]);
      for (const command of commands) {
        assert.deepEqual(problemsOf("downloads", runConfigCommand(config, command)), [], command);
      }
    });
  }
});
