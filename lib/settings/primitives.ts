/**
 * zod building blocks every domain's settings use: Kubernetes names, addresses, numbers, pinned
 * images. Nothing here knows about a domain; domains add their own rules on top.
 */
import { isIP } from "node:net";
import { z } from "zod";
import { canonicalCidr, isCanonicalCidr, parseCidr, parseIpv4 } from "../net";
import type { IssueParams } from "./problems";

export const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
export const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/** Namespaces that belong to Kubernetes itself. */
export const KUBERNETES_NAMESPACES: Readonly<Record<string, string>> = {
  default: "Kubernetes' default namespace",
  "kube-system": "Kubernetes' own components",
  "kube-public": "Kubernetes' public cluster information",
  "kube-node-lease": "Kubernetes' node heartbeats",
};

/**
 * A namespace Charmarr creates and owns: a valid name, and none that belongs to Kubernetes or to
 * an owner in `reserved` (name → who owns it). Enrolling kube-system in the mesh, or creating an
 * add-on's namespace twice, breaks the cluster. `suggestion` is the default offered as the fix.
 */
export function namespaceName(suggestion: string, reserved: Readonly<Record<string, string>> = {}) {
  const owners: Readonly<Record<string, string>> = { ...KUBERNETES_NAMESPACES, ...reserved };
  return z
    .string()
    .max(63, { message: "is longer than 63 characters, the limit for a Kubernetes namespace name" })
    .regex(DNS_LABEL, {
      message:
        "is not a valid Kubernetes namespace name (lower-case letters, digits and '-', starting and ending with a letter or digit)",
    })
    .superRefine((name, ctx) => {
      const owner = owners[name];
      if (owner !== undefined) {
        ctx.addIssue({
          code: "custom",
          message: `"${name}" is reserved for ${owner}; Charmarr needs a namespace of its own`,
          params: { suggest: suggestion } satisfies IssueParams,
        });
      }
    });
}

export const ipv4Cidr = z.string().superRefine((value, ctx) => {
  if (parseCidr(value) === undefined) {
    ctx.addIssue({ code: "custom", message: `"${value}" is not an IPv4 CIDR block (a.b.c.d/n with n from 0 to 32)` });
  } else if (!isCanonicalCidr(value)) {
    const network = canonicalCidr(value) as string;
    ctx.addIssue({
      code: "custom",
      message: `"${value}" has host bits set; the block it names is ${network}`,
      params: { suggest: network } satisfies IssueParams,
    });
  }
});

export const ipv4Address = z.string().refine((value) => parseIpv4(value) !== undefined, {
  error: (issue) => `"${String(issue.input)}" is not an IPv4 address (a.b.c.d)`,
});

/** An interface address with prefix as VPN providers hand them out: `10.64.0.2/32`, `fc00::2/128`. */
export const interfaceAddress = z.string().refine(
  (value) => {
    const [address, prefix, ...rest] = value.split("/");
    const family = isIP(address ?? "");
    const bits = family === 4 ? 32 : 128;
    return rest.length === 0 && family !== 0 && /^\d{1,3}$/.test(prefix ?? "") && Number(prefix) <= bits;
  },
  { error: (issue) => `"${String(issue.input)}" is not an interface address with prefix length (e.g. 10.64.0.2/32)` },
);

/** Accepts numbers and all-digit strings, since YAML users quote numbers as often as not. */
export function integer(min: number, max: number) {
  return z
    .union([z.number(), z.string().regex(/^\d+$/).transform(Number)], {
      error: (issue) => `"${String(issue.input)}" is not a whole number`,
    })
    .pipe(
      z
        .number()
        .int({ message: "must be a whole number" })
        .min(min, { message: `must be at least ${min}` })
        .max(max, { message: `must be at most ${max}` }),
    );
}

export const port = integer(1, 65535);

/** A Kubernetes resource quantity such as `100m`, `512Mi` or `2Gi`. */
export const quantity = z
  .string()
  .regex(/^\d+(\.\d+)?(m|k|M|G|T|Ki|Mi|Gi|Ti)?$/, { message: "is not a Kubernetes quantity (e.g. 100m, 512Mi, 2Gi)" });

/** An image reference pinned to a version tag or a digest; `latest` and untagged are refused. */
export const pinnedImage = z.string().superRefine((value, ctx) => {
  const [reference, digest, ...rest] = value.split("@");
  const lastSegment = reference.slice(reference.lastIndexOf("/") + 1);
  const tag = lastSegment.includes(":") ? lastSegment.slice(lastSegment.indexOf(":") + 1) : undefined;
  if (
    rest.length > 0 ||
    !/^[a-z0-9]+([._/:-][a-z0-9]+)*$/.test(reference.replace(/:[^/]*$/, "")) ||
    (digest !== undefined && !/^sha256:[a-f0-9]{64}$/.test(digest))
  ) {
    ctx.addIssue({ code: "custom", message: `"${value}" is not an image reference (registry/repository:tag)` });
  } else if (digest === undefined && (tag === undefined || tag === "" || tag === "latest")) {
    ctx.addIssue({
      code: "custom",
      message: `"${value}" is not pinned to a version; use a version tag such as ${reference.replace(/:[^/]*$/, "")}:<version>, never latest, so an upgrade is always a config change`,
    });
  }
});
