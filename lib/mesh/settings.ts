import { z } from "zod";

/** Istio's default trust domain, and the one an Istio installed by this stack uses unless told otherwise. */
export const DEFAULT_TRUST_DOMAIN = "cluster.local";

/**
 * The mesh's SPIFFE trust domain: every principal is `<trust domain>/ns/<ns>/sa/<sa>`, so it must be
 * the one the running Istio issues certificates for (its mesh config `trustDomain`). The SPIFFE ID
 * standard allows lower-case letters, digits, dots, dashes and underscores.
 */
export const trustDomainSchema = z
  .string()
  .regex(/^[a-z0-9_-]+(\.[a-z0-9_-]+)*$/, {
    message: "is not a trust domain (lower-case letters, digits, '.', '-' and '_', e.g. cluster.local)",
  })
  .default(DEFAULT_TRUST_DOMAIN);
