/** VPN service providers this program knows gluetun's requirements for (see FACTS §1). */
export const VPN_PROVIDERS = [
    "mullvad",
    "protonvpn",
    "nordvpn",
    "surfshark",
    "ivpn",
    "windscribe",
    "airvpn",
    "private internet access",
    "custom",
] as const;
export type VpnProviderName = (typeof VPN_PROVIDERS)[number];

export const VPN_TYPES = ["wireguard", "openvpn"] as const;
export type VpnType = (typeof VPN_TYPES)[number];
