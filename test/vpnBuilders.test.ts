import { strict as assert } from "node:assert";
import type { ClusterFacts } from "../lib/cluster/settings";
import { TEST_CLUSTER } from "./support/clusterFacts";
import { vpnSchema } from "../lib/vpn/settings";
import { clientSettings } from "../lib/vpn/client";
import { gatewaySettings, gluetunEnvironment } from "../lib/vpn/gateway";
import { gluetunPostRules } from "../lib/vpn/guard";
import { VpnCredentialName, providerEnvironment, vpnServerPort } from "../lib/vpn/providers";

// The pure builders, without Pulumi: typed settings in, Kubernetes-facing values out.

const CLUSTER: ClusterFacts = TEST_CLUSTER;
const WITH_LAN: ClusterFacts = { ...CLUSTER, lanCidr: "192.168.50.0/24" };

function vpn(settings: Record<string, unknown>) {
  return vpnSchema.parse(settings);
}

describe("vpn builders", () => {
  it("the VPN server port follows gluetun's defaults and vpn.endpointPort", () => {
    assert.equal(vpnServerPort(vpn({ provider: "mullvad" })), 51820);
    assert.equal(vpnServerPort(vpn({ provider: "mullvad", endpointPort: 443 })), 443);
    assert.equal(vpnServerPort(vpn({ provider: "ivpn" })), 58237);
    assert.equal(vpnServerPort(vpn({ provider: "airvpn" })), 1637);
    assert.equal(vpnServerPort(vpn({ provider: "custom", endpointPort: 51999 })), 51999);
    assert.equal(vpnServerPort(vpn({ provider: "private internet access", type: "openvpn" })), 1197);
    assert.equal(vpnServerPort(vpn({ provider: "nordvpn", type: "openvpn" })), 1194);
    assert.throws(() => vpnServerPort(vpn({ provider: "private internet access" })), /unsupported/);
  });

  it("custom WireGuard: server key and endpoint as literals, credentials only as Secret keys", () => {
    const settings = vpn({
      provider: "custom",
      addresses: ["10.8.0.2/32"],
      publicKey: "xScVkH3fUGUv4RrJFfmcqm8rs3SEHr41km6+yffAHw4=",
      endpointIp: "203.0.113.10",
      endpointPort: 51820,
    });
    const env = providerEnvironment(settings, new Set<VpnCredentialName>(["privateKey", "presharedKey"]));
    assert.deepEqual(env, {
      VPN_SERVICE_PROVIDER: { value: "custom" },
      VPN_TYPE: { value: "wireguard" },
      VPN_INTERFACE: { value: "wg0" },
      WIREGUARD_PRIVATE_KEY: { secretKey: "wireguard-private-key" },
      WIREGUARD_ADDRESSES: { value: "10.8.0.2/32" },
      WIREGUARD_PRESHARED_KEY: { secretKey: "wireguard-preshared-key" },
      WIREGUARD_PUBLIC_KEY: { value: "xScVkH3fUGUv4RrJFfmcqm8rs3SEHr41km6+yffAHw4=" },
      WIREGUARD_ENDPOINT_IP: { value: "203.0.113.10" },
      WIREGUARD_ENDPOINT_PORT: { value: "51820" },
    });
  });

  it("server selection lists are comma-joined; an absent optional credential is not referenced", () => {
    const env = providerEnvironment(
      vpn({ provider: "nordvpn", serverCountries: ["Netherlands", "Sweden"], serverCities: ["Amsterdam"] }),
      new Set<VpnCredentialName>(["privateKey"]),
    );
    assert.deepEqual(env.SERVER_COUNTRIES, { value: "Netherlands,Sweden" });
    assert.deepEqual(env.SERVER_CITIES, { value: "Amsterdam" });
    assert.equal(env.WIREGUARD_PRESHARED_KEY, undefined);
    assert.deepEqual(env.WIREGUARD_ADDRESSES, { value: "10.5.0.2/32" });
    assert.equal(env.SERVER_REGIONS, undefined);
  });

  it("vpn.serverRegions becomes SERVER_REGIONS, for providers that select by region", () => {
    const pia = providerEnvironment(
      vpn({ provider: "private internet access", type: "openvpn", serverRegions: ["DE Frankfurt", "Netherlands"] }),
      new Set<VpnCredentialName>(["user", "password"]),
    );
    assert.deepEqual(pia.SERVER_REGIONS, { value: "DE Frankfurt,Netherlands" });
    const surfshark = providerEnvironment(
      vpn({ provider: "surfshark", addresses: ["10.14.0.2/16"], serverRegions: ["Europe"] }),
      new Set<VpnCredentialName>(["privateKey"]),
    );
    assert.deepEqual(surfshark.SERVER_REGIONS, { value: "Europe" });
  });

  it("gluetun's firewall subnets are comma-separated without spaces; the control-server role comes from a Secret", () => {
    const env = gluetunEnvironment(
      vpn({ provider: "protonvpn" }),
      WITH_LAN,
      new Set<VpnCredentialName>(["privateKey"]),
      { credentialsSecret: "c", controlServerSecret: "k" },
    );
    const byName = Object.fromEntries(env.map((e) => [e.name, e]));
    assert.equal(byName.FIREWALL_OUTBOUND_SUBNETS.value, "10.244.0.0/16,10.96.0.0/12,192.168.50.0/24");
    assert.deepEqual(byName.HTTP_CONTROL_SERVER_AUTH_DEFAULT_ROLE.valueFrom, {
      secretKeyRef: { name: "k", key: "auth-default-role" },
    });
    assert.deepEqual(byName.WIREGUARD_PRIVATE_KEY.valueFrom, {
      secretKeyRef: { name: "c", key: "wireguard-private-key" },
    });
    assert.ok(env.every((e) => e.value === undefined || !e.value.includes(" ")));
  });

  it("both settings files use the cluster's own facts, space-separated", () => {
    const settings = vpn({ provider: "mullvad", vxlanId: 99, vxlanNetwork: "172.31.9" });
    assert.deepEqual(clientSettings(settings, CLUSTER), {
      K8S_DNS_IPS: "10.96.0.10",
      NOT_ROUTED_TO_GATEWAY_CIDRS: "10.244.0.0/16 10.96.0.0/12 169.254.7.127/32",
      VXLAN_ID: 99,
      VXLAN_PORT: 4789,
      VXLAN_IP_NETWORK: "172.31.9",
      VPN_INTERFACE_MTU: 1370,
    });
    const gateway = gatewaySettings(settings, CLUSTER);
    assert.equal(gateway.VPN_LOCAL_CIDRS, "10.244.0.0/16 10.96.0.0/12");
    assert.equal(gateway.DNS_LOCAL_CIDRS, "home.arpa");
    assert.equal(gateway.DNS_LOCAL_SERVER, "10.96.0.10");
    assert.equal(gateway.VXLAN_ID, 99);
  });

  it("post-rules accept the pod network on eth0 (client pings), never the LAN", () => {
    const inputFrom = (cluster: ClusterFacts) =>
      gluetunPostRules(vpn({ provider: "mullvad" }), cluster)
        .split("\n")
        .filter((line) => line.includes("-i eth0 -s "));
    assert.deepEqual(inputFrom(CLUSTER), ["iptables -I INPUT -i eth0 -s 10.244.0.0/16 -j ACCEPT"]);
    assert.deepEqual(inputFrom(WITH_LAN), ["iptables -I INPUT -i eth0 -s 10.244.0.0/16 -j ACCEPT"]);
  });
});
